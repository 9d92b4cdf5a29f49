//! `caxton-bare-echo`: the bare echo server (see `caxton_load::echo`).
//! Prints `listening on ADDR` as its first stdout line; exits 0 on
//! SIGTERM or Ctrl-C.

use std::net::SocketAddr;

use clap::Parser;

/// A bare axum echo server with no routing: the floor for front-door
/// overhead measurements.
#[derive(Parser)]
#[command(name = "caxton-bare-echo", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = caxton_load::fdlimit::raise_nofile_limit() {
        eprintln!("caxton-bare-echo: cannot raise the open-file limit: {e}");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("start the tokio runtime");
    let code = rt.block_on(async {
        let shutdown = match caxton_load::echo::shutdown_signal() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("caxton-bare-echo: cannot install the SIGTERM/Ctrl-C handlers: {e}");
                return 1;
            }
        };
        let listener = match caxton_load::echo::bind(args.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("caxton-bare-echo: cannot listen on {}: {e}", args.listen);
                return 1;
            }
        };
        match listener.local_addr() {
            Ok(addr) => println!("listening on {addr}"),
            Err(e) => {
                eprintln!("caxton-bare-echo: {e}");
                return 1;
            }
        }
        match caxton_load::echo::serve(listener, shutdown).await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("caxton-bare-echo: {e}");
                1
            }
        }
    });
    // Do not wait for upgraded sessions still running on the runtime.
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    std::process::exit(code);
}
