//! The seam between the commands and the hypervisors: `trait Backend` is the only way a command
//! reaches one. The implementations live in `crates/vm-backends` (one folder each), so that this
//! crate — and the light `vm` program built from it — never links libvirt, TLS or HTTP code;
//! `vm-backends` hands its `open` to the commands as an [`Opener`].

use std::cell::RefCell;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::guest::hostkey::HostKey;
use crate::inventory::check::Presence;
use crate::inventory::fragment::{Address, Marker};
use crate::inventory::lock::InventoryLock;
use crate::output::Reporter;
use crate::project::Project;
use crate::settings::Settings;

/// The kinds of backend, as flags, vm.toml and fragment markers name them.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Deserialize,
    Serialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// libvirt, through the `virt` crate.
    Libvirt,
    /// A Terraform (or OpenTofu) module, one workspace per VM.
    Terraform,
    /// A Proxmox VE cluster, through its API: a template cloned per VM.
    Proxmox,
}

impl BackendKind {
    /// The name in markers and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Libvirt => "libvirt",
            BackendKind::Terraform => "terraform",
            BackendKind::Proxmox => "proxmox",
        }
    }

    /// The kind a marker names; `None` for `external` (hosts of `vm inventory add`) and for
    /// names no backend of this version knows.
    pub fn from_marker(backend: &str) -> Option<BackendKind> {
        <BackendKind as clap::ValueEnum>::from_str(backend, false).ok()
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A backend and how to reach it: a libvirt URI, a Terraform module folder.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    /// Which backend.
    pub kind: BackendKind,
    /// Its connection, as recorded in fragment markers.
    pub connection: String,
}

impl Target {
    /// The target a managed fragment's marker names, if a backend can look it up.
    pub fn from_marker(marker: &Marker) -> Option<Target> {
        Some(Target {
            kind: BackendKind::from_marker(&marker.backend)?,
            connection: marker.connection.clone(),
        })
    }

    /// The same target reached through `uri` instead, when `--connect URI` names one and the
    /// target is a libvirt connection (other backends have no URI to override).
    pub fn reconnected(mut self, uri: Option<&str>) -> Target {
        if let (Some(uri), BackendKind::Libvirt) = (uri, self.kind) {
            self.connection = uri.to_string();
        }
        self
    }

    /// The marker fragments of this target's VMs carry.
    pub fn marker(&self) -> Result<Marker, Error> {
        Ok(Marker::new(self.kind.as_str(), &self.connection)?)
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            BackendKind::Libvirt => write!(f, "{}", self.connection),
            BackendKind::Terraform => write!(f, "Terraform module {}", self.connection),
            BackendKind::Proxmox => write!(f, "Proxmox VE {}", self.connection),
        }
    }
}

/// Opens the backend of a target with the settings it needs (`vm-backends` provides it).
pub type Opener = fn(&Target, &Settings) -> Result<Box<dyn Backend>, BackendError>;

/// Inputs `vm` itself gives every Terraform module (`--tf-var` may not set them).
pub const TERRAFORM_INPUTS: [&str; 5] = [
    "vm_name",
    "memory",
    "vcpus",
    "ssh_host_key",
    "ssh_host_public_key",
];

/// One VM to make, as the pipeline hands it to a backend (validated).
#[derive(Debug)]
pub struct NewVm<'a> {
    /// Domain name, host name, fragment name.
    pub name: &'a str,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// Virtual CPUs.
    pub vcpus: u32,
    /// The user cloud-init creates.
    pub user: &'a str,
    /// Public keys for `user`.
    pub ssh_keys: &'a [String],
    /// The VM's SSH host key, made by `vm`: a backend that can put it into the guest through a
    /// channel nobody on the network can forge does so.
    pub host_key: &'a HostKey,
    /// The project folder, recorded with the VM: a project sees only its own VMs.
    pub project: String,
    /// The project's `templates/` folder (overrides of the built-in templates).
    pub templates: PathBuf,
    /// Bound of any wait inside creation (a module's address output).
    pub timeout: Duration,
}

/// What creating needs from the project: the inventory lock and the ports its hosts use on
/// 127.0.0.1, for a backend that forwards one (taken under that lock, so parallel provisions
/// never pick the same port).
pub struct CreateEnv<'a> {
    /// Takes the inventory lock.
    pub lock: &'a dyn Fn() -> Result<InventoryLock, Error>,
    /// Ports of 127.0.0.1 the inventory's hosts use (read under the lock).
    pub local_ports: &'a dyn Fn() -> Vec<u16>,
    /// For details (`-v`).
    pub reporter: Reporter,
    /// Call a few times a second during long steps: keeps a progress display alive.
    pub tick: &'a dyn Fn(),
}

