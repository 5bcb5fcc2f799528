//! The bridge between Python and the one tokio runtime (pyo3-async-runtimes').
//!
//! * `block_on` drives a future for the sync API on the calling thread, inside the runtime's
//!   context and with the GIL released, checking for Ctrl-C.
//! * `awaitable` turns a future into an asyncio future for the async API. Cancelling the
//!   asyncio future aborts the Rust task (dropping its connection). Results go back through
//!   a per-loop queue and a pipe the event loop watches, so they are delivered on the loop's
//!   own thread, many per wake-up, and runtime threads never wait for the GIL.
//! * `attach` is the only way runtime threads call into Python. pyo3-async-runtimes' own
//!   `future_into_py` attaches to the interpreter from a tokio thread when a future completes,
//!   which crashes if that happens while Python finalizes (pyo3-async-runtimes issue 40: exit
//!   codes 134/139, "PyGILState_Release ... finalizing"). Here an `atexit` hook marks the
//!   interpreter as going away and waits for threads already inside Python; after that no
//!   runtime thread attaches again.

use std::future::Future;
#[cfg(unix)]
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
#[cfg(unix)]
use pyo3::sync::PyOnceLock;
#[cfg(all(unix, not(target_vendor = "apple")))]
use rustix::pipe::{PipeFlags, pipe_with};
use tokio::task::AbortHandle;

static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);
static INSIDE_PYTHON: AtomicUsize = AtomicUsize::new(0);
static LEFT_PYTHON: (Mutex<()>, Condvar) = (Mutex::new(()), Condvar::new());

/// How long the exit hook waits for runtime threads that are inside Python.
const EXIT_WAIT: Duration = Duration::from_secs(5);
/// How often a blocked sync call looks for Ctrl-C.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

pub fn runtime() -> &'static tokio::runtime::Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

/// Run `f` attached to the interpreter, unless it is exiting (then `None`).
pub fn attach<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> Option<R> {
    // Count ourselves in before checking the flag, so the exit hook either sees us and waits,
    // or we see the flag and stay out.
    INSIDE_PYTHON.fetch_add(1, Ordering::SeqCst);
    let result = if SHUTTING_DOWN.load(Ordering::SeqCst) {
        None
    } else {
        Python::try_attach(f)
    };
    if INSIDE_PYTHON.fetch_sub(1, Ordering::SeqCst) == 1 {
        let _guard = LEFT_PYTHON.0.lock();
        LEFT_PYTHON.1.notify_all();
    }
    result
}

/// Registered with `atexit` when the module is imported.
#[pyfunction]
fn _at_exit(py: Python<'_>) {
    SHUTTING_DOWN.store(true, Ordering::SeqCst);
    py.detach(|| {
        let deadline = Instant::now() + EXIT_WAIT;
        let Ok(mut guard) = LEFT_PYTHON.0.lock() else {
            return;
        };
        while INSIDE_PYTHON.load(Ordering::SeqCst) > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            match LEFT_PYTHON.1.wait_timeout(guard, deadline - now) {
                Ok((g, _)) => guard = g,
                Err(_) => break,
            }
        }
    });
}

/// Run `fut` on the runtime and wait for it with the GIL released. Ctrl-C aborts the task
/// (dropping whatever connection it held) and raises `KeyboardInterrupt`.
pub fn block_on<T, F>(py: Python<'_>, fut: F) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    if tokio::runtime::Handle::try_current().is_err() {
        // The usual case, a Python thread: drive the future right here, so its I/O needs no
        // hand-over to a worker thread and back.
        return py.detach(move || {
            runtime().block_on(async move {
                let mut fut = std::pin::pin!(fut);
                loop {
                    tokio::select! {
                        biased;
                        value = &mut fut => return Ok(value),
                        _ = tokio::time::sleep(SIGNAL_POLL) => {
                            // Dropping `fut` on return closes whatever it held.
                            Python::attach(|py| py.check_signals())?;
                        }
                    }
                }
            })
        });
    }
    // Called from a runtime thread (a Python callback of a server, say): the future runs as
    // a task of its own while this thread waits.
    let (tx, rx) = mpsc::sync_channel(1);
    let task = runtime().spawn(async move {
        let _ = tx.send(fut.await);
    });
    let abort = task.abort_handle();
    py.detach(move || {
        loop {
            match rx.recv_timeout(SIGNAL_POLL) {
                Ok(value) => return Ok(value),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Err(e) = Python::attach(|py| py.check_signals()) {
                        abort.abort();
                        return Err(e);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(PyRuntimeError::new_err(
                        "mailprims internal error: the operation stopped without a result",
                    ));
                }
            }
        }
    })
}

