//! Small fixed pools of threads for the servers' blocking work, so that load from clients
//! becomes a queue rather than more threads: tokio's blocking pool grows to 512 threads, and
//! each thread doing a password check holds the hash's memory (Argon2id: 19 MiB) while each
//! one waiting on an fsync holds a stack and an allocator heap.
//!
//! [`passwords`] has one thread per core (hashing is CPU-bound: more threads would only
//! share the cores and multiply memory); [`files`] has a few more, since file-system calls
//! mostly wait on the disk, and [`directories`] runs the group commits' directory fsyncs. A job never waits for another job of the same pool, so a pool
//! cannot deadlock on itself.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A fixed number of threads (started on first use) running jobs in arrival order.
pub struct BlockingPool {
    name: &'static str,
    max_threads: usize,
    state: Mutex<State>,
    ready: Condvar,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
    /// The most jobs ever waiting at once (for the stress figures and tests).
    max_queued: usize,
    /// The process that started the threads: a forked child has none and starts its own.
    pid: u32,
}

impl BlockingPool {
    pub const fn new(name: &'static str, max_threads: usize) -> Self {
        Self {
            name,
            max_threads,
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                threads: 0,
                idle: 0,
                max_queued: 0,
                pid: 0,
            }),
            ready: Condvar::new(),
        }
    }

    /// The most threads this pool runs.
    pub fn max_threads(&self) -> usize {
        self.max_threads.max(1)
    }

    /// Threads started so far.
    pub fn threads(&self) -> usize {
        self.lock().threads
    }

    /// The longest queue of waiting jobs seen so far.
    pub fn max_queued(&self) -> usize {
        self.lock().max_queued
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Run `f` on a pool thread and wait for its result without blocking the caller's thread;
    /// `None` if it panicked or no thread could be started.
    pub async fn run<T, F>(&'static self, f: F) -> Option<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(Box::new(move || {
            // A panic is reported as None to the one caller; the thread goes on.
            if let Ok(v) = catch_unwind(AssertUnwindSafe(f)) {
                let _ = tx.send(v);
            }
        }));
        rx.await.ok()
    }

    fn submit(&'static self, job: Job) {
        let mut st = self.lock();
        let pid = std::process::id();
        if st.pid != pid {
            // After fork() the threads counted belong to the parent.
            st.pid = pid;
            st.threads = 0;
            st.idle = 0;
        }
        st.jobs.push_back(job);
        st.max_queued = st.max_queued.max(st.jobs.len());
        if st.idle == 0 && st.threads < self.max_threads() {
            let started = std::thread::Builder::new()
                .name(self.name.to_owned())
                .stack_size(512 * 1024)
                .spawn(move || self.work());
            if started.is_ok() {
                st.threads += 1;
            } else if st.threads == 0 {
                // No thread at all: drop the job, so its caller sees None instead of waiting.
                st.jobs.clear();
                return;
            }
        }
        drop(st);
        self.ready.notify_one();
    }

    fn work(&self) {
        let mut st = self.lock();
        loop {
            if let Some(job) = st.jobs.pop_front() {
                drop(st);
                job();
                st = self.lock();
                continue;
            }
            st.idle += 1;
            st = self.ready.wait(st).unwrap_or_else(PoisonError::into_inner);
            st.idle -= 1;
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Password checks: one thread per core (at most 16).
pub fn passwords() -> &'static BlockingPool {
    static POOL: OnceLock<BlockingPool> = OnceLock::new();
    POOL.get_or_init(|| BlockingPool::new("mailprims-auth", cores().clamp(1, 16)))
}

/// File-system work of the servers (delivery, maildrops): 16 threads. Sixteen fdatasyncs in
/// flight share the file system's journal commits about as well as sixty-four do (measured on
/// ext4), and take a quarter of the threads.
pub fn files() -> &'static BlockingPool {
    static POOL: BlockingPool = BlockingPool::new("mailprims-files", 16);
    &POOL
}

/// Directory fsyncs of group commits: each one completes a whole batch of deliveries, so it
/// must not queue behind the file work of the next batch in [`files`].
pub fn directories() -> &'static BlockingPool {
    static POOL: BlockingPool = BlockingPool::new("mailprims-dirsync", 4);
    &POOL
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn never_more_threads_than_its_size() {
        static POOL: BlockingPool = BlockingPool::new("test-pool", 3);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let jobs: Vec<_> = (0..40)
            .map(|i| {
                let (running, most) = (running.clone(), most.clone());
                tokio::spawn(POOL.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(5));
                    running.fetch_sub(1, Ordering::SeqCst);
                    i * 2
                }))
            })
            .collect();
        let mut sum = 0;
        for j in jobs {
            sum += j.await.unwrap().unwrap();
        }
        assert_eq!(sum, (0..40).map(|i| i * 2).sum::<i32>());
        assert_eq!(POOL.threads(), 3);
        assert!(most.load(Ordering::SeqCst) <= 3);
        assert!(POOL.max_queued() > 3, "the rest waited in the queue");
    }

    #[tokio::test]
    async fn a_panicking_job_is_none_and_the_pool_goes_on() {
        static POOL: BlockingPool = BlockingPool::new("test-panics", 1);
        let r: Option<()> = POOL.run(|| panic!("boom")).await;
        assert!(r.is_none());
        assert_eq!(POOL.run(|| 7).await, Some(7));
        assert_eq!(POOL.threads(), 1);
    }
}
