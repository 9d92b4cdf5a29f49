//! Where agent tasks run: on the tokio runtime the orchestrator was made
//! on, or on threads of the orchestrator's own, one single-threaded
//! runtime per core with each agent kept on one of them for its life.
//!
//! The second is actix's model. A wake-up then reaches one event loop
//! rather than tokio's work-stealing scheduler, which notifies a second
//! worker to go looking for work on every wake from outside; a request
//! round trip from a client thread costs two thread wake-ups instead of up
//! to three. What it gives up is stealing: an agent whose thread is busy
//! (or descheduled) waits, even when another core idles.

use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};
use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// Where an orchestrator runs its agents
/// ([`crate::OrchestratorConfig::executor`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Executor {
    /// Agents are tasks on the tokio runtime the orchestrator was made on
    /// (`Orchestrator::new` takes the current one), sharing it with
    /// everything else there; on a multi-threaded runtime an idle worker
    /// steals them. The default: a sender that is a task on the same
    /// runtime wakes the agent on its own worker.
    #[default]
    Shared,
    /// The orchestrator starts `threads` threads of its own (0: one per
    /// core the process may use), each running a single-threaded tokio
    /// runtime with timers (no I/O driver: handlers are synchronous), and
    /// runs agent `id` on thread `id % threads` for its whole life. The
    /// faster choice when senders are threads outside any runtime. The
    /// threads exit once the orchestrator and every agent are gone.
    PerCore {
        /// Threads to start; 0 (also when left out of a config file)
        /// means one per available core.
        #[serde(default)]
        threads: usize,
    },
}

/// The thread (of `threads`) that agent `id` runs on.
#[inline]
pub(crate) fn thread_of(id: u64, threads: usize) -> usize {
    (id % threads as u64) as usize
}

/// The runtimes agent tasks are spawned on.
pub(crate) enum Placement {
    /// One runtime (not owned).
    Shared(Handle),
    /// The orchestrator's own threads.
    PerCore(Cores),
}

impl Placement {
    /// Starts `threads` threads (0: one per core).
    ///
    /// # Panics
    /// When a thread or its runtime cannot be started (as
    /// `std::thread::spawn` does): the orchestrator cannot run agents.
    pub(crate) fn per_core(threads: usize) -> Self {
        Self::PerCore(
            Cores::start(threads).unwrap_or_else(|e| panic!("caxton: cannot start the executor's threads: {e}")),
        )
    }

    /// The number of threads of [`Executor::PerCore`]; `None` when shared.
    pub(crate) fn threads(&self) -> Option<usize> {
        match self {
            Self::Shared(_) => None,
            Self::PerCore(cores) => Some(cores.handles.len()),
        }
    }

    /// The runtime agent `id` runs on.
    #[inline]
    pub(crate) fn for_agent(&self, id: u64) -> &Handle {
        match self {
            Self::Shared(h) => h,
            Self::PerCore(cores) => &cores.handles[thread_of(id, cores.handles.len())],
        }
    }
}

/// One thread per core, each blocked in its runtime until told to stop.
pub(crate) struct Cores {
    handles: Vec<Handle>,
    /// Dropping a sender stops its thread.
    stop: Vec<oneshot::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl Cores {
    fn start(threads: usize) -> std::io::Result<Self> {
        let n = match threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let mut cores = Self {
            handles: Vec::with_capacity(n),
            stop: Vec::with_capacity(n),
            threads: Vec::with_capacity(n),
        };
        for i in 0..n {
            let (stop, stopped) = oneshot::channel::<()>();
            let (ready, started) = std::sync::mpsc::sync_channel(1);
            let thread = std::thread::Builder::new()
                .name(format!("caxton-core-{i}"))
                .spawn(move || {
                    // Built, run and dropped on this thread only (a runtime
                    // may not be dropped where a caller is async).
                    let rt = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
                        Ok(rt) => rt,
                        Err(e) => return drop(ready.send(Err(e))),
                    };
                    drop(ready.send(Ok(rt.handle().clone())));
                    drop(rt.block_on(stopped));
                    // Dropping `rt` here ends the tasks left on it (none
                    // of them an agent: each holds the orchestrator).
                })?;
            cores.stop.push(stop);
            cores.threads.push(thread);
            let handle = started
                .recv()
                .map_err(|_| std::io::Error::other("an executor thread ended while starting"))??;
            cores.handles.push(handle);
        }
        Ok(cores)
    }
}

impl Drop for Cores {
    fn drop(&mut self) {
        self.stop.clear();
        // Wait for the threads only where blocking is allowed: outside
        // any runtime (an agent's thread may drop the orchestrator's last
        // reference; those threads exit on their own).
        if Handle::try_current().is_err() {
            for t in self.threads.drain(..) {
                drop(t.join());
            }
        }
    }
}
