//! `vm apply`: a file of VMs keyed by stable names (`vms.toml`), planned against what exists
//! (`plan.rs`) and carried out in parallel with a stagger (`run.rs`). A VM made by `apply`
//! records its key and the file in its fragment's marker: the key is its identity, so adding or
//! removing one entry never disturbs the others.

pub mod plan;
pub mod run;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::backend::{BackendKind, DomainType, Firmware};
use crate::cli::{ProvisionArgs, ValidateArg};
use crate::error::Error;

/// Marker detail naming the key of the VM in its file.
pub const KEY_DETAIL: &str = "apply_key";
/// Marker detail naming the file (relative to the project, percent-encoded).
pub const FILE_DETAIL: &str = "apply_file";

/// Settings one entry (or `[defaults]`) may give: the flags of `vm provision`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The VM's name (default: the key). Not in `[defaults]`.
    pub name: Option<String>,
    /// Memory in MiB.
    pub memory: Option<u64>,
    /// vCPUs.
    pub vcpus: Option<u32>,
    /// Backend.
    pub backend: Option<BackendKind>,
    /// Inventory groups (added to vm.toml's; an entry's replace `[defaults]`').
    pub groups: Option<Vec<String>>,
    /// Host variables, kept as strings (an entry's are added to `[defaults]`').
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// The user cloud-init creates.
    pub user: Option<String>,
    /// The user's public key file.
    pub ssh_key: Option<PathBuf>,
    /// Bound of every wait, seconds.
    pub timeout: Option<u64>,
    /// libvirt URI.
    pub connect: Option<String>,
    /// Base image.
    pub image: Option<String>,
    /// Disk size.
    pub disk: Option<String>,
    /// Storage pool.
    pub pool: Option<String>,
    /// Make the disk even when the pool has less room than it can grow to.
    pub allow_overcommit: Option<bool>,
    /// Network.
    pub network: Option<String>,
    /// Domain type.
    pub domain_type: Option<DomainType>,
    /// Firmware.
    pub firmware: Option<Firmware>,
    /// Direct kernel boot.
    pub kernel: Option<String>,
    /// Initrd.
    pub initrd: Option<String>,
    /// Kernel command line.
    pub cmdline: Option<String>,
    /// Terraform module folder.
    pub terraform_dir: Option<PathBuf>,
    /// Terraform program.
    pub terraform_bin: Option<String>,
    /// Terraform variables, as strings.
    #[serde(default)]
    pub tf_vars: BTreeMap<String, String>,
    /// Proxmox template.
    pub template: Option<String>,
    /// Proxmox node.
    pub node: Option<String>,
}

/// `vms.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmsFile {
    /// What every entry gets unless it says otherwise.
    #[serde(default)]
    pub defaults: Entry,
    /// The VMs, by key, in key order.
    #[serde(default)]
    pub vms: BTreeMap<String, Entry>,
}

/// The file and how it is named in markers.
#[derive(Debug, Clone)]
pub struct Source {
    /// Its path.
    pub path: PathBuf,
    /// How markers name it: the path relative to the project (else absolute), percent-encoded.
    pub id: String,
    /// Its content.
    pub file: VmsFile,
}

