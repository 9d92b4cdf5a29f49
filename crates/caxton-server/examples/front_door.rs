//! The front door embedded in a program: one orchestrator behind HTTP on
//! a free loopback port, an agent spawned through the API, a request
//! answered over the network, then a graceful drain.
//!
//! Run with `cargo run -p caxton-server --example front_door`.

use std::io::{Read, Write};

use caxton_runtime::Orchestrator;
use caxton_server::{AppState, Server, ServerConfig};

/// One HTTP/1.1 request on its own connection; the whole response.
fn call(addr: std::net::SocketAddr, path: &str, json: &str) -> std::io::Result<String> {
    let mut s = std::net::TcpStream::connect(addr)?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse()?,
        ..ServerConfig::default()
    };
    let server = Server::bind(AppState::new(Orchestrator::new(), config, None)).await?;
    let addr = server.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    // The client side, off the async workers.
    let replies = tokio::task::spawn_blocking(move || -> std::io::Result<(String, String)> {
        let spawned = call(addr, "/v1/agents", r#"{"kind":"echo","name":"echo-1"}"#)?;
        let reply = call(addr, "/v1/requests", r#"{"to":{"name":"echo-1"},"payload":"hello"}"#)?;
        Ok((spawned, reply))
    })
    .await??;
    println!("spawn:   {}", replies.0.lines().last().unwrap_or_default());
    println!("request: {}", replies.1.lines().last().unwrap_or_default());

    let _ = stop.send(());
    let report = serving.await?;
    println!("drained {} agents", report.agents_drained);
    Ok(())
}
