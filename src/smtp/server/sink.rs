//! The in-memory sink: keeps every accepted message (for tests and the benchmark), with no
//! Python involved per message.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{BoxFuture, Deliverer, Envelope, Reply, Session};

/// A message the sink received, with the session it came in on.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub session: Session,
    pub envelope: Envelope,
}

/// Keeps the newest `maxlen` messages (all when `None`) and counts every one.
#[derive(Default)]
pub struct Sink {
    messages: Mutex<VecDeque<StoredMessage>>,
    maxlen: Option<usize>,
    count: AtomicU64,
}

impl Sink {
    pub fn new(maxlen: Option<usize>) -> Self {
        Self {
            messages: Mutex::new(VecDeque::new()),
            maxlen,
            count: AtomicU64::new(0),
        }
    }

    /// Messages received so far, in order (the newest `maxlen`).
    pub fn messages(&self) -> Vec<StoredMessage> {
        match self.messages.lock() {
            Ok(m) => m.iter().cloned().collect(),
            Err(p) => p.into_inner().iter().cloned().collect(),
        }
    }

    /// How many messages were accepted, including any no longer kept.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    pub fn clear(&self) {
        match self.messages.lock() {
            Ok(mut m) => m.clear(),
            Err(p) => p.into_inner().clear(),
        }
    }

    pub fn maxlen(&self) -> Option<usize> {
        self.maxlen
    }

    fn push(&self, message: StoredMessage) {
        let mut guard = match self.messages.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if self.maxlen == Some(0) {
            // counted only
        } else {
            if let Some(max) = self.maxlen
                && guard.len() >= max
            {
                guard.pop_front();
            }
            guard.push_back(message);
        }
        self.count.fetch_add(1, Ordering::SeqCst);
    }
}

impl Deliverer for Sink {
    fn deliver<'a>(
        &'a self,
        session: &'a Session,
        envelope: &'a mut Envelope,
    ) -> BoxFuture<'a, Result<(), Reply>> {
        let message = StoredMessage {
            session: session.clone(),
            envelope: std::mem::take(envelope),
        };
        self.push(message);
        Box::pin(std::future::ready(Ok(())))
    }
}
