//! IDLE (RFC 2177): wait for the server to report changes, renewing the command before the
//! server's 30-minute inactivity limit, and ending it cleanly with DONE.

use std::time::{Duration, Instant};

use super::{Connection, IdleState};
use crate::imap::Error;
use crate::imap::response::{Response, Untagged};
use crate::imap::sequence::SequenceSet;
use crate::imap::types::{FetchResult, Status};

/// A change the server reported without being asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdleEvent {
    /// The mailbox now has this many messages (a new one arrived).
    Exists(u32),
    /// The message with this sequence number was removed.
    Expunge(u32),
    /// This many messages are recent (IMAP4rev1).
    Recent(u32),
    /// A message's flags (or mod-sequence) changed.
    Fetch(Box<FetchResult>),
    /// These UIDs were removed (QRESYNC).
    Vanished { earlier: bool, uids: SequenceSet },
    /// The mailbox's defined flags changed.
    Flags(Vec<String>),
}

impl IdleEvent {
    pub(crate) fn from_untagged(u: Untagged) -> Option<IdleEvent> {
        Some(match u {
            Untagged::Exists(n) => IdleEvent::Exists(n),
            Untagged::Expunge(n) => IdleEvent::Expunge(n),
            Untagged::Recent(n) => IdleEvent::Recent(n),
            Untagged::Fetch(f) => IdleEvent::Fetch(f),
            Untagged::Vanished { earlier, uids } => IdleEvent::Vanished { earlier, uids },
            Untagged::Flags(f) => IdleEvent::Flags(f),
            _ => return None,
        })
    }
}

impl Connection {
    /// Whether IDLE is running.
    pub fn is_idle(&self) -> bool {
        self.idle.is_some()
    }

    /// Start IDLE: send it and wait for the server's `+`.
    pub async fn idle_start(&mut self) -> Result<(), Error> {
        self.capabilities().await?;
        if !self.offers("IDLE") {
            return Err(Error::NotSupported("the server does not offer IDLE".into()));
        }
        self.ready().await?;
        let tag = self.send(&self.builder("IDLE").build()).await?;
        self.idle = Some(IdleState {
            tag: tag.clone(),
            since: Instant::now(),
        });
        loop {
            match self.read_response(self.config.endpoint.io_timeout).await? {
                Response::Continuation(_) => return Ok(()),
                Response::Untagged(u) => self.keep_events(vec![u]),
                Response::Tagged { tag: t, status } if t == tag => {
                    self.idle = None;
                    self.outstanding.retain(|x| *x != t);
                    self.parse_error = None;
                    return Err(if status.status == Status::Ok {
                        Error::Protocol("IDLE completed before it started".into())
                    } else {
                        Error::Response(status)
                    });
                }
                Response::Tagged { tag: t, .. } => {
                    return Err(
                        self.fail_protocol(format!("completion for an unknown command {t:?}"))
                    );
                }
            }
        }
    }

    /// The next change: at once if one is queued (also from before IDLE), else when the
    /// server sends one, or `None` after `timeout`. IDLE is renewed (DONE, IDLE) when it has
    /// run for the configured renewal time. Keep-alive `* OK` lines are not events.
    pub async fn idle_wait(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Option<IdleEvent>, Error> {
        if let Some(e) = self.next_event() {
            return Ok(Some(e));
        }
        if self.idle.is_none() {
            return Err(Error::Usage("IDLE is not running".into()));
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let (tag, since) = match &self.idle {
                Some(i) => (i.tag.clone(), i.since),
                None => return Err(Error::Usage("IDLE is not running".into())),
            };
            let renew_at = since + self.config.idle_renewal;
            let now = Instant::now();
            if now >= renew_at {
                self.idle_renew().await?;
                continue;
            }
            let mut wait = renew_at - now;
            if let Some(d) = deadline {
                if now >= d {
                    return Ok(None);
                }
                wait = wait.min(d - now);
            }
            // Reading is cancel-safe: a frame half-read when the wait ends is kept.
            let Ok(response) = tokio::time::timeout(wait, self.read_response(None)).await else {
                continue;
            };
            match response? {
                Response::Untagged(u) => {
                    self.keep_events(vec![u]);
                    if let Some(e) = self.next_event() {
                        return Ok(Some(e));
                    }
                }
                Response::Tagged { tag: t, status } if t == tag => {
                    // The server ended IDLE by itself.
                    self.idle = None;
                    self.outstanding.retain(|x| *x != t);
                    self.parse_error = None;
                    if status.status != Status::Ok {
                        return Err(Error::Response(status));
                    }
                    self.idle_start().await?;
                }
                Response::Tagged { tag: t, .. } => {
                    return Err(
                        self.fail_protocol(format!("completion for an unknown command {t:?}"))
                    );
                }
                Response::Continuation(_) => {}
            }
        }
    }

    fn next_event(&mut self) -> Option<IdleEvent> {
        while let Some(u) = self.events.pop_front() {
            if let Some(e) = IdleEvent::from_untagged(u) {
                return Some(e);
            }
        }
        None
    }

    /// DONE and wait for IDLE's completion; events that came meanwhile are kept.
    async fn finish_idle(&mut self) -> Result<(), Error> {
        let Some(idle) = self.idle.take() else {
            return Ok(());
        };
        self.send_done().await?;
        loop {
            match self.read_response(self.config.endpoint.io_timeout).await? {
                Response::Untagged(u) => self.keep_events(vec![u]),
                Response::Tagged { tag, status } if tag == idle.tag => {
                    self.outstanding.retain(|x| *x != tag);
                    self.parse_error = None;
                    if status.status != Status::Ok {
                        return Err(Error::Response(status));
                    }
                    return Ok(());
                }
                Response::Tagged { tag, .. } => {
                    return Err(
                        self.fail_protocol(format!("completion for an unknown command {tag:?}"))
                    );
                }
                Response::Continuation(_) => {}
            }
        }
    }

    async fn idle_renew(&mut self) -> Result<(), Error> {
        self.finish_idle().await?;
        self.idle_start().await
    }

    /// End IDLE with DONE: the events not yet taken.
    pub async fn idle_done(&mut self) -> Result<Vec<IdleEvent>, Error> {
        self.finish_idle().await?;
        Ok(self.take_events())
    }
}
