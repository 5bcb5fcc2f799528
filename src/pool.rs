//! A few long-lived threads for CPU work that a caller splits up (`parse_many`).
//!
//! Threads started per call would be cheap enough to start, but every message they parse is
//! freed later by the caller's thread, and memory from a thread that has exited is the most
//! expensive kind to free (its allocator pages must be reclaimed). Threads that stay make
//! those frees ordinary cross-thread frees.
//!
//! Callers must not depend on a job starting: a job may wait behind another caller's, and
//! after `fork()` the child has no pool threads until [`spawn`] notices the new process and
//! starts fresh ones. `parse_many` therefore does whatever work no job has taken itself.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};

type Job = Box<dyn FnOnce() + Send + 'static>;

struct Pool {
    /// The process that started these threads (a forked child must start its own).
    pid: u32,
    threads: usize,
    jobs: Sender<Job>,
    queue: Arc<Mutex<Receiver<Job>>>,
}

/// Most threads ever kept, whatever a caller asks for.
const MAX_THREADS: usize = 64;

static POOL: Mutex<Option<Pool>> = Mutex::new(None);

/// Runs `job` on a pool thread, first growing the pool to `want` threads (at most
/// [`MAX_THREADS`]). Returns false if no thread could be started to run it; the job is then
/// dropped without running.
pub fn spawn(want: usize, job: impl FnOnce() + Send + 'static) -> bool {
    let mut guard = POOL.lock().unwrap_or_else(PoisonError::into_inner);
    let pid = std::process::id();
    if guard.as_ref().is_none_or(|p| p.pid != pid) {
        let (jobs, rx) = channel();
        *guard = Some(Pool {
            pid,
            threads: 0,
            jobs,
            queue: Arc::new(Mutex::new(rx)),
        });
    }
    let Some(pool) = guard.as_mut() else {
        return false;
    };
    while pool.threads < want.min(MAX_THREADS) {
        let queue = Arc::clone(&pool.queue);
        let started = std::thread::Builder::new()
            .name("mailprims-worker".into())
            .spawn(move || worker(&queue));
        if started.is_err() {
            break;
        }
        pool.threads += 1;
    }
    pool.threads > 0 && pool.jobs.send(Box::new(job)).is_ok()
}

fn worker(queue: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held only while waiting for the next job, not while running it.
        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match next {
            // A job that panics must not take the thread (and the jobs queued behind it)
            // with it; its caller sees the results it never sent.
            Ok(job) => {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn jobs_run_on_pool_threads() {
        let done = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = channel();
        for _ in 0..20 {
            let done = Arc::clone(&done);
            let tx = tx.clone();
            assert!(spawn(2, move || {
                done.fetch_add(1, Ordering::SeqCst);
                let name = std::thread::current().name().map(str::to_owned);
                let _ = tx.send(name);
            }));
        }
        for _ in 0..20 {
            let name = rx.recv_timeout(Duration::from_secs(10)).ok().flatten();
            assert_eq!(name.as_deref(), Some("mailprims-worker"));
        }
        assert_eq!(done.load(Ordering::SeqCst), 20);
    }
}