/// How the VM's host key reached `vm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeySource {
    /// The key `vm` made went into the guest through an authenticated channel (the seed, the
    /// module's inputs, echoed by its output).
    Installed,
    /// The backend reported the guest's own key through an authenticated channel.
    Reported(String),
    /// No such channel: the first connection pins the key (`accept-new`).
    FirstUse,
}

/// What a backend made.
#[derive(Debug, Clone)]
pub struct Created {
    /// Where SSH answers, when known at once (a forwarded port, a module output); `None`:
    /// poll [`Backend::address`].
    pub address: Option<Address>,
    /// The login user, when the backend says (a module's `ansible_user`).
    pub user: Option<String>,
    /// How the host key is known.
    pub host_key: HostKeySource,
    /// A log whose last lines explain a VM that does not come up (serial console, Terraform).
    pub log: Option<(&'static str, PathBuf)>,
    /// What the fragment's marker records besides backend and connection to find the VM again
    /// (Proxmox: node and VMID).
    pub details: Vec<(String, String)>,
}

/// What a destroy removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Destroyed {
    /// Whether the VM existed.
    pub existed: bool,
    /// Volumes (paths) deleted.
    pub volumes: Vec<String>,
}

/// A VM as its backend sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmInfo {
    /// Name.
    pub name: String,
    /// `running`, `shut off`, `applied`, …
    pub state: String,
    /// Memory in MiB, when known.
    pub memory_mib: Option<u64>,
    /// Virtual CPUs, when known.
    pub vcpus: Option<u32>,
    /// Where Ansible reaches it (`host` or `host:port`), when the backend knows.
    pub address: Option<String>,
    /// The project folder recorded at creation (`None`: made before projects were recorded).
    pub project: Option<String>,
}

/// A hypervisor, as the commands see it.
pub trait Backend {
    /// Which backend, and how it is reached.
    fn target(&self) -> &Target;

    /// Checks everything that can be checked against the real host before any side effect.
    fn preflight(&self, vm: &NewVm) -> Result<(), BackendError>;

    /// Makes the VM and starts it. A failure removes what this call made (unless
    /// `keep_on_failure`), and says what it could not remove.
    fn create(
        &self,
        vm: &NewVm,
        env: &CreateEnv,
        keep_on_failure: bool,
    ) -> Result<Created, BackendError>;

    /// The VM's current address, `None` while it has none.
    fn address(&self, name: &str) -> Result<Option<Address>, BackendError>;

    /// Removes the VM and its disks (`keep_disk`: not its disks). A VM already gone is not an
    /// error (`existed` is false).
    fn destroy(&self, name: &str, keep_disk: bool) -> Result<Destroyed, BackendError>;

    /// The VMs of `project` this backend holds.
    fn list(&self, project: &Project) -> Result<Vec<VmInfo>, BackendError>;

    /// Whether the VM behind a managed fragment exists, with its address.
    fn presence(&self, name: &str) -> Presence;

    /// The command that removes what a failed destroy or rollback left of `name`.
    fn cleanup_hint(&self, name: &str) -> String;

    /// Gives the VM `memory_mib` and `vcpus` in its configuration; says whether it must be
    /// restarted for them to take effect.
    fn resize(&self, name: &str, memory_mib: u64, vcpus: u32) -> Result<Resized, BackendError>;

    /// Stops and starts the VM, so that a changed configuration takes effect.
    fn restart(&self, name: &str) -> Result<(), BackendError>;

    /// Starts, stops or reboots the VM (`vm start|stop|reboot`); a graceful stop or reboot
    /// waits at most `timeout` for the guest. Says when the VM was already as asked.
    fn power(&self, name: &str, action: Power, timeout: Duration) -> Result<Powered, BackendError>;

    /// The program (and its arguments) that attaches the terminal to the VM's serial console.
    fn console(&self, name: &str) -> Result<Vec<String>, BackendError>;

    /// Whether the backend discovers the address of a VM recorded at `recorded` (a DHCP lease,
    /// the guest agent) and so may find a new one after a start; `false` when the address is
    /// fixed by construction (a forwarded port, a module output).
    fn discovers_address(&self, recorded: &Address) -> bool;
}

