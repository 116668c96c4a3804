//! Where a project lives and what its `vm.toml` says.
//!
//! The project folder is `--project`, else `VM_PROJECT`, else the nearest ancestor of the working
//! folder that holds `vm.toml` or `ansible/inventory.d`, else the working folder itself.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::inventory::merge::{FRAGMENT_DIR, MERGED_FILE};

/// Name of the optional project configuration file.
pub const CONFIG_FILE: &str = "vm.toml";

/// Problems finding or reading the project.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// `vm.toml` exists but cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// `vm.toml` is not valid TOML or has unknown keys.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line.
        message: String,
    },
    /// The working folder cannot be determined.
    #[error("cannot determine the working folder: {0}")]
    Cwd(std::io::Error),
}

/// How the merged inventory is validated before it replaces the old one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Validate {
    /// The tool's own parser; also Ansible when it is configured or on `PATH`.
    Auto,
    /// The tool's own parser only (proven equal to Ansible's by the differential tests).
    Internal,
    /// Also the real `ansible-inventory` on the new file before it replaces the old one.
    Ansible,
}

/// `vm.toml`: defaults for flags. Every key is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Default for `--validate`.
    pub validate: Option<Validate>,
    /// The `ansible-inventory` program for `--validate ansible|auto`.
    pub ansible_inventory: Option<PathBuf>,
    /// Default for `--lock-timeout`, in seconds.
    pub lock_timeout: Option<u64>,
    /// Default memory of `provision`, in MiB.
    pub memory: Option<u64>,
    /// Default vCPUs of `provision`.
    pub vcpus: Option<u32>,
    /// Default `--backend`.
    pub backend: Option<crate::backend::BackendKind>,
    /// Default `--connect` (a libvirt URI).
    pub connect: Option<String>,
    /// Default `--image`: a volume name in the pool, or an absolute path on the libvirt host.
    pub image: Option<String>,
    /// Default `--disk` size (e.g. `20G`).
    pub disk: Option<String>,
    /// Default `--pool`.
    pub pool: Option<String>,
    /// Default `--allow-overcommit`.
    pub allow_overcommit: Option<bool>,
    /// Default `--network` (a libvirt network name, or `user`).
    pub network: Option<String>,
    /// Default `--user`.
    pub user: Option<String>,
    /// Default `--ssh-key` (a public key file).
    pub ssh_key: Option<PathBuf>,
    /// Default `--timeout`, in seconds.
    pub timeout: Option<u64>,
    /// Default `--domain-type`.
    pub domain_type: Option<crate::backend::DomainType>,
    /// Default `--firmware`.
    pub firmware: Option<crate::backend::Firmware>,
    /// Default `--kernel` (direct kernel boot; an absolute path on the libvirt host).
    pub kernel: Option<String>,
    /// Default `--initrd` (an absolute path on the libvirt host).
    pub initrd: Option<String>,
    /// Default `--cmdline`.
    pub cmdline: Option<String>,
    /// Default `--terraform-dir`.
    pub terraform_dir: Option<PathBuf>,
    /// Default `--terraform-bin`.
    pub terraform_bin: Option<String>,
    /// Groups every provisioned VM joins.
    #[serde(default)]
    pub groups: Vec<String>,
    /// `[proxmox]`: the cluster and how VMs are made on it.
    pub proxmox: Option<ProxmoxConfig>,
    /// `[dns]`: records for VMs, by signed dynamic updates.
    pub dns: Option<crate::dns::DnsConfig>,
}

/// How full a Proxmox clone is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CloneMode {
    /// A full copy of the template's disks (the default).
    #[default]
    Full,
    /// A linked clone: the template's disks are the base (same node and storage).
    Linked,
}

/// `[proxmox]` of vm.toml. The API token is never here: `VM_PROXMOX_TOKEN`, or `token_file`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxmoxConfig {
    /// `https://pve1.lan:8006`.
    pub url: Option<String>,
    /// The node new VMs go to; omitted: the online node with the most free memory.
    pub node: Option<String>,
    /// The cloud-init template: a name or a VMID.
    pub template: Option<String>,
    /// Storage for full clones.
    pub storage: Option<String>,
    /// `full` (default) or `linked`.
    pub clone: Option<CloneMode>,
    /// PEM file of the CA that signed the API's certificate.
    pub ca_file: Option<PathBuf>,
    /// SHA-256 fingerprint of the API's certificate (`pvenode cert info`).
    pub fingerprint: Option<String>,
    /// VMIDs vm may use, first and last.
    pub vmid_range: Option<[u32; 2]>,
    /// Bridge of net0 (default: the template's).
    pub bridge: Option<String>,
    /// A file (mode 0600) holding the API token `user@realm!tokenid=secret`.
    pub token_file: Option<PathBuf>,
}

/// A located project.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project folder.
    pub root: PathBuf,
    /// Its `vm.toml`, or defaults.
    pub config: Config,
}

impl Project {
    /// Finds the project from `--project` (already merged with `VM_PROJECT` by clap).
    pub fn locate(explicit: Option<&Path>) -> Result<Project, ProjectError> {
        let root = match explicit {
            Some(dir) => dir.to_path_buf(),
            None => {
                let cwd = std::env::current_dir().map_err(ProjectError::Cwd)?;
                cwd.ancestors()
                    .find(|dir| {
                        dir.join(CONFIG_FILE).is_file()
                            || dir.join("ansible").join(FRAGMENT_DIR).is_dir()
                    })
                    .map_or(cwd.clone(), Path::to_path_buf)
            }
        };
        let config = Self::read_config(&root.join(CONFIG_FILE))?;
        Ok(Project { root, config })
    }

    fn read_config(path: &Path) -> Result<Config, ProjectError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => {
                return Err(ProjectError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        toml::from_str(&text).map_err(|e| ProjectError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })
    }

    /// `ansible/`.
    pub fn ansible_dir(&self) -> PathBuf {
        self.root.join("ansible")
    }

    /// `ansible/inventory.d/`.
    pub fn fragment_dir(&self) -> PathBuf {
        self.ansible_dir().join(FRAGMENT_DIR)
    }

    /// `ansible/inventory.ini`.
    pub fn merged_path(&self) -> PathBuf {
        self.ansible_dir().join(MERGED_FILE)
    }

    /// `ansible/known_hosts`: the host keys of the project's VMs, under their names.
    pub fn known_hosts(&self) -> PathBuf {
        self.ansible_dir().join(crate::guest::hostkey::KNOWN_HOSTS)
    }

    /// How VMs record the project they belong to: its folder, absolute.
    pub fn id(&self) -> String {
        std::fs::canonicalize(&self.root)
            .unwrap_or_else(|_| self.root.clone())
            .display()
            .to_string()
    }

    /// Whether a VM that recorded `project` belongs to this project (VMs made before projects
    /// were recorded belong to every project).
    pub fn owns(&self, project: Option<&str>) -> bool {
        project.is_none_or(|p| p == self.id())
    }

    /// `.vm/`: the tool's own state (Terraform variables and log).
    pub fn state_dir(&self) -> PathBuf {
        self.root.join(".vm")
    }

    /// `templates/`, whose files override the built-in templates.
    pub fn templates_dir(&self) -> PathBuf {
        self.root.join("templates")
    }
}
