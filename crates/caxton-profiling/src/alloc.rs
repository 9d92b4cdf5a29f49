//! Allocation counting: bytes and counts allocated and freed over a scope.
//!
//! Counting needs a counting global allocator, and a global allocator is a
//! choice for a whole program, so this crate never installs one in library
//! users. A measurement binary installs one with
//! [`measurement_allocator!`](crate::measurement_allocator) (stats_alloc by
//! default, dhat with the `dhat-heap` feature) and hands its source to the
//! code that measures:
//!
//! ```
//! use caxton_profiling::alloc::{AllocRegion, AllocSource};
//! use caxton_profiling::stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};
//! use std::alloc::System;
//!
//! // In a measurement binary this static carries `#[global_allocator]`
//! // (or use `caxton_profiling::measurement_allocator!()`).
//! static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;
//!
//! let region = AllocRegion::new(GLOBAL);
//! let v = vec![0u8; 4096];
//! let delta = region.change();
//! # drop(v);
//! // Without `#[global_allocator]` the counts stay at zero.
//! assert_eq!(delta.bytes_allocated, 0);
//! ```

use std::alloc::GlobalAlloc;

use serde::{Deserialize, Serialize};
use stats_alloc::StatsAlloc;

/// Cumulative allocator counters since the program started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocTotals {
    /// Allocation calls (`alloc` and `alloc_zeroed`).
    pub allocations: u64,
    /// Deallocation calls.
    pub deallocations: u64,
    /// Reallocation calls.
    pub reallocations: u64,
    /// Bytes handed out (reallocation growth included).
    pub bytes_allocated: u64,
    /// Bytes given back (reallocation shrinkage included).
    pub bytes_freed: u64,
}

/// Anything that can report cumulative allocator counters: an installed
/// [`StatsAlloc`], or dhat's heap stats under the `dhat-heap` feature.
pub trait AllocSource: Sync {
    /// The counters now.
    fn totals(&self) -> AllocTotals;

    /// A short name for reports ("stats_alloc", "dhat").
    fn name(&self) -> &'static str;
}

impl<T: GlobalAlloc + Sync> AllocSource for StatsAlloc<T> {
    fn totals(&self) -> AllocTotals {
        let s = self.stats();
        AllocTotals {
            allocations: s.allocations as u64,
            deallocations: s.deallocations as u64,
            reallocations: s.reallocations as u64,
            bytes_allocated: s.bytes_allocated as u64,
            bytes_freed: s.bytes_deallocated as u64,
        }
    }

    fn name(&self) -> &'static str {
        "stats_alloc"
    }
}

impl<S: AllocSource + ?Sized> AllocSource for &S {
    fn totals(&self) -> AllocTotals {
        (**self).totals()
    }

    fn name(&self) -> &'static str {
        (**self).name()
    }
}

/// What happened in the allocator between two readings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocDelta {
    /// Allocation calls.
    pub allocations: u64,
    /// Deallocation calls.
    pub deallocations: u64,
    /// Reallocation calls.
    pub reallocations: u64,
    /// Bytes handed out.
    pub bytes_allocated: u64,
    /// Bytes given back.
    pub bytes_freed: u64,
}

impl AllocDelta {
    /// The change between two readings (`later` taken after `earlier`).
    pub fn between(earlier: AllocTotals, later: AllocTotals) -> Self {
        Self {
            allocations: later.allocations.saturating_sub(earlier.allocations),
            deallocations: later.deallocations.saturating_sub(earlier.deallocations),
            reallocations: later.reallocations.saturating_sub(earlier.reallocations),
            bytes_allocated: later.bytes_allocated.saturating_sub(earlier.bytes_allocated),
            bytes_freed: later.bytes_freed.saturating_sub(earlier.bytes_freed),
        }
    }

    /// Bytes still held: allocated minus freed (negative when the scope
    /// freed more than it allocated).
    pub fn net_bytes(&self) -> i64 {
        self.bytes_allocated as i64 - self.bytes_freed as i64
    }
}

/// A scope over which allocations are counted, like `stats_alloc::Region`
/// but over any [`AllocSource`].
///
/// Counters are process-wide: allocations by other threads during the scope
/// are counted too.
pub struct AllocRegion<'a> {
    source: &'a dyn AllocSource,
    start: AllocTotals,
}

