//! [`lock`]: a mutex that a panic elsewhere did not poison for good. Every part of the budget
//! takes its locks through it, so it sits below them all.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, taking it back from a panic that poisoned it: the state it guards is a budget's
/// counters and schedules, which stay usable, and a client must not fail every later request
/// because one task panicked.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
