//! A real OpenSSH server on 127.0.0.1 for tests: its own config, host key and authorized key
//! in a folder of the test, no system configuration read or touched; stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{free_port, keygen};

/// An sshd the test started.
pub struct Sshd {
    /// Where it listens.
    pub port: u16,
    /// Its host public key line (`ssh-ed25519 AAAA…`).
    pub host_key: String,
    /// The client's private key it lets in (as root).
    pub client_key: PathBuf,
    dir: PathBuf,
}

impl Sshd {
    /// Starts sshd in `dir` (created) on a free port, letting root in with a new client key.
    pub fn start(dir: &Path) -> Sshd {
        let sshd = Path::new("/usr/sbin/sshd");
        assert!(
            sshd.exists(),
            "these tests run a real sshd: install openssh-server (CI's .ci/run does)"
        );
        std::fs::create_dir_all(dir).unwrap();
        let host = dir.join("host_ed25519");
        let client = dir.join("client_ed25519");
        keygen(&host, "test-host");
        keygen(&client, "test-client");
        std::fs::copy(client.with_extension("pub"), dir.join("authorized_keys")).unwrap();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "ListenAddress 127.0.0.1\nAuthorizedKeysFile {dir}/authorized_keys\nStrictModes no\n\
                 PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nUsePAM no\nPidFile {dir}/sshd.pid\n",
                dir = dir.display()
            ),
        )
        .unwrap();
        std::fs::create_dir_all("/run/sshd").expect("sshd's privilege separation folder");
        for _ in 0..20 {
            let port = free_port();
            let status = Command::new(sshd)
                .arg("-f")
                .arg(&config)
                .arg("-h")
                .arg(&host)
                .args(["-p", &port.to_string()])
                .status()
                .expect("run sshd");
            if status.success() {
                let text = std::fs::read_to_string(host.with_extension("pub")).unwrap();
                let host_key = text
                    .split_whitespace()
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" ");
                let sshd = Sshd {
                    port,
                    host_key,
                    client_key: client,
                    dir: dir.to_path_buf(),
                };
                sshd.wait_listening();
                return sshd;
            }
        }
        panic!("sshd did not start on any of 20 free ports");
    }

    fn wait_listening(&self) {
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("sshd on port {} never listened", self.port);
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("sshd.pid")) {
            // The sshd this test started; gone already is fine.
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}
