//! What the test servers ([`crate::S3Server`], [`crate::AzuriteServer`])
//! share: finding their binary and starting it on a free loopback port.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server's binary: `$env_var` if set (it must exist), else the first
/// of `PATH`'s directories and then `fallback_dirs` holding `name`. Panics
/// with `missing` (how to install it) when there is none.
pub(crate) fn find_binary(
    env_var: &str,
    name: &str,
    fallback_dirs: &[PathBuf],
    missing: &str,
) -> PathBuf {
    if let Some(path) = std::env::var_os(env_var) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{missing} (${env_var}={} does not exist)",
            path.display()
        );
        return path;
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .chain(fallback_dirs.iter().cloned())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{missing}"))
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    listener.local_addr().expect("local address").port()
}

/// Runs `binary` with `args(port)` on a free loopback port and waits until
/// it accepts connections (at most `within`). A child that exits first lost
/// its port to someone else: another port is tried, five times in all.
pub(crate) fn start_listening(
    binary: &Path,
    args: impl Fn(u16) -> Vec<String>,
    missing: &str,
    within: Duration,
) -> (Child, SocketAddr) {
    let name = binary.file_name().unwrap_or_default().to_string_lossy();
    for _attempt in 0..5 {
        let port = free_port();
        let mut child = Command::new(binary)
            .args(args(port))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{missing} (running {} failed: {e})", binary.display()));
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + within;
        loop {
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return (child, address);
            }
            if let Ok(Some(_)) = child.try_wait() {
                break; // the port was taken meanwhile: try another
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{name} did not start listening on {address} within {within:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!(
        "{name} exited at start five times (is {} working?)",
        binary.display()
    );
}
