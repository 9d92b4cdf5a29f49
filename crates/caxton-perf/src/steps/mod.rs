//! The suite's measurements, one function per step, in three modules with
//! one-way dependencies: [`native`] and [`wasm`] build on [`shared`], and
//! neither knows the other or the runner ([`crate::suite`]).

pub(crate) mod native;
pub(crate) mod shared;
pub(crate) mod wasm;
