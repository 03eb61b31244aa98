//! A small helper for the engine's std mutexes.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks a std mutex, recovering from poisoning (a panicked holder leaves
/// plain data that is still usable).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
