//! dhat heap profiling (the `dhat-heap` feature).
//!
//! A binary built with the feature installs `dhat::Alloc` through
//! [`measurement_allocator!`](crate::measurement_allocator) and starts a
//! [`HeapProfile`]; when the profile is dropped (or [`HeapProfile::finish`]
//! is called) dhat writes its JSON file. Open the file with the viewer that
//! ships with valgrind, `/usr/libexec/valgrind/dh_view.html` (load the file
//! with its button), or the online dh_view at
//! <https://nnethercote.github.io/dh_view/dh_view.html>.

use std::path::{Path, PathBuf};

pub use dhat;

use crate::alloc::{AllocSource, AllocTotals};

/// Reads allocator counters from dhat's heap stats; needs a running
/// [`HeapProfile`] (dhat panics otherwise).
///
/// dhat does not count reallocations separately: a realloc shows as one
/// block freed and one allocated, so `reallocations` is always zero.
#[derive(Clone, Copy, Debug, Default)]
pub struct DhatSource;

impl AllocSource for DhatSource {
    fn totals(&self) -> AllocTotals {
        let s = dhat::HeapStats::get();
        let curr_blocks = s.curr_blocks as u64;
        let curr_bytes = s.curr_bytes as u64;
        AllocTotals {
            allocations: s.total_blocks,
            deallocations: s.total_blocks.saturating_sub(curr_blocks),
            reallocations: 0,
            bytes_allocated: s.total_bytes,
            bytes_freed: s.total_bytes.saturating_sub(curr_bytes),
        }
    }

    fn name(&self) -> &'static str {
        "dhat"
    }
}

/// A running dhat heap profile; writes its file when dropped.
pub struct HeapProfile {
    profiler: Option<dhat::Profiler>,
    path: PathBuf,
}

impl HeapProfile {
    /// Starts heap profiling; the result goes to `path` (its parent folder
    /// must exist when the profile ends).
    pub fn start(path: impl AsRef<Path>) -> Self {
        let path = path.as_ref().to_path_buf();
        let profiler = dhat::Profiler::builder().file_name(&path).build();
        Self {
            profiler: Some(profiler),
            path,
        }
    }

    /// Where the file is (or will be) written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops profiling and writes the file now; returns its path.
    pub fn finish(mut self) -> PathBuf {
        drop(self.profiler.take());
        self.path.clone()
    }
}
