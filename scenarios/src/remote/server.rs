//! The target server's process, found by the port it listens on (Linux:
//! `/proc/net/tcp*` and `/proc/*/fd`), so the intervals record *its*
//! memory and CPU, not the load generator's. Where it cannot be found
//! (another OS, another user's process) the figures read zero.

use std::time::Duration;

/// Clock ticks per second of `/proc/PID/stat` times (`USER_HZ`, 100 on
/// every Linux platform Rust supports).
const TICKS_PER_S: u64 = 100;

/// The process listening on TCP `port`, if this user can see it.
pub fn pid_listening_on(port: u16) -> Option<u32> {
    let inode = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .find_map(|text| listening_inode(&text, port))?;
    let want = format!("socket:[{inode}]");
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|proc_dir| {
        let pid: u32 = proc_dir.file_name().to_str()?.parse().ok()?;
        let fds = std::fs::read_dir(proc_dir.path().join("fd")).ok()?;
        fds.flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == want.as_str()))
            .then_some(pid)
    })
}

/// The inode of the socket listening on `port` in a `/proc/net/tcp` table.
fn listening_inode(table: &str, port: u16) -> Option<u64> {
    let port_hex = format!(":{port:04X}");
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
        (f.len() > 9 && f[1].ends_with(&port_hex) && f[3] == "0A")
            .then(|| f[9].parse().ok())
            .flatten()
    })
}

/// RSS (bytes) and CPU time (user + system) of `pid`; zeros when unreadable.
pub fn usage(pid: Option<u32>) -> (u64, Duration) {
    let Some(pid) = pid else {
        return (0, Duration::ZERO);
    };
    let rss = caxton_profiling::rss_bytes_of(pid).unwrap_or(0);
    let cpu = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // Fields after the parenthesised command: state is the first,
            // utime the 12th and stime the 13th.
            let rest = &s[s.rfind(')')? + 1..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .map_or(Duration::ZERO, |ticks| {
            Duration::from_millis(ticks * 1000 / TICKS_PER_S)
        });
    (rss, cpu)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listening_socket_is_found_by_port() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0\n\
           1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0\n";
        assert_eq!(listening_inode(table, 8080), Some(4242));
        assert_eq!(listening_inode(table, 8081), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_listener_of_this_process_is_found() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert_eq!(pid_listening_on(port), Some(std::process::id()));
        let (rss, _) = usage(Some(std::process::id()));
        assert!(rss > 0);
    }
}