/// An asyncio future, on the running loop, that completes with `fut`'s result.
///
/// The finished task hands its result to the loop's `LoopBridge` (a queue and a pipe the loop
/// watches with `add_reader`), so completions are delivered on the loop's own thread, in
/// batches, and runtime threads never take the GIL. Loops without `add_reader` (Windows'
/// proactor) get each result from a blocking-pool thread instead.
pub fn awaitable<'py, T, F>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let event_loop = pyo3_async_runtimes::get_running_loop(py)?;
    let py_fut = event_loop.call_method0(pyo3::intern!(py, "create_future"))?;
    let fut_ref = py_fut.clone().unbind();
    let task = match loop_bridge(&event_loop) {
        Ok(completions) => runtime().spawn(async move {
            let result = fut.await;
            completions.push(
                fut_ref,
                Box::new(move |py| result.and_then(|v| v.into_py_any(py))),
            );
        }),
        Err(_) => {
            let loop_ref = event_loop.unbind();
            runtime().spawn(async move {
                let result = fut.await;
                // Waiting for the GIL must not stall a runtime worker thread.
                let _ = tokio::task::spawn_blocking(move || {
                    attach(|py| deliver(py, loop_ref, fut_ref, result));
                })
                .await;
            })
        }
    };
    py_fut.call_method1(
        pyo3::intern!(py, "add_done_callback"),
        (AbortOnCancel {
            handle: Some(task.abort_handle()),
        },),
    )?;
    Ok(py_fut)
}

type Convert = Box<dyn for<'py> FnOnce(Python<'py>) -> PyResult<Py<PyAny>> + Send>;

/// Results waiting for their event loop, and the pipe that wakes it.
#[cfg(unix)]
struct Completions {
    queue: Mutex<Vec<(Py<PyAny>, Convert)>>,
    read_fd: OwnedFd,
    write_fd: OwnedFd,
}

/// A non-blocking, close-on-exec pipe, in one call where the system has `pipe2`.
#[cfg(all(unix, not(target_vendor = "apple")))]
fn wake_pipe() -> rustix::io::Result<(OwnedFd, OwnedFd)> {
    pipe_with(PipeFlags::NONBLOCK | PipeFlags::CLOEXEC)
}

/// macOS has no `pipe2`: the flags are set after `pipe`. A fork in between would only leak the
/// two descriptors into the child, which never uses them.
#[cfg(target_vendor = "apple")]
fn wake_pipe() -> rustix::io::Result<(OwnedFd, OwnedFd)> {
    use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
    use rustix::io::{FdFlags, fcntl_setfd};
    let (r, w) = rustix::pipe::pipe()?;
    for fd in [&r, &w] {
        fcntl_setfd(fd, FdFlags::CLOEXEC)?;
        fcntl_setfl(fd, fcntl_getfl(fd)? | OFlags::NONBLOCK)?;
    }
    Ok((r, w))
}

#[cfg(unix)]
impl Completions {
    fn new() -> PyResult<Completions> {
        let (read_fd, write_fd) = wake_pipe().map_err(|e| PyErr::from(std::io::Error::from(e)))?;
        Ok(Completions {
            queue: Mutex::new(Vec::new()),
            read_fd,
            write_fd,
        })
    }

    /// From any thread, without the GIL: queue a result and wake the loop if it was idle.
    fn push(&self, fut: Py<PyAny>, convert: Convert) {
        let Ok(mut queue) = self.queue.lock() else {
            return;
        };
        let was_empty = queue.is_empty();
        queue.push((fut, convert));
        drop(queue);
        if was_empty {
            // A full pipe (EAGAIN) already holds a wake-up.
            let _ = rustix::io::write(&self.write_fd, &[1u8]);
        }
    }
}

/// The reader callback of one event loop: runs on the loop's thread and completes the
/// futures whose results arrived.
#[cfg(unix)]
#[pyclass(frozen)]
struct LoopBridge {
    completions: Arc<Completions>,
}

#[cfg(unix)]
#[pymethods]
impl LoopBridge {
    fn __call__(&self, py: Python<'_>) -> PyResult<()> {
        let mut sink = [0u8; 256];
        while rustix::io::read(&self.completions.read_fd, &mut sink).is_ok_and(|n| n > 0) {}
        let items = match self.completions.queue.lock() {
            Ok(mut q) => std::mem::take(&mut *q),
            Err(_) => return Ok(()),
        };
        for (fut, convert) in items {
            // One future's trouble must not strand the others of the batch.
            let _ = complete(py, fut.bind(py), convert);
        }
        Ok(())
    }
}

/// Complete `fut` with the converted result, unless it was cancelled meanwhile.
#[cfg(unix)]
fn complete(py: Python<'_>, fut: &Bound<'_, PyAny>, convert: Convert) -> PyResult<()> {
    if fut.call_method0(pyo3::intern!(py, "done"))?.is_truthy()? {
        return Ok(());
    }
    match convert(py) {
        Ok(v) => fut.call_method1(pyo3::intern!(py, "set_result"), (v,))?,
        Err(e) => fut.call_method1(pyo3::intern!(py, "set_exception"), (e.into_value(py),))?,
    };
    Ok(())
}

