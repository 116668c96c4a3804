//! The opt-in second opinion: run the real `ansible-inventory` on the new merged file before it
//! replaces the old one, and require that Ansible lists exactly what our parser found.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as Json;

/// Why Ansible's check refused the new file.
#[derive(Debug, thiserror::Error)]
pub enum AnsibleCheckError {
    /// The program could not be started.
    #[error(
        "cannot run {program}: {source}; install ansible-core, set `ansible_inventory` in vm.toml, \
         or use --validate internal"
    )]
    Spawn {
        /// The program.
        program: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Ansible could not parse the file.
    #[error("ansible-inventory refused the merged inventory:\n{0}")]
    Refused(String),
    /// Ansible parsed it but read something else than the tool did: a bug in `vm`.
    #[error(
        "ansible-inventory reads the merged inventory differently from vm (a bug in vm, please \
         report it): {0}"
    )]
    Mismatch(String),
}

/// Runs `program -i file --list --export` with every unparsed source fatal and only the INI
/// plugin enabled, and compares its listing with `expected`.
pub fn check(program: &Path, file: &Path, expected: &Json) -> Result<(), AnsibleCheckError> {
    let output = Command::new(program)
        .arg("-i")
        .arg(file)
        .args(["--list", "--export"])
        .env("ANSIBLE_INVENTORY_ENABLED", "ini")
        .env("ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED", "True")
        .env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "True")
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .map_err(|source| AnsibleCheckError::Spawn {
            program: program.to_path_buf(),
            source,
        })?;
    if !output.status.success() {
        return Err(AnsibleCheckError::Refused(
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ));
    }
    let listed: Json = serde_json::from_slice(&output.stdout)
        .map_err(|e| AnsibleCheckError::Mismatch(format!("its output is not JSON: {e}")))?;
    if &listed == expected {
        Ok(())
    } else {
        Err(AnsibleCheckError::Mismatch(format!(
            "ansible-inventory lists {listed}, vm expected {expected}"
        )))
    }
}
