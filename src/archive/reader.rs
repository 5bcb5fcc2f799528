//! Reading pieces on several threads into record batches, handed out in plan order.
//!
//! Work is cut into tasks of about [`TASK_BYTES`] (a batch of files, a range of an mbox, a
//! chunk of a gzip stream); each task becomes one record batch. Pool threads
//! ([`crate::pool`]) take tasks in order and the caller's thread takes them too whenever the
//! batch it waits for is not ready, so no pool thread has to start for the read to finish.
//! At most `window` tasks are taken beyond the last batch handed out, which bounds memory
//! whatever the archive's size. A gzip stream is cut one chunk at a time by whichever thread
//! gets to it (decompression cannot be split), while the others read the chunks before it.

use std::collections::{BTreeMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use arrow_array::RecordBatch;

use super::columns::{Batch, Columns};
use super::plan::{FileRef, Piece};
use super::source::{self, Chunk, GzStream};
use crate::store::StoreError;

/// Bytes of input per task (and so per record batch).
pub const TASK_BYTES: u64 = 4 << 20;
/// Files per task, at most.
const TASK_FILES: usize = 1024;

enum Task {
    Files(Vec<FileRef>),
    Mbox {
        path: PathBuf,
        start: u64,
        end: u64,
        folder: Option<String>,
    },
    Chunk(Chunk),
}

type Outcome = Result<RecordBatch, StoreError>;

struct State {
    pieces: VecDeque<Piece>,
    /// The gzip stream being cut, when no thread is cutting it.
    stream: Option<Box<GzStream>>,
    stream_busy: bool,
    next_seq: u64,
    emitted: u64,
    done: BTreeMap<u64, Outcome>,
    exhausted: bool,
    cancelled: bool,
    window: u64,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    columns: Columns,
    task_bytes: u64,
}

/// What a thread got when it asked for work.
enum Taken {
    Task(u64, Task),
    /// The gzip stream, taken out of the state to be cut without the lock.
    Stream(u64, Box<GzStream>),
    Failed(u64, StoreError),
    Wait,
    Exhausted,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next unit of work, in plan order (with the lock held).
    fn take(&self, st: &mut State) -> Taken {
        if st.cancelled {
            return Taken::Exhausted;
        }
        if st.exhausted {
            return Taken::Exhausted;
        }
        if st.next_seq >= st.emitted + st.window {
            return Taken::Wait;
        }
        if st.stream_busy {
            return Taken::Wait; // the chunk after the one being cut
        }
        let seq = st.next_seq;
        if let Some(stream) = st.stream.take() {
            st.next_seq += 1;
            st.stream_busy = true;
            return Taken::Stream(seq, stream);
        }
        let Some(piece) = st.pieces.pop_front() else {
            st.exhausted = true;
            return Taken::Exhausted;
        };
        st.next_seq += 1;
        let task = match piece {
            Piece::Files(mut files) => {
                let mut size = 0;
                let mut n = 0;
                while n < files.len() && n < TASK_FILES && (n == 0 || size < self.task_bytes) {
                    size += files[n].size;
                    n += 1;
                }
                let rest = files.split_off(n);
                if !rest.is_empty() {
                    st.pieces.push_front(Piece::Files(rest));
                }
                Task::Files(files)
            }
            Piece::Mbox {
                path,
                start,
                end,
                folder,
            } => {
                let cut = end.min(start.saturating_add(self.task_bytes));
                if cut < end {
                    st.pieces.push_front(Piece::Mbox {
                        path: path.clone(),
                        start: cut,
                        end,
                        folder: folder.clone(),
                    });
                }
                Task::Mbox {
                    path,
                    start,
                    end: cut,
                    folder,
                }
            }
            Piece::Stream { path, folder } => match GzStream::open(&path, folder) {
                Ok(stream) => {
                    st.stream_busy = true;
                    return Taken::Stream(seq, Box::new(stream));
                }
                Err(e) => return Taken::Failed(seq, e),
            },
        };
        Taken::Task(seq, task)
    }

    /// Do what was taken (without the lock), then record its outcome.
    fn run(&self, taken: Taken) {
        let (seq, outcome, stream) = match taken {
            Taken::Task(seq, task) => (seq, self.guarded(|| self.read(task)), None),
            Taken::Failed(seq, e) => (seq, Err(e), None),
            Taken::Stream(seq, mut stream) => match stream.next_chunk(self.task_bytes as usize) {
                Ok(Some(chunk)) => {
                    // Hand the stream back before reading the chunk, so another thread can
                    // cut the next one meanwhile.
                    self.put_back(Some(stream));
                    (seq, self.guarded(|| self.read(Task::Chunk(chunk))), None)
                }
                Ok(None) => (seq, Ok(Batch::new(&self.columns, 0).finish()), Some(None)),
                Err(e) => (seq, Err(e), Some(None)),
            },
            Taken::Wait | Taken::Exhausted => return,
        };
        let mut st = self.lock();
        if let Some(s) = stream {
            st.stream = s;
            st.stream_busy = false;
        }
        st.done.insert(seq, outcome);
        drop(st);
        self.changed.notify_all();
    }

    fn put_back(&self, stream: Option<Box<GzStream>>) {
        let mut st = self.lock();
        st.stream = stream;
        st.stream_busy = false;
        drop(st);
        self.changed.notify_all();
    }

    /// A panic is a bug, but it must not leave a batch missing (the reader would wait for
    /// it forever) nor cross into Python.
    fn guarded(&self, f: impl FnOnce() -> Outcome) -> Outcome {
        catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
            Err(StoreError::io(
                "read archive",
                "",
                std::io::Error::other("internal error while reading the archive"),
            ))
        })
    }

    fn read(&self, task: Task) -> Outcome {
        let mut batch = Batch::new(&self.columns, 0);
        let mut push = |m: source::Found<'_>| batch.push(m);
        match task {
            Task::Files(files) => {
                let mut bufs = source::FileBuffers::default();
                for f in &files {
                    source::read_file(f, &mut bufs, &mut push)?;
                }
            }
            Task::Mbox {
                path,
                start,
                end,
                folder,
            } => source::read_mbox_range(&path, start, end, folder.as_deref(), &mut push)?,
            Task::Chunk(chunk) => source::read_chunk(chunk, &mut push),
        }
        Ok(batch.finish())
    }

    /// A pool thread's loop: take and run work until there is none or the reader is dropped.
    fn work(&self) {
        loop {
            let mut st = self.lock();
            let taken = loop {
                match self.take(&mut st) {
                    Taken::Wait => {
                        st = self
                            .changed
                            .wait(st)
                            .unwrap_or_else(PoisonError::into_inner);
                    }
                    Taken::Exhausted => return,
                    t => break t,
                }
            };
            drop(st);
            self.run(taken);
        }
    }
}

