//! Ctrl-C (SIGINT) and SIGTERM during `run`: keep what was measured.
//!
//! The first signal asks the suite to stop after the step it is in (steps
//! are checked between, never abandoned half-way, so every figure saved is
//! whole); the suite then returns a partial result set, which `run` saves
//! and reports as partial before exiting 128 + the signal (130 for SIGINT).
//! A second signal stops at once: the measurements of the steps finished
//! so far (the last [`Stop::checkpoint`]) are written the same way, by
//! the watcher thread, which then exits.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use caxton_report::results::ResultSet;
use indicatif::ProgressBar;
use tokio::signal::unix::{SignalKind, signal};

/// SIGINT's number (the same on every Unix).
pub const SIGINT: i32 = 2;
/// SIGTERM's number (the same on every Unix).
pub const SIGTERM: i32 = 15;

/// The conventional exit code of a process stopped by `signal`.
pub fn exit_code(signal: i32) -> u8 {
    u8::try_from(128 + signal).unwrap_or(u8::MAX)
}

/// The signal's name, for messages.
pub fn name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT (Ctrl-C)",
        SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

/// What writes a partial result set when a second signal stops the run at
/// once; it is given the set (already marked partial) and the first signal.
pub type ForceStop = Box<dyn Fn(ResultSet, i32) + Send + Sync>;

/// Whether a stop was asked for, and what to save if it must be at once.
pub struct Stop {
    /// The first signal received; 0 while none.
    signal: AtomicI32,
    /// The measurements of the steps finished so far; `None` once `run`
    /// writes the results itself (then a second signal leaves it to it).
    latest: Mutex<Option<ResultSet>>,
    /// The suite's progress bar, so messages do not tear it.
    bar: Mutex<Option<ProgressBar>>,
    force: Option<ForceStop>,
}

impl Stop {
    fn new(force: Option<ForceStop>) -> Self {
        Self {
            signal: AtomicI32::new(0),
            latest: Mutex::new(None),
            bar: Mutex::new(None),
            force,
        }
    }

    /// Watches SIGINT and SIGTERM from now on (the handlers are in place
    /// when this returns) on a thread of its own; `force` writes the
    /// results when a second signal stops the run at once.
    pub fn watch(force: ForceStop) -> std::io::Result<Arc<Self>> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (mut int, mut term) = {
            let _in_runtime = rt.enter();
            (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?)
        };
        let stop = Arc::new(Self::new(Some(force)));
        let watcher = stop.clone();
        std::thread::Builder::new()
            .name("caxton-perf-signals".into())
            .spawn(move || {
                rt.block_on(async move {
                    loop {
                        let signal = tokio::select! {
                            Some(()) = int.recv() => SIGINT,
                            Some(()) = term.recv() => SIGTERM,
                            else => return,
                        };
                        watcher.received(signal);
                    }
                });
            })?;
        Ok(stop)
    }

    fn received(&self, signal: i32) {
        let Err(first) = self
            .signal
            .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
        else {
            self.say(&format!(
                "\ninterrupted by {}: finishing the current step, then saving what was measured \
                 (send it again to stop at once)",
                name(signal)
            ));
            return;
        };
        let mut latest = lock(&self.latest);
        // `None`: `run` is already writing the results; let it finish.
        if let (Some(mut set), Some(force)) = (latest.take(), &self.force) {
            self.say(&format!("\n{}: a second signal, stopping now", name(signal)));
            set.partial = true;
            // Writes the files and exits (with the first signal's code),
            // the lock still held, so the suite cannot write them too.
            force(set, first);
        }
    }

    fn say(&self, message: &str) {
        match &*lock(&self.bar) {
            Some(bar) => bar.suspend(|| eprintln!("{message}")),
            None => eprintln!("{message}"),
        }
    }

    /// The signal that asked to stop, if one did.
    pub fn requested(&self) -> Option<i32> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    /// Records what was measured so far: what a second signal saves.
    pub fn checkpoint(&self, results: &ResultSet) {
        *lock(&self.latest) = Some(results.clone());
    }

    /// The caller writes the results from now on; a later signal leaves
    /// them to it.
    pub fn take_over(&self) {
        lock(&self.latest).take();
    }

    /// Where messages go while the bar is drawn.
    pub fn set_bar(&self, bar: &ProgressBar) {
        *lock(&self.bar) = Some(bar.clone());
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_signal_asks_the_second_saves_the_checkpoint() {
        let saved = Arc::new(Mutex::new(Vec::new()));
        let s = saved.clone();
        let stop = Stop::new(Some(Box::new(move |set: ResultSet, sig| {
            s.lock().unwrap().push((set, sig));
        })));
        assert_eq!(stop.requested(), None);
        let mut set = ResultSet::new("test");
        stop.checkpoint(&set);
        stop.received(SIGTERM);
        assert_eq!(stop.requested(), Some(SIGTERM));
        assert!(saved.lock().unwrap().is_empty(), "the first signal saves nothing");
        set.source = "two steps".into();
        stop.checkpoint(&set);
        stop.received(SIGINT);
        let saved = saved.lock().unwrap();
        assert_eq!(saved.len(), 1);
        assert!(saved[0].0.partial);
        assert_eq!(saved[0].0.source, "two steps");
        assert_eq!(saved[0].1, SIGTERM, "the first signal is the one reported");
        assert_eq!(stop.requested(), Some(SIGTERM));
    }

    #[test]
    fn after_take_over_a_second_signal_leaves_the_writing_to_run() {
        let stop = Stop::new(Some(Box::new(|_, _| panic!("must not write"))));
        stop.checkpoint(&ResultSet::new("test"));
        stop.take_over();
        stop.received(SIGINT);
        stop.received(SIGINT);
    }

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        assert_eq!(exit_code(SIGINT), 130);
        assert_eq!(exit_code(SIGTERM), 143);
    }
}
