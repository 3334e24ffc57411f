// SPDX-License-Identifier: MPL-2.0

//! Locking, one way for every element.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `m`, using the data of a poisoned lock as is: a panic in a pad function is turned
/// into an element error by `catch_panic`, one in srenhance's trainer is caught at its
/// thread's boundary, and every update behind the elements' locks leaves the data consistent
/// enough to go on or shut down.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