/// The record batches of an archive, in plan order (an iterator; dropping it stops the
/// threads after their current task).
pub struct Reader {
    shared: Arc<Shared>,
}

impl Reader {
    /// Start reading `pieces` on `threads` threads (the caller's included).
    pub fn new(pieces: Vec<Piece>, columns: Columns, threads: usize) -> Reader {
        Self::with_task_size(pieces, columns, threads, TASK_BYTES)
    }

    /// [`Reader::new`] with another task size (tests use small ones).
    pub fn with_task_size(
        pieces: Vec<Piece>,
        columns: Columns,
        threads: usize,
        task_bytes: u64,
    ) -> Reader {
        let threads = threads.max(1);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                pieces: pieces.into(),
                stream: None,
                stream_busy: false,
                next_seq: 0,
                emitted: 0,
                done: BTreeMap::new(),
                exhausted: false,
                cancelled: false,
                window: 2 * threads as u64 + 1,
            }),
            changed: Condvar::new(),
            columns,
            task_bytes: task_bytes.max(1),
        });
        for _ in 1..threads {
            let s = Arc::clone(&shared);
            crate::pool::spawn(threads - 1, move || s.work());
        }
        Reader { shared }
    }

    pub fn columns(&self) -> &Columns {
        &self.shared.columns
    }
}

impl Iterator for Reader {
    type Item = Outcome;

