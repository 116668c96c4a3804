//! Backends make and remove VMs; the commands then write or remove the VM's inventory fragment.
//!
//! Two implementations are planned from the start (DESIGN.md): libvirt through the `virt`
//! crate, and Terraform. Only libvirt exists so far.

pub mod libvirt;
pub mod terraform;
pub mod xml;

use std::time::Duration;

/// How a VM reaches the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkChoice {
    /// A libvirt network by name; the address comes from DHCP lease, guest agent or ARP.
    Named(String),
    /// QEMU user-mode networking, the guest's port 22 forwarded to this port on 127.0.0.1.
    User {
        /// The host port, chosen by the caller under the inventory lock.
        port: u16,
    },
}

/// `<domain type=…>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainType {
    /// KVM when the host has `/dev/kvm` and the connection is local, else TCG.
    Auto,
    /// Hardware virtualization.
    Kvm,
    /// Software emulation (TCG): slow, but works everywhere, nested hosts included.
    Qemu,
}

impl std::str::FromStr for DomainType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(DomainType::Auto),
            "kvm" => Ok(DomainType::Kvm),
            "qemu" => Ok(DomainType::Qemu),
            _ => Err(format!("{s:?} is not one of auto, kvm, qemu")),
        }
    }
}

/// Direct kernel boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelBoot {
    /// Kernel image path on the libvirt host.
    pub kernel: String,
    /// Initrd path on the libvirt host.
    pub initrd: Option<String>,
    /// Kernel command line.
    pub cmdline: Option<String>,
}

/// Everything needed to create one VM, validated by the command before it gets here.
#[derive(Debug, Clone)]
pub struct VmSpec {
    /// Domain name, host name, fragment name.
    pub name: String,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// Virtual CPUs.
    pub vcpus: u32,
    /// Base image: a volume name in `pool`, or an absolute path on the libvirt host.
    pub image: String,
    /// Size to grow the disk to, in bytes; the base image's size when `None`.
    pub disk_bytes: Option<u64>,
    /// Storage pool for the overlay and the seed.
    pub pool: String,
    /// Network.
    pub network: NetworkChoice,
    /// The user cloud-init creates.
    pub user: String,
    /// Public keys for `user`, validated.
    pub ssh_keys: Vec<String>,
    /// Domain type.
    pub domain_type: DomainType,
    /// Direct kernel boot, if asked.
    pub kernel: Option<KernelBoot>,
    /// The project's `templates/` folder (overrides of the built-in templates).
    pub templates: std::path::PathBuf,
    /// The project folder, recorded in the domain: a project sees only its own VMs.
    pub project: String,
}

/// A VM as a backend sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VmInfo {
    /// Name.
    pub name: String,
    /// `running`, `shut off`, …
    pub state: String,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// Virtual CPUs.
    pub vcpus: u32,
    /// Where Ansible reaches it (`host` or `host:port`), when known.
    pub address: Option<String>,
    /// How to reach the backend again (the libvirt URI).
    pub connection: String,
    /// The project folder recorded at creation.
    pub project: Option<String>,
}

/// What a provision made, for the fragment and the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    /// Address Ansible connects to.
    pub host: String,
    /// SSH port, when not 22.
    pub port: Option<u16>,
    /// Path of the serial console log, for diagnosis.
    pub console_log: String,
}

/// What a destroy removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Destroyed {
    /// Whether a domain existed.
    pub domain: bool,
    /// Volumes (paths) deleted.
    pub volumes: Vec<String>,
}

/// Backend failures, each with what to do.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The hypervisor connection failed.
    #[error(
        "cannot connect to libvirt at {uri}: {message}; check that libvirtd runs and that you may use it (or pass --connect URI)"
    )]
    Connect {
        /// The URI.
        uri: String,
        /// libvirt's message.
        message: String,
    },
    /// Input that the host cannot satisfy (memory, CPUs, image, pool, name taken).
    #[error("{0}")]
    Invalid(String),
    /// A libvirt call or a Terraform run failed.
    #[error("{action}: {message}")]
    Call {
        /// What we were doing.
        action: String,
        /// libvirt's message.
        message: String,
    },
    /// Waiting for the VM (address or SSH) took too long.
    #[error("timed out after {waited:?} waiting for {what} of {name}{tail}")]
    Timeout {
        /// The VM.
        name: String,
        /// What we waited for.
        what: &'static str,
        /// How long.
        waited: Duration,
        /// The last lines of the serial console, when there is one.
        tail: String,
    },
    /// The forwarded SSH port was taken by the time QEMU started (another project, another
    /// program): nothing was kept; try another port.
    #[error("port {0} on 127.0.0.1 is already in use")]
    PortTaken(u16),
    /// A template failed.
    #[error("{0}")]
    Template(String),
}