impl Source {
    /// Reads and checks `path` (keys, names, no name used twice).
    pub fn read(path: &Path, project_root: &Path) -> Result<Source, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Usage(format!(
                "cannot read {}: {e}; write a vms.toml ([defaults] and [vms.NAME] tables) or pass -f FILE",
                path.display()
            ))
        })?;
        let file: VmsFile = toml::from_str(&text).map_err(|e| {
            Error::Usage(format!("{}: {}", path.display(), e.to_string().trim_end()))
        })?;
        if file.defaults.name.is_some() {
            return Err(Error::Usage(format!(
                "{}: [defaults] cannot set name; give each VM its name in its own [vms.KEY] table",
                path.display()
            )));
        }
        let mut names: BTreeMap<String, &str> = BTreeMap::new();
        for (key, entry) in &file.vms {
            let key_ok = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !key_ok {
                return Err(Error::Usage(format!(
                    "{}: key {key:?} may hold only letters, digits, '-', '_' and '.'",
                    path.display()
                )));
            }
            let name = entry.name.clone().unwrap_or_else(|| key.clone());
            crate::inventory::fragment::validate_name(&name)?;
            if let Some(other) = names.insert(name.clone(), key) {
                return Err(Error::Usage(format!(
                    "{}: [vms.{other}] and [vms.{key}] are both named {name}; each VM needs its own name",
                    path.display()
                )));
            }
        }
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let root = std::path::absolute(project_root).unwrap_or_else(|_| project_root.into());
        let shown = absolute.strip_prefix(&root).unwrap_or(&absolute);
        Ok(Source {
            path: path.to_path_buf(),
            id: crate::fsutil::percent_encode(&shown.display().to_string()),
            file,
        })
    }

    /// The `vm provision` flags of entry `key`: the entry over `[defaults]`; relative paths
    /// are relative to the file's folder.
    pub fn provision_args(&self, key: &str, entry: &Entry, no_wait: bool) -> ProvisionArgs {
        let d = &self.file.defaults;
        let folder = self.path.parent().unwrap_or(Path::new("."));
        let here = |path: PathBuf| {
            if path.is_relative() {
                folder.join(path)
            } else {
                path
            }
        };
        let pick = |own: &Option<String>, default: &Option<String>| own.clone().or(default.clone());
        let mut vars: BTreeMap<String, String> = d.vars.clone();
        vars.extend(entry.vars.clone());
        let mut tf_vars = d.tf_vars.clone();
        tf_vars.extend(entry.tf_vars.clone());
        ProvisionArgs {
            name: entry.name.clone().unwrap_or_else(|| key.to_string()),
            memory_mib: entry.memory.or(d.memory),
            vcpus: entry.vcpus.or(d.vcpus),
            backend: entry.backend.or(d.backend),
            connect: pick(&entry.connect, &d.connect),
            image: pick(&entry.image, &d.image),
            disk: pick(&entry.disk, &d.disk),
            pool: pick(&entry.pool, &d.pool),
            allow_overcommit: entry
                .allow_overcommit
                .or(d.allow_overcommit)
                .unwrap_or(false),
            network: pick(&entry.network, &d.network),
            user: pick(&entry.user, &d.user),
            ssh_key: entry.ssh_key.clone().or(d.ssh_key.clone()).map(here),
            groups: entry
                .groups
                .clone()
                .or(d.groups.clone())
                .unwrap_or_default(),
            vars: vars.into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
            timeout: entry.timeout.or(d.timeout),
            no_wait,
            keep_on_failure: false,
            domain_type: entry.domain_type.or(d.domain_type),
            firmware: entry.firmware.or(d.firmware),
            kernel: pick(&entry.kernel, &d.kernel),
            initrd: pick(&entry.initrd, &d.initrd),
            cmdline: pick(&entry.cmdline, &d.cmdline),
            terraform_dir: entry
                .terraform_dir
                .clone()
                .or(d.terraform_dir.clone())
                .map(here),
            terraform_bin: pick(&entry.terraform_bin, &d.terraform_bin),
            tf_vars: tf_vars
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
            template: pick(&entry.template, &d.template),
            node: pick(&entry.node, &d.node),
            validate: ValidateArg { validate: None },
        }
    }
}

/// The names of the VMs `source` made that have a fragment here (for `vm destroy --all`).
pub fn made_by(context: &crate::commands::Context, source: &Source) -> Vec<String> {
    let dir = context.settings.project.fragment_dir();
    crate::inventory::merge::collect(&dir)
        .unwrap_or_default()
        .iter()
        .filter(|fragment| {
            crate::inventory::fragment::read_marker(&fragment.path)
                .ok()
                .flatten()
                .is_some_and(|m| m.detail(FILE_DETAIL) == Some(source.id.as_str()))
        })
        .map(crate::inventory::check::fragment_host)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_vms(text: &str) -> Result<Source, Error> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vms.toml");
        std::fs::write(&path, text).unwrap();
        Source::read(&path, dir.path())
    }

    #[test]
    fn firmware_comes_from_the_entry_else_the_defaults_and_only_bios_or_uefi_is_taken() {
        let source =
            read_vms("[defaults]\nfirmware = \"uefi\"\n[vms.a]\n[vms.b]\nfirmware = \"bios\"\n")
                .unwrap();
        let firmware = |key: &str| {
            source
                .provision_args(key, &source.file.vms[key], false)
                .firmware
        };
        assert_eq!(firmware("a"), Some(Firmware::Uefi));
        assert_eq!(firmware("b"), Some(Firmware::Bios));
        let err = read_vms("[vms.a]\nfirmware = \"efi\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("vms.toml") && err.contains("expected `bios` or `uefi`"),
            "{err}"
        );
    }
}
