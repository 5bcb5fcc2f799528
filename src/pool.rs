//! A few long-lived threads for CPU work that a caller splits up (`parse_many`), and
//! [`Chunked`], the pipeline that splits it: work in chunks, taken in turn by pool threads
//! and by the caller, results sent back with their place.
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

/// Items split into chunks that pool threads and the caller take in turn, each chunk's
/// results sent back with the index of its first item. The caller alternates between
/// [`ready`](Chunked::ready) (results to place) and [`take`](Chunked::take) (a chunk to
/// work on itself), then [`wait`](Chunked::wait)s for the chunks pool threads still hold:
/// it never waits for a pool job to start (one may be queued behind another caller's), so
/// the work finishes even when no pool thread runs.
pub struct Chunked<I, O> {
    queue: Arc<Queue<(usize, Vec<I>)>>,
    /// A Mutex makes the receiver shareable (a caller may wait with a lock released).
    done: Mutex<Receiver<(usize, Vec<O>)>>,
    chunks: usize,
}

impl<I: Send + 'static, O: Send + 'static> Chunked<I, O> {
    /// Split `items` into chunks of `size` and start `threads - 1` pool jobs that run
    /// `work` on the chunks they take (the caller is the last thread).
    pub fn start(items: Vec<I>, size: usize, threads: usize, work: fn(Vec<I>) -> Vec<O>) -> Self {
        let size = size.max(1);
        let mut chunks = Vec::with_capacity(items.len().div_ceil(size));
        let mut it = items.into_iter();
        let mut start = 0;
        loop {
            let chunk: Vec<I> = it.by_ref().take(size).collect();
            if chunk.is_empty() {
                break;
            }
            let n = chunk.len();
            chunks.push((start, chunk));
            start += n;
        }
        let n_chunks = chunks.len();
        let queue = Arc::new(Mutex::new(chunks.into_iter()));
        let (tx, rx) = channel::<(usize, Vec<O>)>();
        for _ in 1..threads {
            let (tx, queue) = (tx.clone(), Arc::clone(&queue));
            spawn(threads - 1, move || {
                while let Some((start, chunk)) = next(&queue) {
                    if tx.send((start, work(chunk))).is_err() {
                        break;
                    }
                }
            });
        }
        Chunked {
            queue,
            done: Mutex::new(rx),
            chunks: n_chunks,
        }
    }

    /// How many chunks there are.
    pub fn chunks(&self) -> usize {
        self.chunks
    }

    /// A chunk no thread has taken yet, with the index of its first item.
    pub fn take(&self) -> Option<(usize, Vec<I>)> {
        next(&self.queue)
    }

    /// Results a pool thread has finished, if any, without waiting.
    pub fn ready(&self) -> Option<(usize, Vec<O>)> {
        self.done.lock().ok()?.try_recv().ok()
    }

    /// The next results a pool thread finishes; `None` if every pool job has stopped.
    pub fn wait(&self) -> Option<(usize, Vec<O>)> {
        self.done.lock().ok()?.recv().ok()
    }
}

/// What is left to take, in order.
type Queue<T> = Mutex<std::vec::IntoIter<T>>;

fn next<T>(queue: &Queue<T>) -> Option<T> {
    queue.lock().ok()?.next()
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

    #[test]
    fn chunked_results_come_back_in_place() {
        let items: Vec<usize> = (0..1000).collect();
        let work: fn(Vec<usize>) -> Vec<usize> = |c| c.into_iter().map(|i| i * 2).collect();
        let pipe = Chunked::start(items, 32, 3, work);
        assert_eq!(pipe.chunks(), 1000usize.div_ceil(32));
        let mut out = vec![usize::MAX; 1000];
        let mut placed = 0;
        let mut place = |start: usize, results: Vec<usize>| {
            for (i, r) in results.into_iter().enumerate() {
                out[start + i] = r;
            }
        };
        loop {
            if let Some((start, r)) = pipe.ready() {
                place(start, r);
            } else if let Some((start, c)) = pipe.take() {
                place(start, work(c));
            } else {
                break;
            }
            placed += 1;
        }
        while placed < pipe.chunks() {
            let (start, r) = pipe.wait().expect("a pool job stopped early");
            place(start, r);
            placed += 1;
        }
        assert_eq!(out, (0..1000).map(|i| i * 2).collect::<Vec<_>>());
    }
}
