//! The synchronisation primitives the mailbox is built on: std's, or loom's
//! model-checked twins under `--cfg loom` (see `mailbox::loom_tests`).
//! Nothing else changes between the two builds.

#[cfg(loom)]
#[allow(unused_imports)] // only the loom tests share mailboxes across threads
pub(crate) use loom::sync::Arc;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::AtomicU32;
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

#[cfg(not(loom))]
#[allow(unused_imports)] // only the loom tests share mailboxes across threads
pub(crate) use std::sync::Arc;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::AtomicU32;
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};