impl<'a> AllocRegion<'a> {
    /// Starts counting now.
    pub fn new(source: &'a dyn AllocSource) -> Self {
        Self {
            start: source.totals(),
            source,
        }
    }

    /// The counters when the region started (or was last reset).
    pub fn initial(&self) -> AllocTotals {
        self.start
    }

    /// What changed since the region started.
    pub fn change(&self) -> AllocDelta {
        AllocDelta::between(self.start, self.source.totals())
    }

    /// What changed since the region started, then restarts it.
    pub fn change_and_reset(&mut self) -> AllocDelta {
        let now = self.source.totals();
        let d = AllocDelta::between(self.start, now);
        self.start = now;
        d
    }

    /// Restarts the region now.
    pub fn reset(&mut self) {
        self.start = self.source.totals();
    }
}

/// Runs `f` and returns its result with the allocations it made.
pub fn measure<R>(source: &dyn AllocSource, f: impl FnOnce() -> R) -> (R, AllocDelta) {
    let region = AllocRegion::new(source);
    let r = f();
    (r, region.change())
}

/// Whether `source` is really counting (its allocator is installed as the
/// global allocator): makes one small allocation and looks for it.
pub fn is_counting(source: &dyn AllocSource) -> bool {
    let region = AllocRegion::new(source);
    let probe = std::hint::black_box(Box::new(0u64));
    let seen = region.change().allocations > 0;
    drop(probe);
    seen
}

/// Installs the measurement global allocator in a binary and defines
/// `fn measurement_alloc_source() -> &'static dyn AllocSource` next to it.
///
/// Without the `dhat-heap` feature of this crate it installs
/// `stats_alloc::StatsAlloc<System>`; with it, `dhat::Alloc` (the two are
/// both global allocators, so only one is ever installed). Use it once, at
/// the top level of a binary, never in a library:
///
/// ```
/// caxton_profiling::measurement_allocator!();
///
/// fn main() {
///     let region = caxton_profiling::alloc::AllocRegion::new(measurement_alloc_source());
///     let v = vec![0u8; 4096];
///     assert!(region.change().bytes_allocated >= 4096);
/// #   drop(v);
/// }
/// ```
///
/// Under `dhat-heap` the source reads `dhat::HeapStats`, which needs a
/// running `heap::HeapProfile` (feature `dhat-heap`).
#[cfg(not(feature = "dhat-heap"))]
#[macro_export]
macro_rules! measurement_allocator {
    () => {
        #[global_allocator]
        static CAXTON_MEASUREMENT_ALLOC: $crate::stats_alloc::StatsAlloc<::std::alloc::System> =
            $crate::stats_alloc::StatsAlloc::system();

        /// The installed measurement allocator's counters.
        fn measurement_alloc_source() -> &'static dyn $crate::alloc::AllocSource {
            &CAXTON_MEASUREMENT_ALLOC
        }
    };
}

/// Installs the measurement global allocator (here: dhat, because the
/// `dhat-heap` feature is on). See the non-dhat documentation.
#[cfg(feature = "dhat-heap")]
#[macro_export]
macro_rules! measurement_allocator {
    () => {
        #[global_allocator]
        static CAXTON_MEASUREMENT_ALLOC: $crate::heap::dhat::Alloc = $crate::heap::dhat::Alloc;

        /// The installed measurement allocator's counters.
        fn measurement_alloc_source() -> &'static dyn $crate::alloc::AllocSource {
            &$crate::heap::DhatSource
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_and_net_bytes() {
        let a = AllocTotals {
            allocations: 10,
            deallocations: 4,
            reallocations: 1,
            bytes_allocated: 1000,
            bytes_freed: 300,
        };
        let b = AllocTotals {
            allocations: 13,
            deallocations: 9,
            reallocations: 1,
            bytes_allocated: 1500,
            bytes_freed: 1400,
        };
        let d = AllocDelta::between(a, b);
        assert_eq!(d.allocations, 3);
        assert_eq!(d.deallocations, 5);
        assert_eq!(d.bytes_allocated, 500);
        assert_eq!(d.bytes_freed, 1100);
        assert_eq!(d.net_bytes(), -600);
    }

    #[test]
    fn uninstalled_allocator_counts_nothing() {
        static NOT_INSTALLED: StatsAlloc<std::alloc::System> = StatsAlloc::system();
        assert!(!is_counting(&NOT_INSTALLED));
    }
}
