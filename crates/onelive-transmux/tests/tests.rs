//! Integration tests of the transmuxer.
mod transmux;
