//! The servers' event log for Python (`on_event=`): events are queued without blocking the
//! session that reports them, and one task per server hands them to the Python callback in
//! order, in batches, on tokio's blocking pool through `runtime::attach` (so never while the
//! interpreter is exiting).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use tokio::sync::{Notify, mpsc};

use super::runtime::{attach, runtime};
use super::types;
use crate::net::events::{EventLog, ServerEvent};

/// Events waiting for Python at most; beyond that they are counted and dropped rather than
/// let a stuck callback grow memory without bound.
const QUEUE: usize = 4096;
/// Events handed to Python per call into the interpreter.
const BATCH: usize = 256;

#[derive(Default)]
struct Progress {
    queued: AtomicU64,
    handled: AtomicU64,
    dropped: AtomicU64,
    changed: Notify,
}

pub struct PyEventLog {
    tx: mpsc::Sender<ServerEvent>,
    progress: Arc<Progress>,
}

impl EventLog for PyEventLog {
    fn event(&self, event: ServerEvent) {
        match self.tx.try_send(event) {
            Ok(()) => {
                self.progress.queued.fetch_add(1, Ordering::SeqCst);
            }
            Err(_) => {
                self.progress.dropped.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

/// A `mailprims.ServerEvent`, built by field name.
fn server_event<'py>(py: Python<'py>, e: &ServerEvent) -> PyResult<Bound<'py, PyAny>> {
    types::SERVER_EVENT.call_kw(py, |kw| {
        kw.set_item("kind", e.kind.name())?;
        kw.set_item("peer", (e.peer.ip().to_string(), e.peer.port()))?;
        kw.set_item("user", e.user.as_deref())?;
        kw.set_item("id", e.id.as_deref())?;
        kw.set_item("sender", e.sender.as_deref())?;
        kw.set_item("recipients", PyTuple::new(py, &e.recipients)?)?;
        kw.set_item("size", e.size)?;
        kw.set_item("tls", e.tls)?;
        kw.set_item("mechanism", e.mechanism)
    })
}

impl PyEventLog {
    /// A log that calls `callback(event)` with each `ServerEvent`, in order.
    pub fn start(callback: Py<PyAny>) -> Arc<PyEventLog> {
        let (tx, mut rx) = mpsc::channel::<ServerEvent>(QUEUE);
        let progress = Arc::new(Progress::default());
        let log = Arc::new(PyEventLog {
            tx,
            progress: progress.clone(),
        });
        let callback = Arc::new(callback);
        runtime().spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                let events = std::mem::take(&mut batch);
                let n = events.len() as u64;
                let cb = callback.clone();
                let called = tokio::task::spawn_blocking(move || {
                    attach(|py| {
                        for e in &events {
                            // The Python side catches and logs what its callback raises; an
                            // error here is a conversion bug, reported as unraisable.
                            if let Err(err) = server_event(py, e).and_then(|ev| cb.call1(py, (ev,)))
                            {
                                err.write_unraisable(py, None);
                            }
                        }
                    })
                })
                .await;
                progress.handled.fetch_add(n, Ordering::SeqCst);
                progress.changed.notify_waiters();
                if !matches!(called, Ok(Some(()))) {
                    // The interpreter is exiting: no more calls into it.
                    break;
                }
            }
            progress.changed.notify_waiters();
            // The callback is released with the interpreter attached, when it still exists.
            if let Ok(cb) = Arc::try_unwrap(callback) {
                let _ = tokio::task::spawn_blocking(move || attach(move |_py| drop(cb))).await;
            }
        });
        log
    }

    /// Wait (at most `limit`) until every event queued so far has been handed to Python.
    pub async fn flush(&self, limit: Duration) {
        let target = self.progress.queued.load(Ordering::SeqCst);
        let wait = async {
            loop {
                let changed = self.progress.changed.notified();
                if self.progress.handled.load(Ordering::SeqCst) >= target {
                    return;
                }
                changed.await;
            }
        };
        let _ = tokio::time::timeout(limit, wait).await;
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.progress.dropped.load(Ordering::SeqCst)
    }
}
