//! Real implementations of the seams over the onelive crates.
