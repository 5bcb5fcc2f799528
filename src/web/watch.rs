//! The index's watcher thread: inotify on the store's root, each user's directory and each
//! `new/` and `cur/`, so deliveries, flag changes and deletions by other processes reach the
//! index (and the open pages) as they happen. Anything it cannot follow file by file (a new
//! user, a lost event queue) triggers a full scan.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};
use rustix::event::{PollFd, PollFlags, Timespec, poll};

use super::index::Index;
use crate::store::Subdir;

#[derive(Clone)]
enum Target {
    Root,
    User,
    Dir(String, Subdir),
}

struct Watcher {
    inotify: Inotify,
    targets: HashMap<WatchDescriptor, Target>,
    watched: HashMap<String, Vec<WatchDescriptor>>,
}

fn files() -> WatchMask {
    WatchMask::CREATE | WatchMask::MOVED_TO | WatchMask::MOVED_FROM | WatchMask::DELETE
}

fn dirs() -> WatchMask {
    WatchMask::CREATE | WatchMask::MOVED_TO | WatchMask::ONLYDIR
}

impl Watcher {
    fn add(&mut self, path: &std::path::Path, mask: WatchMask, target: Target) -> bool {
        match self.inotify.watches().add(path, mask) {
            Ok(wd) => {
                if let Target::Dir(user, _) = &target {
                    self.watched
                        .entry(user.clone())
                        .or_default()
                        .push(wd.clone());
                }
                self.targets.insert(wd, target);
                true
            }
            Err(_) => false,
        }
    }

    /// Watch `user`'s directory (for `new/` and `cur/` appearing) and both of those.
    fn watch_user(&mut self, index: &Index, user: &str) {
        if self.watched.get(user).is_some_and(|w| w.len() >= 2) {
            return;
        }
        let root = index.store().root().join(user);
        self.add(&root, dirs(), Target::User);
        for sub in [Subdir::New, Subdir::Cur] {
            self.add(
                &root.join(sub.as_str()),
                files(),
                Target::Dir(user.to_owned(), sub),
            );
        }
    }
}

/// Start watching; the thread stops when `stop` is set (it looks every 200 ms).
pub fn spawn(index: Arc<Index>, stop: Arc<AtomicBool>) -> io::Result<JoinHandle<()>> {
    let inotify = Inotify::init()?;
    let mut watcher = Watcher {
        inotify,
        targets: HashMap::new(),
        watched: HashMap::new(),
    };
    let root = index.store().root().to_path_buf();
    watcher.add(&root, dirs(), Target::Root);
    std::thread::Builder::new()
        .name("mailprims-web-index".into())
        .spawn(move || run(index, watcher, stop))
}

/// How long a wait for events lasts before `stop` is looked at again.
const POLL_TIMEOUT: Timespec = Timespec {
    tv_sec: 0,
    tv_nsec: 200_000_000,
};

fn run(index: Arc<Index>, mut w: Watcher, stop: Arc<AtomicBool>) {
    // Watches go on before each user's scan, so nothing delivered meanwhile is missed.
    index.sync_all(&mut |user| w.watch_user(&index, user));
    index.set_ready();
    let mut buffer = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::Acquire) {
        let mut fds = [PollFd::new(&w.inotify, PollFlags::IN)];
        let ready = poll(&mut fds, Some(&POLL_TIMEOUT)).unwrap_or(0);
        if ready == 0 {
            continue;
        }
        let mut arrived = Vec::new();
        let mut left = Vec::new();
        let mut rescan = false;
        loop {
            let events = match w.inotify.read_events(&mut buffer) {
                Ok(events) => events,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    rescan = true;
                    break;
                }
            };
            let mut any = false;
            for event in events {
                any = true;
                if event.mask.contains(EventMask::Q_OVERFLOW) {
                    rescan = true;
                    continue;
                }
                if event.mask.contains(EventMask::IGNORED) {
                    if let Some(Target::Dir(user, _)) = w.targets.remove(&event.wd) {
                        w.watched.remove(&user);
                    }
                    rescan = true;
                    continue;
                }
                let Some(target) = w.targets.get(&event.wd).cloned() else {
                    continue;
                };
                let name = event.name.and_then(|n| n.to_str()).map(str::to_owned);
                match (target, name) {
                    (Target::Dir(user, sub), Some(name)) => {
                        if event
                            .mask
                            .intersects(EventMask::CREATE | EventMask::MOVED_TO)
                        {
                            arrived.push((user, sub, name));
                        } else {
                            left.push((user, sub, name));
                        }
                    }
                    // A user's directory appeared: watch it at once, so its new/ and
                    // cur/ are seen when they are made, then scan.
                    (Target::Root, Some(name)) => {
                        if crate::store::validate_name(&name).is_ok() {
                            w.watch_user(&index, &name);
                        }
                        rescan = true;
                    }
                    // A Maildir sub-directory appeared.
                    (Target::Root | Target::User, _) => rescan = true,
                    _ => {}
                }
            }
            if !any {
                break;
            }
        }
        // Arrivals first: a rename shows up as "left" then "arrived", and must not read as
        // a deletion.
        for (user, sub, name) in &arrived {
            index.file_arrived(user, *sub, name);
        }
        for (user, sub, name) in &left {
            index.file_left(user, *sub, name);
        }
        if rescan {
            index.sync_all(&mut |user| w.watch_user(&index, user));
        }
    }
}
