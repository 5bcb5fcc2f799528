//! Mailbox commands: LIST (with LIST-STATUS and SPECIAL-USE), LSUB, NAMESPACE, CREATE,
//! DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS, SELECT, EXAMINE, CLOSE, UNSELECT.

use super::{Connection, SessionState};
use crate::imap::Error;
use crate::imap::command::{StatusItem, status_items};
use crate::imap::response::Untagged;
use crate::imap::types::{ListEntry, MailboxStatus, Namespaces, ResponseCode, Status, StatusItems};
use crate::imap::utf7::encode_mailbox;

impl Connection {
    /// The STATUS items asked for when the caller names none.
    fn default_status_items(&self) -> Vec<StatusItem> {
        let mut items = vec![
            StatusItem::Messages,
            StatusItem::UidNext,
            StatusItem::UidValidity,
            StatusItem::Unseen,
        ];
        if self.has("CONDSTORE") {
            items.push(StatusItem::HighestModSeq);
        }
        items
    }

    /// LIST `reference` `pattern` (`*` every level, `%` one level). Special-use attributes
    /// are asked for when the server has SPECIAL-USE and LIST-EXTENDED.
    pub async fn list(&mut self, reference: &str, pattern: &str) -> Result<Vec<ListEntry>, Error> {
        self.list_inner(reference, pattern, None).await
    }

    /// LIST with the STATUS of each mailbox: in one command with LIST-STATUS (RFC 5819),
    /// else a STATUS per selectable mailbox.
    pub async fn list_status(
        &mut self,
        reference: &str,
        pattern: &str,
        items: &[StatusItem],
    ) -> Result<Vec<ListEntry>, Error> {
        let items = if items.is_empty() {
            self.default_status_items()
        } else {
            items.to_vec()
        };
        self.capabilities().await?;
        if self.offers("LIST-STATUS") {
            return self.list_inner(reference, pattern, Some(&items)).await;
        }
        let mut entries = self.list_inner(reference, pattern, None).await?;
        for e in &mut entries {
            if e.is_selectable() {
                e.status = Some(self.status(&e.name.clone(), &items).await?);
            }
        }
        Ok(entries)
    }

    async fn list_inner(
        &mut self,
        reference: &str,
        pattern: &str,
        status: Option<&[StatusItem]>,
    ) -> Result<Vec<ListEntry>, Error> {
        self.capabilities().await?;
        let mut b = self.builder("LIST");
        let reference = encode_mailbox(reference, self.utf8_enabled());
        b.sp().astring(&reference)?.sp().list_pattern(pattern)?;
        let extended = self.offers("LIST-EXTENDED");
        let special = extended && self.offers("SPECIAL-USE");
        if special || status.is_some() {
            b.keyword(" RETURN (");
            if special {
                b.keyword("SPECIAL-USE");
            }
            if let Some(items) = status {
                if special {
                    b.sp();
                }
                b.keyword("STATUS ");
                status_items(&mut b, items);
            }
            b.keyword(")");
        }
        let done = self.execute(b.build()).await?;
        let mut entries: Vec<ListEntry> = Vec::new();
        let mut statuses = Vec::new();
        let mut rest = Vec::new();
        for u in done.untagged {
            match u {
                Untagged::List(e) => entries.push(e),
                Untagged::MailboxStatus(s) => statuses.push(s),
                u => rest.push(u),
            }
        }
        self.keep_events(rest);
        for s in statuses {
            if let Some(e) = entries.iter_mut().find(|e| e.name == s.mailbox) {
                e.status = Some(s);
            }
        }
        Ok(entries)
    }

    /// The subscribed mailboxes: LSUB, or `LIST (SUBSCRIBED)` when IMAP4rev2 is enabled
    /// (it has no LSUB).
    pub async fn lsub(&mut self, reference: &str, pattern: &str) -> Result<Vec<ListEntry>, Error> {
        let rev2 = self.rev2();
        let mut b = self.builder(if rev2 { "LIST" } else { "LSUB" });
        if rev2 {
            b.keyword(" (SUBSCRIBED)");
        }
        let reference = encode_mailbox(reference, self.utf8_enabled());
        b.sp().astring(&reference)?.sp().list_pattern(pattern)?;
        let done = self.execute(b.build()).await?;
        let mut entries = Vec::new();
        let mut rest = Vec::new();
        for u in done.untagged {
            match u {
                Untagged::Lsub(e) => entries.push(e),
                Untagged::List(e) if rev2 => entries.push(e),
                u => rest.push(u),
            }
        }
        self.keep_events(rest);
        Ok(entries)
    }

    /// NAMESPACE (RFC 2342).
    pub async fn namespace(&mut self) -> Result<Namespaces, Error> {
        let done = self.execute(self.builder("NAMESPACE").build()).await?;
        let mut found = None;
        let mut rest = Vec::new();
        for u in done.untagged {
            match u {
                Untagged::Namespace(n) => found = Some(n),
                u => rest.push(u),
            }
        }
        self.keep_events(rest);
        found.ok_or_else(|| Error::Protocol("NAMESPACE without a NAMESPACE response".into()))
    }

    async fn simple_mailbox_command(&mut self, name: &str, mailbox: &str) -> Result<(), Error> {
        let mut b = self.builder(name);
        b.sp().mailbox(mailbox)?;
        let done = self.execute(b.build()).await?;
        self.keep_events(done.untagged);
        Ok(())
    }

    pub async fn create(&mut self, mailbox: &str) -> Result<(), Error> {
        self.simple_mailbox_command("CREATE", mailbox).await
    }

