//! The setup calls a remote run makes on the front door: upload a module,
//! spawn agents, read an agent's stats, stop agents, scrape `/metrics`.
//! Each is one request on its own connection
//! ([`caxton_netbench::client::call`]), apart from the measured load.

use std::net::SocketAddr;

use caxton_netbench::client::{self, Response};

/// The front door's API at one address.
#[derive(Clone, Copy, Debug)]
pub struct Api {
    /// Where it listens.
    pub addr: SocketAddr,
}

/// The agents to spawn in one call.
#[derive(Clone, Debug)]
pub struct SpawnSpec<'a> {
    /// `sink`, `echo`, `counter` or `wasm`.
    pub kind: &'a str,
    /// The module id, for `wasm`.
    pub module: Option<&'a str>,
    /// Name prefix: the agents are `<name>-0`, `<name>-1`, ...
    pub name: &'a str,
    /// How many.
    pub count: usize,
    /// Mailbox capacity of each.
    pub mailbox_capacity: usize,
}

fn expect(what: &str, r: Response, want: &[u16]) -> Result<Vec<u8>, String> {
    if want.contains(&r.status) {
        Ok(r.body)
    } else {
        Err(format!(
            "{what}: status {} (wanted {want:?}): {}",
            r.status,
            String::from_utf8_lossy(&r.body).trim()
        ))
    }
}

fn json(what: &str, body: &[u8]) -> Result<serde_json::Value, String> {
    serde_json::from_slice(body).map_err(|e| format!("{what}: the answer is not JSON: {e}"))
}

impl Api {
    fn call(&self, method: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> Result<Response, String> {
        client::call(self.addr, method, path, content_type, body).map_err(|e| e.to_string())
    }

    /// `GET /healthz` answers 200.
    pub fn healthy(&self) -> Result<(), String> {
        expect("GET /healthz", self.call("GET", "/healthz", None, b"")?, &[200]).map(drop)
    }

    /// Uploads WASM `bytes`; the module id.
    pub fn upload_module(&self, bytes: &[u8]) -> Result<String, String> {
        let what = "POST /v1/modules";
        let body = expect(
            what,
            self.call("POST", "/v1/modules", Some("application/wasm"), bytes)?,
            &[200, 201],
        )?;
        json(what, &body)?["module"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{what}: no module id in the answer"))
    }

    /// Spawns `spec.count` agents with the capability `scn`; their ids.
    pub fn spawn(&self, spec: &SpawnSpec<'_>) -> Result<Vec<u64>, String> {
        let what = "POST /v1/agents";
        let mut req = serde_json::json!({
            "kind": spec.kind,
            "name": spec.name,
            "count": spec.count,
            "capabilities": ["scn"],
            "limits": {"mailbox_capacity": spec.mailbox_capacity},
        });
        if let Some(m) = spec.module {
            req["module"] = m.into();
        }
        let r = self.call(
            "POST",
            "/v1/agents",
            Some("application/json"),
            req.to_string().as_bytes(),
        )?;
        if r.status == 409 {
            return Err(format!(
                "{what}: agents named {}-* already run on the server (left by an interrupted run?); \
                 stop them or restart the server",
                spec.name
            ));
        }
        let body = expect(what, r, &[201])?;
        let ids = json(what, &body)?["ids"]
            .as_array()
            .map(|a| a.iter().filter_map(serde_json::Value::as_u64).collect::<Vec<_>>())
            .unwrap_or_default();
        if ids.len() != spec.count {
            return Err(format!(
                "{what}: asked for {} agents, got {} ids",
                spec.count,
                ids.len()
            ));
        }
        Ok(ids)
    }

    /// The agent's stats (`GET /v1/agents/{id}`); `None` when the server
    /// no longer has it.
    pub fn stats(&self, id: u64) -> Result<Option<serde_json::Value>, String> {
        let what = format!("GET /v1/agents/{id}");
        let r = self.call("GET", &format!("/v1/agents/{id}"), None, b"")?;
        if r.status == 404 {
            return Ok(None);
        }
        json(&what, &expect(&what, r, &[200])?).map(Some)
    }

    /// Stops the agent (`DELETE /v1/agents/{id}`); gone already is fine.
    pub fn stop(&self, id: u64) -> Result<(), String> {
        let what = format!("DELETE /v1/agents/{id}");
        expect(
            &what,
            self.call("DELETE", &format!("/v1/agents/{id}"), None, b"")?,
            &[200, 202, 404],
        )
        .map(drop)
    }

    /// The `/metrics` text.
    pub fn metrics(&self) -> Result<String, String> {
        let body = expect("GET /metrics", self.call("GET", "/metrics", None, b"")?, &[200])?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }
}
