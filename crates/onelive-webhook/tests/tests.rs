//! Integration tests of onelive-webhook (one test binary; see the modules).

mod verify;

#[cfg(feature = "sender")]
mod crash;
#[cfg(feature = "sender")]
mod delivery;
#[cfg(feature = "sender")]
mod ssrf;
#[cfg(feature = "sender")]
mod support;
