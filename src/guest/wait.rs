//! Bounded, visible waits: poll until something is there or the time is up, ticking a
//! progress display meanwhile.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::output::Progress;

/// Calls `probe` every `interval` until it returns `Some`, or `timeout` has passed (`Err` with
/// the time waited).
pub fn poll<T>(
    timeout: Duration,
    interval: Duration,
    progress: &mut dyn Progress,
    mut probe: impl FnMut() -> Option<T>,
) -> Result<T, Duration> {
    let start = Instant::now();
    loop {
        if let Some(found) = probe() {
            return Ok(found);
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(waited);
        }
        progress.tick();
        std::thread::sleep(interval.min(timeout - waited));
    }
}

/// Whether an SSH server answers at `address`: a TCP connection whose first bytes are `SSH-`.
pub fn ssh_answers(address: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_secs(2)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut banner = [0u8; 4];
    stream.read_exact(&mut banner).is_ok() && &banner == b"SSH-"
}

/// The last `lines` lines of a text file, for error messages; empty when unreadable.
pub fn tail(path: &str, lines: usize) -> String {
    let Ok(text) = std::fs::read(path) else {
        return String::new();
    };
    let text = String::from_utf8_lossy(&text);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    #[test]
    fn poll_returns_what_appears_and_gives_up_after_the_timeout() {
        let mut progress = crate::output::Silent;
        let mut n = 0;
        let found = poll(
            Duration::from_secs(5),
            Duration::from_millis(1),
            &mut progress,
            || {
                n += 1;
                (n == 3).then_some(n)
            },
        );
        assert_eq!(found, Ok(3));
        let waited = poll(
            Duration::from_millis(30),
            Duration::from_millis(5),
            &mut progress,
            || None::<()>,
        )
        .unwrap_err();
        assert!(waited >= Duration::from_millis(30));
    }

    #[test]
    fn ssh_answers_only_when_the_banner_says_ssh() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            for banner in [&b"HTTP/1.0 200\r\n"[..], b"SSH-2.0-OpenSSH_9.2\r\n"] {
                let (mut stream, _) = listener.accept().unwrap();
                stream.write_all(banner).unwrap();
            }
        });
        assert!(!ssh_answers(address));
        assert!(ssh_answers(address));
        server.join().unwrap();
        // The listener went with the thread: nothing listens any more.
        assert!(!ssh_answers(address));
    }
}
