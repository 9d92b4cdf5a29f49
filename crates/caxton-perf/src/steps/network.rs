//! The network steps of `run --full`: the front door, the bare echo floor
//! and the load generator as separate processes (`caxton-netbench`, the
//! same scenarios as the `http`, `payload` and `websocket` binaries),
//! graded like every other figure.

use std::process::Command;

use caxton_netbench::scenarios::{HttpConfig, PayloadConfig, WebSocketConfig};
use caxton_netbench::{Binaries, NetResult};
use caxton_report::results::Measurement;

use crate::steps::shared::Error;

/// One network step: its figures, measured with the given binaries.
pub(crate) type Step = fn(&Binaries) -> Result<Vec<Measurement>, Error>;

/// Finds the server and load binaries; when they are not built and this
/// runs under cargo, builds them (the same profile as this binary).
pub(crate) fn binaries() -> Result<Binaries, Error> {
    match Binaries::locate() {
        Ok(b) => Ok(b),
        Err(missing) => {
            let Some(cargo) = std::env::var_os("CARGO") else {
                return Err(missing.into());
            };
            eprintln!("building the front door and the load generator for the network steps");
            let status = Command::new(cargo)
                .args(["build", "--release", "-p", "caxton-server", "-p", "caxton-load"])
                .status()?;
            if !status.success() {
                return Err(format!("building caxton-server and caxton-load failed ({status}); {missing}").into());
            }
            Ok(Binaries::locate()?)
        }
    }
}

/// A network scenario's figures as measurements; a failed check is an
/// error (the figures of a run that lost requests are not worth grading).
fn measurements(net: NetResult) -> Result<Vec<Measurement>, Error> {
    if let Some(failed) = net.checks.iter().find(|c| !c.passed) {
        return Err(format!("network scenario {}: {} ({})", net.scenario, failed.name, failed.detail).into());
    }
    Ok(net
        .figures
        .into_iter()
        .map(|f| {
            let variant = format!("network {}: {}", net.scenario, f.variant);
            let mut m = Measurement::single(&f.name, &variant, &f.unit, f.value);
            if let Some((name, value)) = &f.reference {
                m = m.with_reference(name, *value);
            }
            if f.informational {
                m = m.informational();
            }
            m
        })
        .collect())
}

/// Request/reply and send through the front door, open-loop latency,
/// the oha cross-check (when installed), `/metrics` with 10 000 agents.
pub(crate) fn http(bins: &Binaries) -> Result<Vec<Measurement>, Error> {
    measurements(caxton_netbench::scenarios::http(bins, &HttpConfig::full())?)
}

/// 1 KiB, 64 KiB and 1 MiB payloads.
pub(crate) fn payload(bins: &Binaries) -> Result<Vec<Measurement>, Error> {
    measurements(caxton_netbench::scenarios::payload(bins, &PayloadConfig::full())?)
}

/// 10 000 WebSocket sessions held for the run.
pub(crate) fn websocket(bins: &Binaries) -> Result<Vec<Measurement>, Error> {
    measurements(caxton_netbench::scenarios::websocket(bins, &WebSocketConfig::full())?)
}
