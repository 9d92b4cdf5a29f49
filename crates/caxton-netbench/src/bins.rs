//! Where the binaries a benchmark starts are: beside the running one (all
//! of a workspace's binaries land in one target folder), or where
//! `$CAXTON_SERVER_BIN`, `$CAXTON_BARE_ECHO_BIN`, `$CAXTON_LOAD_BIN` say.

use std::path::{Path, PathBuf};

use crate::error::NetbenchError;

/// The command that builds all three.
pub const BUILD: &str = "cargo build --release -p caxton-server -p caxton-load";

/// The three programs of a network benchmark.
#[derive(Clone, Debug)]
pub struct Binaries {
    /// The front door.
    pub server: PathBuf,
    /// The bare echo server (the floor).
    pub bare_echo: PathBuf,
    /// The load generator.
    pub load: PathBuf,
}

fn find(name: &'static str, env: &str, dirs: &[PathBuf]) -> Result<PathBuf, NetbenchError> {
    if let Some(p) = std::env::var_os(env) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(NetbenchError::MissingBinary {
                name,
                path: p,
                build: BUILD,
            })
        };
    }
    let file = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    for d in dirs {
        let p = d.join(&file);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(NetbenchError::MissingBinary {
        name,
        path: dirs.first().map_or_else(|| PathBuf::from(&file), |d| d.join(&file)),
        build: BUILD,
    })
}

impl Binaries {
    /// Finds the binaries beside the running executable (or its parent
    /// folder, for test binaries in `deps/`).
    pub fn locate() -> Result<Self, NetbenchError> {
        let exe = std::env::current_exe()?;
        let mut dirs = Vec::new();
        if let Some(d) = exe.parent() {
            dirs.push(d.to_path_buf());
            if d.file_name().is_some_and(|n| n == "deps")
                && let Some(up) = d.parent()
            {
                dirs.push(up.to_path_buf());
            }
        }
        Self::in_dirs(&dirs)
    }

    /// Finds the binaries in `dirs` (environment variables first).
    pub fn in_dirs(dirs: &[PathBuf]) -> Result<Self, NetbenchError> {
        Ok(Self {
            server: find("caxton-server", "CAXTON_SERVER_BIN", dirs)?,
            bare_echo: find("caxton-bare-echo", "CAXTON_BARE_ECHO_BIN", dirs)?,
            load: find("caxton-load", "CAXTON_LOAD_BIN", dirs)?,
        })
    }
}

/// Whether `path` looks like a release build (benchmarks of debug builds
/// are worth a warning).
pub fn is_release(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "release")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_names_the_build_command() {
        let dir = std::env::temp_dir().join(format!("caxton-netbench-bins-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = find(
            "caxton-server",
            "CAXTON_NETBENCH_TEST_UNSET_VAR",
            std::slice::from_ref(&dir),
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(text.contains("caxton-server") && text.contains(BUILD), "{text}");
        std::fs::write(dir.join("caxton-server"), b"").unwrap();
        assert_eq!(
            find(
                "caxton-server",
                "CAXTON_NETBENCH_TEST_UNSET_VAR",
                std::slice::from_ref(&dir)
            )
            .unwrap(),
            dir.join("caxton-server")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
