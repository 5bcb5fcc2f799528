//! Graceful shutdown for servers: a signal every connection task watches, and a count of tasks
//! still running so `stop()` can wait for transactions in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Notify, watch};

/// The owner side: trigger once, then wait for tasks to finish.
#[derive(Clone)]
pub struct Shutdown {
    tx: Arc<watch::Sender<bool>>,
    active: Arc<AtomicUsize>,
    idle: Arc<Notify>,
}

/// What each task holds: it can ask whether shutdown started and await it.
#[derive(Clone)]
pub struct ShutdownSignal {
    rx: watch::Receiver<bool>,
}

/// Held by a running task; the count drops when it is dropped.
pub struct TaskGuard {
    active: Arc<AtomicUsize>,
    idle: Arc<Notify>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Self {
        let (tx, _rx) = watch::channel(false);
        Self {
            tx: Arc::new(tx),
            active: Arc::new(AtomicUsize::new(0)),
            idle: Arc::new(Notify::new()),
        }
    }

    pub fn signal(&self) -> ShutdownSignal {
        ShutdownSignal {
            rx: self.tx.subscribe(),
        }
    }

    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.tx.borrow()
    }

    /// Register a running task.
    pub fn task(&self) -> TaskGuard {
        self.active.fetch_add(1, Ordering::SeqCst);
        TaskGuard {
            active: self.active.clone(),
            idle: self.idle.clone(),
        }
    }

    pub fn active_tasks(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// Wait until no task is running.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.active.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl ShutdownSignal {
    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once shutdown has been triggered (immediately if it already was).
    pub async fn wait(&mut self) {
        // An error means the owner is gone, which is a shutdown too.
        let _ = self.rx.wait_for(|&v| v).await;
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.active.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn waits_for_tasks() {
        let shutdown = Shutdown::new();
        let mut signal = shutdown.signal();
        let guard = shutdown.task();
        let s2 = shutdown.clone();
        let waiter = tokio::spawn(async move { s2.wait_idle().await });
        shutdown.trigger();
        signal.wait().await;
        assert!(signal.is_triggered());
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!waiter.is_finished());
        drop(guard);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(shutdown.active_tasks(), 0);
    }
}
