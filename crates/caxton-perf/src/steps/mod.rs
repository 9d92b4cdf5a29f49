//! The suite's measurements, one function per step, in modules with
//! one-way dependencies: [`native`] and [`wasm`] build on [`shared`], and
//! neither knows the other or the runner ([`crate::suite`]); [`network`]
//! drives separate processes and shares nothing with them.

pub(crate) mod native;
pub(crate) mod network;
pub(crate) mod shared;
pub(crate) mod wasm;
