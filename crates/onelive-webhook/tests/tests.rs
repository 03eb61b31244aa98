//! Integration tests of onelive-webhook (one test binary; see the modules).

mod verify;
