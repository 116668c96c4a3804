//! The guest side of provisioning, the same for every backend: the user's public key, the VM's
//! host key, and the waits for SSH and cloud-init, each failure told apart (a cloud-init
//! failure or a wrong host key is not a timeout).

pub mod hostkey;
pub mod seed;
pub mod wait;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::output::{Progress, human};
use wait::ssh_answers;

/// Why a VM is not ready.
#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    /// The address is not an IP address SSH can be tried at.
    #[error(
        "{name}'s address {address:?} is not an IP address; fix the backend's output (e.g. the module's vm_ip), or pass --no-wait"
    )]
    BadAddress {
        /// The VM.
        name: String,
        /// What the backend said.
        address: String,
    },
    /// Nothing answered in time.
    #[error("timed out after {} waiting for {what} of {name}{diagnosis}", human(*waited))]
    Timeout {
        /// The VM.
        name: String,
        /// What we waited for.
        what: &'static str,
        /// How long.
        waited: Duration,
        /// The last lines of a log that may say why, with its path.
        diagnosis: String,
    },
    /// SSH answered but refused the user's key until the end.
    #[error(
        "{name} refused SSH logins as {user} with {key} until the timeout ({}): {said}; check that the key is the one the VM was given (--ssh-key) and the user (--user)",
        human(*waited)
    )]
    LoginRefused {
        /// The VM.
        name: String,
        /// The login user.
        user: String,
        /// The private key tried.
        key: String,
        /// How long we tried.
        waited: Duration,
        /// ssh's last words.
        said: String,
    },
    /// The guest presented another host key than the one pinned.
    #[error(
        "{name} presented a host key that is not the one vm pinned: {said}\nnothing was trusted and the VM is removed (unless --keep-on-failure); find out who answers at its address before trying again"
    )]
    HostKeyMismatch {
        /// The VM.
        name: String,
        /// ssh's words.
        said: String,
    },
    /// cloud-init finished with an error.
    #[error(
        "cloud-init failed on {name} (status {status}):\n{said}\nsee /var/log/cloud-init.log in the guest (--keep-on-failure keeps it), or fix the user-data template"
    )]
    CloudInitFailed {
        /// The VM.
        name: String,
        /// `cloud-init status` exit status.
        status: i32,
        /// Its report.
        said: String,
    },
    /// ssh cannot be run.
    #[error("cannot run ssh: {0}; install openssh-client")]
    NoSsh(std::io::Error),
    /// The temporary known_hosts of the wait cannot be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// The user's public key: the file given (flag or vm.toml), else the first of the usual ones in
/// `~/.ssh`, else none; read and validated. Returns the key line and its file.
pub fn read_public_key(given: Option<PathBuf>) -> Result<Option<(String, PathBuf)>, Error> {
    let path = match given {
        Some(path) => path,
        None => {
            let home = std::env::var("HOME").unwrap_or_default();
            let found = ["id_ed25519.pub", "id_ecdsa.pub", "id_rsa.pub"]
                .iter()
                .map(|f| PathBuf::from(&home).join(".ssh").join(f))
                .find(|p| p.is_file());
            match found {
                Some(path) => path,
                None => return Ok(None),
            }
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::Usage(format!(
            "cannot read SSH public key {}: {e}; pass --ssh-key PUBKEY",
            path.display()
        ))
    })?;
    let key = seed::validate_public_key(&text, &path.display().to_string())?;
    Ok(Some((key, path)))
}

/// What a backend that installs the user's key says when there is none.
pub const NO_PUBLIC_KEY: &str = "no SSH public key in ~/.ssh (id_ed25519.pub, id_ecdsa.pub, \
     id_rsa.pub); create one with ssh-keygen -t ed25519, or pass --ssh-key PUBKEY";

/// `host:port` as a socket address SSH can be tried at.
pub fn socket_address(name: &str, host: &str, port: Option<u16>) -> Result<SocketAddr, GuestError> {
    let ip: IpAddr = host.parse().map_err(|_| GuestError::BadAddress {
        name: name.to_string(),
        address: host.to_string(),
    })?;
    Ok(SocketAddr::new(ip, port.unwrap_or(22)))
}

/// Waits, at most `timeout`, until an SSH server answers at `address`.
pub fn wait_for_ssh(
    name: &str,
    address: SocketAddr,
    timeout: Duration,
    progress: &mut dyn Progress,
    diagnosis: &dyn Fn() -> String,
) -> Result<(), GuestError> {
    progress.phase("waiting for SSH");
    wait::poll(timeout, Duration::from_secs(1), progress, || {
        ssh_answers(address).then_some(())
    })
    .map_err(|waited| GuestError::Timeout {
        name: name.to_string(),
        what: "SSH",
        waited,
        diagnosis: diagnosis(),
    })
}

