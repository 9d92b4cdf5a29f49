//! Network benchmarks that cross process boundaries, as users run Caxton:
//! the front door (`caxton-server`), the bare echo server that is its
//! same-run floor (`caxton-bare-echo`) and the load generator
//! (`caxton-load`) each run as their own process over loopback, and the
//! figures are reported as ratios to the floor measured in the same run.
//!
//! The scenarios (`http`, `payload`, `websocket`, and `cluster`: three
//! nodes on a three-server NATS cluster, one killed) live here once; the
//! scenario binaries and `caxton-perf run --full` both call them.

pub mod bins;
pub mod client;
pub mod cluster;
pub mod error;
pub mod figures;
pub mod load;
pub mod oha;
pub mod process;
pub mod scenarios;

pub use bins::Binaries;
pub use cluster::ClusterConfig;
pub use error::NetbenchError;
pub use figures::{Check, Figure, NetResult};
pub use process::Service;
pub use scenarios::{HttpConfig, PayloadConfig, WebSocketConfig};
