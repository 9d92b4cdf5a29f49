//! Cheap one-off readings of this process: resident set size and CPU time.
//!
//! These are what the memory profile and the CPU windows read between
//! phases; the [`sampler`](crate::sampler) keeps a time series instead.

use std::time::Duration;

use crate::ProfilingError;

/// Resident set size of this process, in bytes.
///
/// On Linux this reads `/proc/self/statm` (one small read, no allocation of
/// note); elsewhere it asks sysinfo.
pub fn rss_bytes() -> Result<u64, ProfilingError> {
    #[cfg(target_os = "linux")]
    {
        statm_rss("/proc/self/statm")
    }
    #[cfg(not(target_os = "linux"))]
    {
        let pid = sysinfo::get_current_pid().map_err(|e| ProfilingError::Sysinfo(e.to_string()))?;
        rss_bytes_of(pid.as_u32())
    }
}

/// Resident set size of another process (a server under load, measured
/// from the process driving it), in bytes.
pub fn rss_bytes_of(pid: u32) -> Result<u64, ProfilingError> {
    #[cfg(target_os = "linux")]
    {
        statm_rss(&format!("/proc/{pid}/statm"))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let pid = sysinfo::Pid::from_u32(pid);
        let mut sys = sysinfo::System::new().map_err(|e| ProfilingError::Sysinfo(e.to_string()))?;
        sys.refresh_processes_specifics(
            sysinfo::ProcessesToUpdate::Some(&[pid]),
            false,
            sysinfo::ProcessRefreshKind::nothing().with_memory(),
        );
        sys.process(pid)
            .map(|p| p.memory())
            .ok_or_else(|| ProfilingError::Sysinfo(format!("process {pid} is not listed")))
    }
}

/// The resident pages of a `statm` file, in bytes (one small read).
#[cfg(target_os = "linux")]
fn statm_rss(path: &str) -> Result<u64, ProfilingError> {
    let text = std::fs::read_to_string(path).map_err(|e| ProfilingError::io(path, e))?;
    let resident_pages: u64 = text
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| ProfilingError::io(path, std::io::Error::other(format!("unexpected contents {text:?}"))))?;
    Ok(resident_pages * page_size())
}

/// The highest RSS this process has had so far, in bytes (the kernel's
/// `VmHWM`); `None` where the platform does not report it.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(target_os = "linux")]
fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 { size as u64 } else { 4096 }
}

/// CPU time consumed so far by all threads of this process (user + system).
pub fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec and the clock id is a
    // constant supported on Linux and macOS.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Logical CPUs available to this process.
pub fn available_cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_is_positive() {
        assert!(rss_bytes().unwrap() > 0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn peak_rss_is_at_least_current_rss() {
        let now = rss_bytes().unwrap();
        assert!(peak_rss_bytes().unwrap() >= now / 2);
    }

    #[test]
    fn process_cpu_time_grows_with_work() {
        let before = process_cpu_time();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(process_cpu_time() > before);
    }
}