/// What [`wait_for_cloud_init`] needs.
pub struct CloudInitWait<'a> {
    /// The VM (and the host key alias).
    pub name: &'a str,
    /// The login user.
    pub user: &'a str,
    /// Where SSH answers.
    pub address: SocketAddr,
    /// The user's private key.
    pub private_key: &'a Path,
    /// The host key to check strictly; `None`: first use, the key the guest presents is
    /// accepted and returned.
    pub host_key: Option<&'a str>,
    /// The bound.
    pub timeout: Duration,
}

/// Runs `cloud-init status --wait` over SSH, checking the host key strictly against the pinned
/// one (or accepting it on first use), retrying while sshd or the user's key are not there yet.
/// Returns the host key the guest presented.
pub fn wait_for_cloud_init(
    wait: &CloudInitWait,
    progress: &mut dyn Progress,
    diagnosis: &dyn Fn() -> String,
) -> Result<String, GuestError> {
    progress.phase("waiting for cloud-init");
    let dir = tempdir()?;
    let result = run_cloud_init_wait(wait, &dir, progress, diagnosis);
    // Best effort: a temp folder of public data only.
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The key `alias` has in a known_hosts file ssh wrote (unhashed).
fn presented_key(known: &Path, alias: &str) -> Result<String, GuestError> {
    let text = std::fs::read_to_string(known).map_err(|source| GuestError::Io {
        path: known.to_path_buf(),
        source,
    })?;
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            (fields.next()? == alias).then(|| fields.take(2).collect::<Vec<_>>().join(" "))
        })
        .next()
        .ok_or_else(|| GuestError::HostKeyMismatch {
            name: alias.to_string(),
            said: format!(
                "ssh recorded no host key for {alias} in {}",
                known.display()
            ),
        })
}

fn tempdir() -> Result<PathBuf, GuestError> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = std::env::temp_dir().join(format!(
        "vm-ssh-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|source| GuestError::Io {
            path: dir.clone(),
            source,
        })?;
    Ok(dir)
}

fn run_cloud_init_wait(
    wait: &CloudInitWait,
    dir: &Path,
    progress: &mut dyn Progress,
    diagnosis: &dyn Fn() -> String,
) -> Result<String, GuestError> {
    let known = dir.join("known_hosts");
    let (lines, checking) = match wait.host_key {
        Some(key) => (format!("{} {key}\n", wait.name), "yes"),
        None => (String::new(), "accept-new"),
    };
    std::fs::write(&known, lines).map_err(|source| GuestError::Io {
        path: known.clone(),
        source,
    })?;
    let start = Instant::now();
    let deadline = start + wait.timeout;
    let mut last_said = String::new();
    loop {
        let mut child = Command::new("ssh")
            .arg("-i")
            .arg(wait.private_key)
            .args(["-p", &wait.address.port().to_string()])
            .args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"])
            .args(["-o", "HashKnownHosts=no"])
            .arg("-o")
            .arg(format!("StrictHostKeyChecking={checking}"))
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", known.display()))
            .arg("-o")
            .arg(format!("HostKeyAlias={}", wait.name))
            .arg(format!("{}@{}", wait.user, wait.address.ip()))
            .arg("cloud-init status --wait --long")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(GuestError::NoSsh)?;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => {
                    progress.tick();
                    std::thread::sleep(Duration::from_millis(200));
                }
                _ => {
                    // Best effort: it is stopped by the wait below either way.
                    let _ = child.kill();
                    break None;
                }
            }
        };
        let said = child
            .wait_with_output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout).into_owned()
                    + &String::from_utf8_lossy(&o.stderr)
            })
            .unwrap_or_default()
            .trim()
            .to_string();
        match status.and_then(|s| s.code()) {
            Some(0) => return presented_key(&known, wait.name),
            Some(255) if said.contains("Host key verification failed") => {
                return Err(GuestError::HostKeyMismatch {
                    name: wait.name.to_string(),
                    said,
                });
            }
            // ssh itself failed (sshd not up, the user's key not installed yet): try again.
            Some(255) if Instant::now() < deadline => {
                last_said = said;
                std::thread::sleep(Duration::from_secs(2));
            }
            Some(255) | None => {
                let said = if said.is_empty() { last_said } else { said };
                if said.contains("Permission denied") {
                    return Err(GuestError::LoginRefused {
                        name: wait.name.to_string(),
                        user: wait.user.to_string(),
                        key: wait.private_key.display().to_string(),
                        waited: start.elapsed(),
                        said,
                    });
                }
                return Err(GuestError::Timeout {
                    name: wait.name.to_string(),
                    what: "cloud-init",
                    waited: start.elapsed(),
                    diagnosis: format!(
                        "{}{}",
                        if said.is_empty() {
                            String::new()
                        } else {
                            format!("; ssh said: {said}")
                        },
                        diagnosis()
                    ),
                });
            }
            Some(code) => {
                return Err(GuestError::CloudInitFailed {
                    name: wait.name.to_string(),
                    status: code,
                    said,
                });
            }
        }
    }
}
