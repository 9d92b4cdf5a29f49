//! `caxton-load`: drives an HTTP or WebSocket server on loopback and
//! reports throughput, latency from the intended send time, and errors.
//! Exit codes: 0 after a completed run, 2 for bad arguments, 1 when the
//! target could not be reached at all (or the results could not be
//! written).

use clap::Parser;

use caxton_load::LoadError;
use caxton_load::cli::Cli;

fn main() {
    let cli = Cli::parse();
    std::process::exit(match real_main(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("caxton-load: {e}");
            e.exit_code()
        }
    });
}

fn real_main(cli: Cli) -> Result<(), LoadError> {
    let (cfg, output) = cli.into_config()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| LoadError::Other(format!("cannot start the tokio runtime: {e}")))?;
    let summary = rt.block_on(caxton_load::run(&cfg))?;
    if summary.unreachable() {
        return Err(LoadError::Unreachable(format!(
            "cannot reach {}: every request failed to connect",
            summary.url
        )));
    }
    if output.json_summary {
        eprintln!("{}", summary.human());
        println!("{}", summary.json_line());
    } else {
        println!("{}", summary.human());
    }
    if let Some(path) = &output.out {
        summary
            .save(path)
            .map_err(|e| LoadError::Other(format!("cannot write {}: {e}", path.display())))?;
        eprintln!("caxton-load: results written to {}", path.display());
    }
    Ok(())
}
