//! Verified SSH host keys: `vm` makes each VM's host key pair, gives the private half to the
//! guest through its cloud-init seed only, and records the public half in the project's
//! `ansible/known_hosts`, under the VM's name (`HostKeyAlias`), so Ansible can check the host
//! key strictly from the first connection on.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// File name of the project's known hosts, beside the inventory.
pub const KNOWN_HOSTS: &str = "known_hosts";

/// Problems making a key or keeping `known_hosts`.
#[derive(Debug, thiserror::Error)]
pub enum HostKeyError {
    /// `ssh-keygen` is missing or failed.
    #[error("cannot make an SSH host key with ssh-keygen: {0}; install openssh-client")]
    Keygen(String),
    /// Reading or writing `known_hosts` failed.
    #[error("cannot update {path}: {source}; check that the folder is writable by you")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// A fresh ed25519 host key pair. The private half only lives in memory (and then in the seed).
pub struct HostKey {
    /// OpenSSH private key text.
    pub private: String,
    /// `ssh-ed25519 AAAA…` (no comment).
    pub public: String,
}

impl std::fmt::Debug for HostKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// Makes an ed25519 key pair with `ssh-keygen` in a private (0700) temporary folder that is
/// removed before returning, so the private key never stays on disk.
pub fn generate(comment: &str) -> Result<HostKey, HostKeyError> {
    let dir = std::env::temp_dir().join(format!(
        "vm-hostkey-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| HostKeyError::Keygen(e.to_string()))?;
    let result = (|| {
        let key = dir.join("key");
        let output = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
            .arg(&key)
            .output()
            .map_err(|e| e.to_string())?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).trim().to_string());
        }
        let private = fs::read_to_string(&key).map_err(|e| e.to_string())?;
        let public = fs::read_to_string(key.with_extension("pub")).map_err(|e| e.to_string())?;
        let public = public
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        Ok(HostKey { private, public })
    })();
    // The folder holds the private key: one left behind must be known.
    if let Err(e) = fs::remove_dir_all(&dir) {
        return Err(HostKeyError::Keygen(format!(
            "cannot remove {} (it holds a private key): {e}; delete it",
            dir.display()
        )));
    }
    result.map_err(HostKeyError::Keygen)
}

/// Adds (or replaces) `alias`'s line in `known_hosts`; the caller holds the inventory lock.
pub fn record(known_hosts: &Path, alias: &str, public: &str) -> Result<(), HostKeyError> {
    let mut lines = read_lines(known_hosts)?;
    lines.retain(|l| first_field(l) != Some(alias));
    lines.push(format!("{alias} {public}"));
    write_lines(known_hosts, &lines)
}

/// Removes `alias`'s line from `known_hosts`, if there; the caller holds the inventory lock.
pub fn forget(known_hosts: &Path, alias: &str) -> Result<(), HostKeyError> {
    let mut lines = read_lines(known_hosts)?;
    let before = lines.len();
    lines.retain(|l| first_field(l) != Some(alias));
    if lines.len() == before {
        return Ok(());
    }
    write_lines(known_hosts, &lines)
}

/// The ssh options that make Ansible check `alias`'s host key against the project's file:
/// strictly when `vm` pinned it, else pinned by the first connection (`accept-new`), never
/// unchecked.
pub fn ssh_args(known_hosts: &Path, alias: &str, pinned: bool) -> String {
    let checking = if pinned { "yes" } else { "accept-new" };
    format!(
        "-o UserKnownHostsFile={} -o StrictHostKeyChecking={checking} -o HostKeyAlias={alias}",
        known_hosts.display()
    )
}

/// Whether a fragment's text pins its host key first-use only (`accept-new`).
pub fn is_first_use(fragment_text: &str) -> bool {
    fragment_text.contains("StrictHostKeyChecking=accept-new")
}

fn first_field(line: &str) -> Option<&str> {
    line.split_whitespace().next()
}

fn read_lines(path: &Path) -> Result<Vec<String>, HostKeyError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(text.lines().map(str::to_string).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(HostKeyError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Replaced atomically: a reader (ssh) never sees half a file.
fn write_lines(path: &Path, lines: &[String]) -> Result<(), HostKeyError> {
    let mut text = lines.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    crate::fsutil::replace(path, text.as_bytes(), 0o644).map_err(|source| HostKeyError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_pair_is_ed25519_and_leaves_no_file_behind() {
        let before: Vec<_> = fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("vm-hostkey-"))
            .map(|e| e.path())
            .collect();
        let key = generate("web-vm").unwrap();
        assert!(
            key.private
                .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----")
        );
        assert!(key.public.starts_with("ssh-ed25519 AAAA"));
        crate::guest::seed::validate_public_key(&key.public, "generated").unwrap();
        let after: Vec<_> = fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("vm-hostkey-"))
            .map(|e| e.path())
            .collect();
        assert!(after.iter().all(|p| before.contains(p)), "{after:?}");
    }

    #[test]
    fn known_hosts_lines_are_added_replaced_and_removed_by_alias() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(KNOWN_HOSTS);
        record(&file, "web-vm", "ssh-ed25519 AAAA1").unwrap();
        record(&file, "db-vm", "ssh-ed25519 AAAA2").unwrap();
        record(&file, "web-vm", "ssh-ed25519 AAAA3").unwrap();
        let text = fs::read_to_string(&file).unwrap();
        assert_eq!(text, "db-vm ssh-ed25519 AAAA2\nweb-vm ssh-ed25519 AAAA3\n");
        forget(&file, "web-vm").unwrap();
        forget(&file, "nothere").unwrap();
        assert_eq!(
            fs::read_to_string(&file).unwrap(),
            "db-vm ssh-ed25519 AAAA2\n"
        );
        assert!(ssh_args(&file, "db-vm", true).contains("StrictHostKeyChecking=yes"));
        let first_use = ssh_args(&file, "db-vm", false);
        assert!(first_use.contains("StrictHostKeyChecking=accept-new"));
        assert!(is_first_use(&first_use) && !is_first_use(&ssh_args(&file, "x", true)));
    }
}