/// The completion queue of `event_loop`, created and registered on first use.
#[cfg(unix)]
fn loop_bridge(event_loop: &Bound<'_, PyAny>) -> PyResult<Arc<Completions>> {
    static BRIDGES: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let py = event_loop.py();
    let bridges = BRIDGES
        .get_or_try_init(py, || {
            super::types::WEAK_KEY_DICTIONARY
                .get(py)?
                .call0()
                .map(Bound::unbind)
        })?
        .bind(py);
    if let Ok(existing) = bridges
        .call_method1(pyo3::intern!(py, "get"), (event_loop,))?
        .cast::<LoopBridge>()
    {
        return Ok(existing.get().completions.clone());
    }
    let completions = Arc::new(Completions::new()?);
    let bridge = Bound::new(
        py,
        LoopBridge {
            completions: completions.clone(),
        },
    )?;
    event_loop.call_method1("add_reader", (completions.read_fd.as_raw_fd(), &bridge))?;
    bridges.set_item(event_loop, bridge)?;
    Ok(completions)
}

/// Off Unix there is no pipe to hand `add_reader` (and Windows' default proactor loop has no
/// `add_reader` at all): every result takes the `call_soon_threadsafe` path of `awaitable`.
#[cfg(not(unix))]
enum Completions {}

#[cfg(not(unix))]
impl Completions {
    fn push(&self, _fut: Py<PyAny>, _convert: Convert) {
        match *self {}
    }
}

#[cfg(not(unix))]
fn loop_bridge(_event_loop: &Bound<'_, PyAny>) -> PyResult<Arc<Completions>> {
    Err(pyo3::exceptions::PyNotImplementedError::new_err(
        "no pipe-based completion queue on this platform",
    ))
}

fn deliver<T>(py: Python<'_>, event_loop: Py<PyAny>, fut: Py<PyAny>, result: PyResult<T>)
where
    T: for<'a> IntoPyObject<'a>,
{
    let (ok, value) = match result.and_then(|v| v.into_py_any(py)) {
        Ok(v) => (true, v),
        Err(e) => (false, e.into_value(py).into_any()),
    };
    let Ok(setter) = wrap_pyfunction!(_set_future_result, py) else {
        return;
    };
    // A closed loop (the program has moved on) raises RuntimeError: nobody is waiting then.
    let _ = event_loop.bind(py).call_method1(
        pyo3::intern!(py, "call_soon_threadsafe"),
        (setter, fut, ok, value),
    );
}

/// Runs on the event loop's thread: completes the future unless it was cancelled meanwhile.
#[pyfunction]
fn _set_future_result(fut: &Bound<'_, PyAny>, ok: bool, value: &Bound<'_, PyAny>) -> PyResult<()> {
    if fut.call_method0("done")?.is_truthy()? {
        return Ok(());
    }
    if ok {
        fut.call_method1("set_result", (value,))?;
    } else {
        fut.call_method1("set_exception", (value,))?;
    }
    Ok(())
}

/// Done-callback of an awaitable: a cancelled asyncio future aborts the Rust task.
#[pyclass]
struct AbortOnCancel {
    handle: Option<AbortHandle>,
}

#[pymethods]
impl AbortOnCancel {
    fn __call__(&mut self, fut: &Bound<'_, PyAny>) -> PyResult<()> {
        if fut.call_method0("cancelled")?.is_truthy()?
            && let Some(h) = self.handle.take()
        {
            h.abort();
        }
        Ok(())
    }
}

/// Self-test hooks for the runtime bridge (used by the test suite).
#[pyfunction]
fn _runtime_sleep(py: Python<'_>, seconds: f64) -> PyResult<Bound<'_, PyAny>> {
    let d = Duration::from_secs_f64(seconds.max(0.0));
    awaitable(py, async move {
        tokio::time::sleep(d).await;
        Ok(seconds)
    })
}

#[pyfunction]
fn _runtime_sleep_blocking(py: Python<'_>, seconds: f64) -> PyResult<f64> {
    let d = Duration::from_secs_f64(seconds.max(0.0));
    block_on(py, async move {
        tokio::time::sleep(d).await;
        seconds
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let at_exit = wrap_pyfunction!(_at_exit, m)?;
    m.add_function(at_exit.clone())?;
    m.add_function(wrap_pyfunction!(_set_future_result, m)?)?;
    m.add_function(wrap_pyfunction!(_runtime_sleep, m)?)?;
    m.add_function(wrap_pyfunction!(_runtime_sleep_blocking, m)?)?;
    super::types::ATEXIT_REGISTER.get(py)?.call1((at_exit,))?;
    Ok(())
}
