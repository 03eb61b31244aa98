//! The bounded buffer between a chat socket and its consumer.
//!
//! Policy: **drop-oldest**. A chat socket must be read continuously (a
//! stalled reader misses heartbeats and the platform disconnects it), so
//! backpressure onto the socket would lose more than it saves. When the
//! consumer falls behind by `capacity` events, the oldest is discarded and
//! counted in [`ChatStats::dropped`](crate::ChatStats).
//!
//! tokio's channels either block the sender (mpsc) or drop for every
//! receiver with a lag error (broadcast); neither is "drop the oldest for
//! one consumer and keep going", hence this small queue.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::Notify;

#[derive(Debug)]
pub(crate) struct DropOldest<T> {
    queue: Mutex<VecDeque<T>>,
    capacity: usize,
    notify: Notify,
    closed: AtomicBool,
    pub(crate) dropped: AtomicU64,
}

impl<T> DropOldest<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            queue: Mutex::new(VecDeque::with_capacity(capacity.min(1024))),
            capacity: capacity.max(1),
            notify: Notify::new(),
            closed: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<T>> {
        // A poisoned lock only means another thread panicked mid-push; the
        // queue itself is still a valid VecDeque.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Pushes one item; returns whether an old one was dropped for it.
    pub(crate) fn push(&self, item: T) -> bool {
        let dropped = {
            let mut q = self.lock();
            let dropped = if q.len() >= self.capacity {
                q.pop_front();
                true
            } else {
                false
            };
            q.push_back(item);
            dropped
        };
        if dropped {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        self.notify.notify_one();
        dropped
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    pub(crate) fn try_pop(&self) -> Option<T> {
        self.lock().pop_front()
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Waits for the next item; `None` once closed and drained.
    pub(crate) async fn pop(&self) -> Option<T> {
        loop {
            let notified = self.notify.notified();
            if let Some(item) = self.try_pop() {
                return Some(item);
            }
            if self.closed.load(Ordering::Acquire) {
                return self.try_pop();
            }
            notified.await;
        }
    }
}