/// A power change (`vm start|stop|reboot`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    /// Start a stopped VM.
    Start,
    /// Shut down: `force` pulls the plug at once instead of asking the guest.
    Stop {
        /// Hard power-off.
        force: bool,
    },
    /// Reboot: `force` resets at once instead of asking the guest.
    Reboot {
        /// Hard reset.
        force: bool,
    },
}

impl Power {
    /// The command's verb: `start`, `stop`, `reboot`.
    pub fn verb(self) -> &'static str {
        match self {
            Power::Start => "start",
            Power::Stop { .. } => "stop",
            Power::Reboot { .. } => "reboot",
        }
    }
}

/// What a power change found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Powered {
    /// Done as asked.
    Done,
    /// The VM was already running (start) or off (stop).
    Already,
}

/// What a resize did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resized {
    /// The VM runs with the old size until it is restarted (`vm apply --restart`).
    pub restart_needed: bool,
}

/// A backend opened (or why it could not be), shared by everyone who asks for its target.
pub type Opened = std::rc::Rc<Result<Box<dyn Backend>, String>>;

/// Backends opened once per target and kept for the command's lifetime (check and list ask
/// each target several times).
pub struct Backends<'a> {
    settings: &'a Settings,
    open: Opener,
    opened: RefCell<Vec<(Target, Opened)>>,
}

impl<'a> Backends<'a> {
    /// No backend opened yet.
    pub fn new(settings: &'a Settings, open: Opener) -> Self {
        Backends {
            settings,
            open,
            opened: RefCell::new(Vec::new()),
        }
    }

    /// The backend of `target`, opened on first use; the error text when it cannot be.
    pub fn get(&self, target: &Target) -> Opened {
        if let Some((_, backend)) = self.opened.borrow().iter().find(|(t, _)| t == target) {
            return backend.clone();
        }
        let backend =
            std::rc::Rc::new((self.open)(target, self.settings).map_err(|e| e.to_string()));
        self.opened
            .borrow_mut()
            .push((target.clone(), backend.clone()));
        backend
    }
}

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DomainType {
    /// KVM when the host has `/dev/kvm` and the connection is local, else TCG.
    Auto,
    /// Hardware virtualization.
    Kvm,
    /// Software emulation (TCG): slow, but works everywhere, nested hosts included.
    Qemu,
}

/// The firmware that boots a libvirt VM: `<os firmware=…>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Firmware {
    /// SeaBIOS: boots the disk's MBR boot code (GRUB's boot.img and core.img on a GPT disk).
    Bios,
    /// OVMF, chosen by libvirt's firmware autoselection, secure boot off, with NVRAM of its own
    /// per VM: boots the EFI System Partition's `\EFI\BOOT\BOOTX64.EFI`.
    Uefi,
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

/// Backend failures, each with what to do.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The libvirt connection failed.
    #[error(
        "cannot connect to libvirt at {uri}: {message}; check that libvirtd runs and that you may use it (or pass --connect URI)"
    )]
    Connect {
        /// The URI.
        uri: String,
        /// libvirt's message.
        message: String,
    },
    /// The libvirt host's SSH host key did not verify (unknown, or another key than the one
    /// known_hosts holds): nothing was sent to it.
    #[error(
        "the SSH host key of the libvirt host at {uri} did not verify, so vm did not connect: \
         {message}\nIf the host's key really changed, compare its fingerprint with the host's \
         administrator (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on it) before putting \
         it in the known_hosts file ssh uses (README: Remote libvirt hosts)"
    )]
    HostKey {
        /// The URI.
        uri: String,
        /// libvirt's message, with OpenSSH's reason.
        message: String,
    },
    /// Input that the host cannot satisfy (memory, CPUs, image, pool, name taken).
    #[error("{0}")]
    Invalid(String),
    /// The VM is shut off, and the command needs it running (reboot, console).
    #[error("{0} is not running; `vm start {0}` starts it")]
    NotRunning(String),
    /// A libvirt call or a Terraform run failed.
    #[error("{action}: {message}")]
    Call {
        /// What we were doing.
        action: String,
        /// libvirt's message.
        message: String,
    },
    /// Waiting for the VM (address or SSH) took too long.
    #[error("timed out after {} waiting for {what} of {name}{tail}", crate::output::human(*waited))]
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
    /// A step failed and undoing what was made failed too.
    #[error("{error}\nrolling back failed: {left} is left; remove it with `{hint}`")]
    Leftover {
        /// The step that failed.
        error: Box<BackendError>,
        /// What is left.
        left: String,
        /// The command that removes it.
        hint: String,
    },
}