    fn next(&mut self) -> Option<Outcome> {
        let shared = &*self.shared;
        let mut st = shared.lock();
        loop {
            let seq = st.emitted;
            if let Some(outcome) = st.done.remove(&seq) {
                st.emitted += 1;
                shared.changed.notify_all();
                match outcome {
                    Ok(b) if b.num_rows() == 0 => continue,
                    Ok(b) => return Some(Ok(b)),
                    Err(e) => {
                        // The first error ends the read.
                        st.cancelled = true;
                        return Some(Err(e));
                    }
                }
            }
            if st.cancelled || (st.exhausted && st.emitted == st.next_seq) {
                return None;
            }
            match shared.take(&mut st) {
                // Nothing left to take: the end, once the batches in flight are out.
                Taken::Exhausted if st.emitted == st.next_seq => return None,
                Taken::Wait | Taken::Exhausted => {
                    st = shared
                        .changed
                        .wait(st)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                taken => {
                    drop(st);
                    shared.run(taken);
                    st = shared.lock();
                }
            }
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.cancelled = true;
        st.pieces.clear();
        st.stream = None;
        drop(st);
        self.shared.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::{Column, plan};
    use arrow_array::{Array, Int64Array, StructArray};
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn message(i: usize) -> Vec<u8> {
        format!(
            "From: u{i}@example.org\nSubject: message {i}\nMessage-ID: <{i}@x>\n\n{}\n",
            "body line\n".repeat(i % 50)
        )
        .into_bytes()
    }

    fn offsets(r: Reader) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        for b in r {
            let b = b.unwrap();
            let source = b.column_by_name("source").unwrap();
            let source = source.as_any().downcast_ref::<StructArray>().unwrap();
            let paths = source.column(0).clone();
            let paths = paths
                .as_any()
                .downcast_ref::<arrow_array::StringArray>()
                .unwrap();
            let offs = source.column(2).clone();
            let offs = offs.as_any().downcast_ref::<Int64Array>().unwrap();
            for i in 0..b.num_rows() {
                out.push((paths.value(i).to_string(), offs.value(i)));
            }
        }
        out
    }

    #[test]
    fn every_message_once_in_order_whatever_the_threads() {
        let tmp = tempfile::tempdir().unwrap();
        let mut mbox = Vec::new();
        for i in 0..300 {
            mbox.extend_from_slice(b"From x Mon Jan  1 00:00:00 2024\n");
            mbox.extend(message(i));
            mbox.push(b'\n');
        }
        std::fs::write(tmp.path().join("a.mbox"), &mbox).unwrap();
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(&mbox).unwrap();
        std::fs::write(tmp.path().join("b.mbox.gz"), enc.finish().unwrap()).unwrap();
        for i in 0..200 {
            std::fs::write(tmp.path().join(format!("m{i:03}.eml")), message(i)).unwrap();
        }
        let cols = Columns::new([Column::Subject, Column::Source]);
        let pieces = plan(&[tmp.path().to_path_buf()], 10_000).unwrap();
        let one = offsets(Reader::with_task_size(
            pieces.clone(),
            cols.clone(),
            1,
            3000,
        ));
        assert_eq!(one.len(), 800);
        for threads in [2, 3, 8] {
            let got = offsets(Reader::with_task_size(
                pieces.clone(),
                cols.clone(),
                threads,
                3000,
            ));
            assert_eq!(got, one, "{threads} threads");
        }
        // Dropping a reader half-way stops it.
        let mut r = Reader::with_task_size(pieces, cols, 4, 3000);
        assert!(r.next().is_some());
        drop(r);
    }

    #[test]
    fn errors_end_the_read() {
        let tmp = tempfile::tempdir().unwrap();
        let gz = tmp.path().join("bad.gz");
        std::fs::write(&gz, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]).unwrap();
        let mut r = Reader::new(
            vec![Piece::Stream {
                path: gz,
                folder: None,
            }],
            Columns::default_set(),
            2,
        );
        assert!(matches!(r.next(), Some(Err(StoreError::Io { .. }))));
        assert!(r.next().is_none());
    }
}