    pub async fn delete(&mut self, mailbox: &str) -> Result<(), Error> {
        self.simple_mailbox_command("DELETE", mailbox).await
    }

    pub async fn rename(&mut self, from: &str, to: &str) -> Result<(), Error> {
        let mut b = self.builder("RENAME");
        b.sp().mailbox(from)?.sp().mailbox(to)?;
        let done = self.execute(b.build()).await?;
        self.keep_events(done.untagged);
        Ok(())
    }

    pub async fn subscribe(&mut self, mailbox: &str) -> Result<(), Error> {
        self.simple_mailbox_command("SUBSCRIBE", mailbox).await
    }

    pub async fn unsubscribe(&mut self, mailbox: &str) -> Result<(), Error> {
        self.simple_mailbox_command("UNSUBSCRIBE", mailbox).await
    }

    /// STATUS of a mailbox (default items: MESSAGES UIDNEXT UIDVALIDITY UNSEEN, and
    /// HIGHESTMODSEQ with CONDSTORE).
    pub async fn status(
        &mut self,
        mailbox: &str,
        items: &[StatusItem],
    ) -> Result<StatusItems, Error> {
        self.capabilities().await?;
        let items = if items.is_empty() {
            self.default_status_items()
        } else {
            items.to_vec()
        };
        let mut b = self.builder("STATUS");
        b.sp().mailbox(mailbox)?.sp();
        status_items(&mut b, &items);
        let done = self.execute(b.build()).await?;
        let mut found = None;
        let mut rest = Vec::new();
        for u in done.untagged {
            match u {
                Untagged::MailboxStatus(s) if found.is_none() => found = Some(s),
                u => rest.push(u),
            }
        }
        self.keep_events(rest);
        let mut s =
            found.ok_or_else(|| Error::Protocol("STATUS without a STATUS response".into()))?;
        // The caller's spelling, not the server's encoding of it.
        s.mailbox = mailbox.to_owned();
        Ok(s)
    }

    /// SELECT: open a mailbox read-write.
    pub async fn select(&mut self, mailbox: &str) -> Result<MailboxStatus, Error> {
        self.open_mailbox(mailbox, false).await
    }

    /// EXAMINE: open a mailbox read-only.
    pub async fn examine(&mut self, mailbox: &str) -> Result<MailboxStatus, Error> {
        self.open_mailbox(mailbox, true).await
    }

    async fn open_mailbox(
        &mut self,
        mailbox: &str,
        read_only: bool,
    ) -> Result<MailboxStatus, Error> {
        self.capabilities().await?;
        let mut b = self.builder(if read_only { "EXAMINE" } else { "SELECT" });
        b.sp().mailbox(mailbox)?;
        if self.has("CONDSTORE")
            && !self.is_enabled("CONDSTORE")
            && self
                .config
                .enable
                .iter()
                .any(|e| e.eq_ignore_ascii_case("CONDSTORE"))
        {
            b.keyword(" (CONDSTORE)");
        }
        // RFC 9051 §6.3.2: a SELECT deselects the current mailbox, even if it fails.
        self.selected = None;
        if self.state == SessionState::Selected {
            self.state = SessionState::Authenticated;
        }
        let done = self.execute(b.build()).await?;
        let mut status = MailboxStatus {
            name: mailbox.to_owned(),
            read_only,
            ..MailboxStatus::default()
        };
        let mut rest = Vec::new();
        let mut codes = Vec::new();
        for u in done.untagged {
            match u {
                Untagged::Flags(f) => status.flags = f,
                Untagged::Exists(n) => status.exists = n,
                Untagged::Recent(n) => status.recent = Some(n),
                Untagged::Status(s) if s.status == Status::Ok => codes.extend(s.code),
                Untagged::List(_) => {}
                u => rest.push(u),
            }
        }
        codes.extend(done.status.code);
        for code in codes {
            match code {
                ResponseCode::UidValidity(n) => status.uid_validity = Some(n),
                ResponseCode::UidNext(n) => status.uid_next = Some(n),
                ResponseCode::Unseen(n) => status.unseen = Some(n),
                ResponseCode::PermanentFlags(f) => status.permanent_flags = f,
                ResponseCode::HighestModSeq(n) => status.highest_modseq = Some(n),
                ResponseCode::NoModSeq => status.no_modseq = true,
                ResponseCode::ReadOnly => status.read_only = true,
                ResponseCode::ReadWrite => status.read_only = false,
                _ => {}
            }
        }
        self.keep_events(rest);
        self.selected = Some(status.clone());
        self.state = SessionState::Selected;
        Ok(status)
    }

    fn deselect(&mut self) {
        self.selected = None;
        self.state = SessionState::Authenticated;
    }

    /// CLOSE: leave the mailbox, expunging messages marked `\Deleted` (unless read-only).
    pub async fn close(&mut self) -> Result<(), Error> {
        self.require_selected()?;
        let done = self.execute(self.builder("CLOSE").build()).await?;
        self.deselect();
        self.keep_events(done.untagged);
        Ok(())
    }

    /// UNSELECT (RFC 3691, IMAP4rev2): leave the mailbox without expunging.
    pub async fn unselect(&mut self) -> Result<(), Error> {
        self.require_selected()?;
        self.capabilities().await?;
        if !self.offers("UNSELECT") {
            return Err(Error::NotSupported(
                "the server does not offer UNSELECT".into(),
            ));
        }
        let done = self.execute(self.builder("UNSELECT").build()).await?;
        self.deselect();
        self.keep_events(done.untagged);
        Ok(())
    }
}
