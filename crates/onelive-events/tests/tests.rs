//! Integration tests of `onelive-events` (one test binary).

mod rejections;
mod roundtrip;
mod samples;
mod schema;
mod seed;
mod snapshots;
