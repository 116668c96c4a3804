//! Flags, `vm.toml` and the environment, resolved once into typed settings the commands
//! consume. Every default is defined here, once; no command merges a flag with the config.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::backend::{BackendKind, DomainType, Firmware, KernelBoot, NetworkChoice, Target};
use crate::cli::{Cli, ProvisionArgs};
use crate::error::Error;
use crate::fsutil;
use crate::inventory::fragment;
use crate::output::Reporter;
use crate::project::{CloneMode, Project, ProxmoxConfig, Validate};

/// Default `--lock-timeout`, seconds.
pub const LOCK_TIMEOUT_SECS: u64 = 60;
/// Default memory, MiB.
pub const MEMORY_MIB: u64 = 4096;
/// Default vCPUs.
pub const VCPUS: u32 = 2;
/// Default wait for address, SSH and cloud-init, seconds.
pub const TIMEOUT_SECS: u64 = 300;
/// Default cloud-init user.
pub const USER: &str = "debian";
/// Default storage pool.
pub const POOL: &str = "default";
/// Default libvirt network.
pub const NETWORK: &str = "default";
/// Default Terraform program.
pub const TERRAFORM_BIN: &str = "terraform";
/// Default kernel command line with `--kernel`: the root partition of images laid out like
/// Debian's genericcloud ones (scripts/build-guest-image's too: partition 1, last on the disk),
/// with the console on the serial port we log.
pub const CMDLINE: &str = "root=/dev/vda1 rw console=ttyS0";
/// Default firmware of libvirt VMs: SeaBIOS, which every QEMU host has (UEFI needs OVMF).
pub const FIRMWARE: Firmware = Firmware::Bios;
/// Memory range accepted, MiB (64 MiB to 4 TiB).
pub const MEMORY_RANGE: std::ops::RangeInclusive<u64> = 64..=4 * 1024 * 1024;
/// vCPU range accepted.
pub const VCPU_RANGE: std::ops::RangeInclusive<u32> = 1..=1024;

/// What every command gets: where the project is and how to behave.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The located project and its `vm.toml`.
    pub project: Project,
    /// Diagnostics on stderr.
    pub reporter: Reporter,
    /// `--json`: typed rows on stdout, nothing else.
    pub json: bool,
    /// How long to wait for the inventory lock.
    pub lock_timeout: Duration,
    /// How merges validate, unless a command's `--validate` says otherwise.
    pub validate: Validate,
    /// The configured `ansible-inventory` (vm.toml, else `VM_ANSIBLE_INVENTORY`).
    pub ansible_inventory: Option<PathBuf>,
    /// The backend new VMs go to.
    pub backend: BackendKind,
    /// libvirt settings (flags of `provision` included when it runs).
    pub libvirt: LibvirtSettings,
    /// Terraform settings.
    pub terraform: TerraformSettings,
    /// Proxmox VE settings.
    pub proxmox: ProxmoxSettings,
    /// DNS records for VMs, when `[dns]` is configured.
    pub dns: Option<crate::dns::DnsSettings>,
}

/// Which Proxmox VE cluster, and how VMs are made on it. The token is read by the backend
/// (environment or 0600 file), never kept here.
#[derive(Debug, Clone, Default)]
pub struct ProxmoxSettings {
    /// API URL, `https://host:8006` (no path).
    pub url: Option<String>,
    /// Node for new VMs; `None`: placed on the online node with the most free memory.
    pub node: Option<String>,
    /// Template: name or VMID.
    pub template: Option<String>,
    /// Storage for full clones.
    pub storage: Option<String>,
    /// Full or linked clone.
    pub clone: CloneMode,
    /// CA of the API's certificate.
    pub ca_file: Option<PathBuf>,
    /// Pinned SHA-256 fingerprint of the API's certificate.
    pub fingerprint: Option<String>,
    /// First and last VMID vm may use.
    pub vmid_range: Option<(u32, u32)>,
    /// Bridge of net0.
    pub bridge: Option<String>,
    /// File holding the API token (when `VM_PROXMOX_TOKEN` is not set).
    pub token_file: Option<PathBuf>,
}

/// Where and how libvirt VMs are made.
#[derive(Debug, Clone)]
pub struct LibvirtSettings {
    /// The URI: `--connect`, vm.toml, `LIBVIRT_DEFAULT_URI`, else `qemu:///system` for root and
    /// `qemu:///session` for everyone else.
    pub uri: String,
    /// Whether the URI was named (flag or vm.toml) rather than defaulted.
    pub uri_named: bool,
    /// Base image: a volume of the pool or an absolute path.
    pub image: Option<String>,
    /// Disk size in bytes; the image's when `None`.
    pub disk_bytes: Option<u64>,
    /// Storage pool.
    pub pool: String,
    /// Make the disk even when the pool has less room than it can grow to.
    pub allow_overcommit: bool,
    /// Network.
    pub network: NetworkChoice,
    /// `<domain type=…>`.
    pub domain_type: DomainType,
    /// BIOS or UEFI.
    pub firmware: Firmware,
    /// Direct kernel boot.
    pub kernel: Option<KernelBoot>,
}

/// Which Terraform module, run by which program.
#[derive(Debug, Clone)]
pub struct TerraformSettings {
    /// The module folder, absolute.
    pub dir: PathBuf,
    /// The program (`terraform`, `tofu`, or a path).
    pub bin: String,
    /// `--tf-var`s.
    pub vars: Vec<(String, String)>,
}

/// One VM to provision, validated.
#[derive(Debug, Clone)]
pub struct VmRequest {
    /// VM name: host name, inventory name, fragment name.
    pub name: String,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// Virtual CPUs.
    pub vcpus: u32,
    /// The user cloud-init creates; `None` lets the backend say (a Terraform output), else
    /// [`USER`].
    pub user: Option<String>,
    /// The public key allowed to log in, validated, and the file it came from (`None`: none
    /// given and none in `~/.ssh`; a backend that must install one refuses).
    pub ssh_key: Option<(String, PathBuf)>,
    /// Inventory groups: vm.toml's, then `--group`s, without repeats.
    pub groups: Vec<String>,
    /// `--var`s, kept as strings.
    pub vars: Vec<(String, String)>,
    /// Bound of every wait.
    pub timeout: Duration,
    /// Wait for SSH and cloud-init (`--no-wait` turns it off).
    pub wait: bool,
    /// Keep what was made when a step fails.
    pub keep_on_failure: bool,
    /// `--validate` of the merge.
    pub validate: Validate,
    /// More for the fragment's marker (`vm apply`: the key and the file).
    pub marker_details: Vec<(String, String)>,
}

impl Settings {
    /// Resolves the global flags against `vm.toml` and the environment.
    pub fn resolve(cli: &Cli) -> Result<Settings, Error> {
        let project = Project::locate(cli.project.as_deref())?;
        let config = &project.config;
        let ansible_inventory = config
            .ansible_inventory
            .clone()
            .or_else(|| std::env::var_os("VM_ANSIBLE_INVENTORY").map(PathBuf::from));
        let named_uri = config.connect.clone();
        let terraform_dir = config
            .terraform_dir
            .clone()
            .unwrap_or_else(|| project.root.join("terraform"));
        Ok(Settings {
            reporter: Reporter::new(cli.quiet, cli.verbose),
            json: cli.json,
            lock_timeout: Duration::from_secs(
                cli.lock_timeout
                    .or(config.lock_timeout)
                    .unwrap_or(LOCK_TIMEOUT_SECS),
            ),
            validate: config.validate.unwrap_or(Validate::Auto),
            ansible_inventory,
            backend: config.backend.unwrap_or(BackendKind::Libvirt),
            libvirt: LibvirtSettings {
                uri_named: named_uri.is_some(),
                uri: default_uri(named_uri.as_deref()),
                image: config.image.clone(),
                disk_bytes: config
                    .disk
                    .as_deref()
                    .map(parse_size)
                    .transpose()
                    .map_err(|e| Error::Usage(format!("{e} (disk in vm.toml)")))?,
                pool: config.pool.clone().unwrap_or_else(|| POOL.into()),
                allow_overcommit: config.allow_overcommit.unwrap_or(false),
                network: network(config.network.as_deref().unwrap_or(NETWORK))?,
                domain_type: config.domain_type.unwrap_or(DomainType::Auto),
                firmware: config.firmware.unwrap_or(FIRMWARE),
                kernel: config.kernel.clone().map(|kernel| KernelBoot {
                    kernel,
                    initrd: config.initrd.clone(),
                    cmdline: Some(config.cmdline.clone().unwrap_or_else(|| CMDLINE.into())),
                }),
            },
            terraform: TerraformSettings {
                dir: absolute(&project.root, &terraform_dir),
                bin: config
                    .terraform_bin
                    .clone()
                    .unwrap_or_else(|| TERRAFORM_BIN.into()),
                vars: Vec::new(),
            },
            proxmox: proxmox(&project.root, config.proxmox.clone().unwrap_or_default())?,
            dns: config
                .dns
                .as_ref()
                .map(|dns| crate::dns::DnsSettings::from_config(dns, &project.root))
                .transpose()
                .map_err(|e| Error::Usage(format!("{e} ([dns] in vm.toml)")))?,
            project,
        })
    }

    /// `--connect URI` of destroy and list: a named URI overrides the configured one.
    pub fn with_connect(mut self, connect: Option<&str>) -> Settings {
        if let Some(uri) = connect {
            self.libvirt.uri = uri.to_string();
            self.libvirt.uri_named = true;
        }
        self
    }

    /// How long a command waits for a VM: its `--timeout`, else vm.toml's, else the default.
    pub fn wait_timeout(&self, flag: Option<u64>) -> Duration {
        Duration::from_secs(flag.or(self.project.config.timeout).unwrap_or(TIMEOUT_SECS))
    }

    /// The validation a command runs: its `--validate`, else vm.toml's, else `auto`.
    pub fn validate(&self, flag: Option<Validate>) -> Validate {
        flag.unwrap_or(self.validate)
    }

    /// The `ansible-inventory` to run for `mode`, or `None` for the internal check only.
    pub fn ansible_program(&self, mode: Validate) -> Option<PathBuf> {
        let configured = self.ansible_inventory.clone();
        match mode {
            Validate::Internal => None,
            Validate::Auto => configured.or_else(|| fsutil::find_program("ansible-inventory")),
            Validate::Ansible => Some(configured.unwrap_or_else(|| "ansible-inventory".into())),
        }
    }

    /// Where new VMs go: the configured backend with its connection.
    pub fn default_target(&self) -> Target {
        self.target(self.backend)
    }

    /// `kind` with the connection these settings give it.
    pub fn target(&self, kind: BackendKind) -> Target {
        let connection = match kind {
            BackendKind::Libvirt => self.libvirt.uri.clone(),
            BackendKind::Terraform => self.terraform.dir.display().to_string(),
            BackendKind::Proxmox => self.proxmox.url.clone().unwrap_or_default(),
        };
        Target { kind, connection }
    }

    /// The targets this project names: the configured backend (when a libvirt URI was named or
    /// Terraform is chosen) — never an implicit `qemu:///session`, whose mere connection would
    /// start a libvirt daemon for a user who never asked for one.
    pub fn named_targets(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        if self.libvirt.uri_named {
            targets.push(self.target(BackendKind::Libvirt));
        }
        if self.backend == BackendKind::Terraform {
            targets.push(self.target(BackendKind::Terraform));
        }
        if self.proxmox.url.is_some() {
            targets.push(self.target(BackendKind::Proxmox));
        }
        targets
    }

    /// The targets `vm list` looks at besides those fragments name: the named ones, and the
    /// default libvirt connection (as `virsh list` would) when libvirt is the backend.
    pub fn listed_targets(&self) -> Vec<Target> {
        let mut targets = self.named_targets();
        if self.backend == BackendKind::Libvirt {
            targets.push(self.target(BackendKind::Libvirt));
        }
        targets
    }

    /// Applies `vm provision`'s flags; returns the VM to make.
    pub fn provision(&mut self, args: &ProvisionArgs) -> Result<VmRequest, Error> {
        let config = self.project.config.clone();
        let name = args.name.clone();
        fragment::validate_name(&name)?;
        let memory_mib = args.memory_mib.or(config.memory).unwrap_or(MEMORY_MIB);
        if !MEMORY_RANGE.contains(&memory_mib) {
            return Err(Error::Usage(format!(
                "memory {memory_mib} MiB is out of range; give 64 MiB to 4 TiB, e.g. `vm provision {name} 4096 2`"
            )));
        }
        let vcpus = args.vcpus.or(config.vcpus).unwrap_or(VCPUS);
        if !VCPU_RANGE.contains(&vcpus) {
            return Err(Error::Usage(format!(
                "{vcpus} vCPUs is out of range; give 1 to 1024"
            )));
        }
        if let Some(backend) = args.backend {
            self.backend = backend;
        }
        let user = args.user.clone().or(config.user.clone());
        if let Some(user) = &user {
            validate_user(user)?;
        }
        let mut groups = config.groups.clone();
        groups.extend(args.groups.iter().cloned());
        let (groups, vars) = fragment::host_settings(&name, groups, &args.vars)?;
        if vars.iter().any(|(k, _)| k == "ansible_ssh_common_args") {
            return Err(Error::Usage(
                "ansible_ssh_common_args is set by vm (it points ssh at the VM's verified host \
                 key); use ansible_ssh_extra_args for your own options"
                    .into(),
            ));
        }
        let ssh_key = crate::guest::read_public_key(
            args.ssh_key
                .clone()
                .or_else(|| config_ssh_key(&self.project)),
        )?;

        let libvirt = &mut self.libvirt;
        if let Some(uri) = &args.connect {
            libvirt.uri = uri.clone();
            libvirt.uri_named = true;
        }
        if let Some(image) = &args.image {
            libvirt.image = Some(image.clone());
        }
        if let Some(disk) = &args.disk {
            libvirt.disk_bytes = Some(parse_size(disk).map_err(Error::Usage)?);
        }
        if let Some(pool) = &args.pool {
            libvirt.pool = pool.clone();
        }
        if args.allow_overcommit {
            libvirt.allow_overcommit = true;
        }
        if let Some(network_name) = &args.network {
            libvirt.network = network(network_name)?;
        }
        if let Some(domain_type) = args.domain_type {
            libvirt.domain_type = domain_type;
        }
        if let Some(firmware) = args.firmware {
            libvirt.firmware = firmware;
        }
        if let Some(kernel) = &args.kernel {
            libvirt.kernel = Some(KernelBoot {
                kernel: kernel.clone(),
                initrd: args.initrd.clone(),
                cmdline: Some(args.cmdline.clone().unwrap_or_else(|| CMDLINE.into())),
            });
        }
        let terraform = &mut self.terraform;
        if let Some(dir) = &args.terraform_dir {
            terraform.dir = absolute(&std::env::current_dir().unwrap_or_default(), dir);
        }
        if let Some(bin) = &args.terraform_bin {
            terraform.bin = bin.clone();
        }
        terraform.vars = args
            .tf_vars
            .iter()
            .map(|v| parse_tf_var(v))
            .collect::<Result<_, _>>()?;
        if let Some(template) = &args.template {
            self.proxmox.template = Some(template.clone());
        }
        if let Some(node) = &args.node {
            self.proxmox.node = Some(node.clone());
        }
        if self.backend == BackendKind::Proxmox {
            self.proxmox.require_for_provision()?;
        }
        if self.backend == BackendKind::Libvirt {
            self.libvirt.check()?;
        }
        if self.backend == BackendKind::Libvirt && self.libvirt.image.is_none() {
            return Err(Error::Usage(
                "no base image: pass --image VOLUME (a volume of the pool, or an absolute path), \
                 or set image in vm.toml"
                    .into(),
            ));
        }
        Ok(VmRequest {
            name,
            memory_mib,
            vcpus,
            user,
            ssh_key,
            groups,
            vars,
            timeout: self.wait_timeout(args.timeout),
            wait: !args.no_wait,
            keep_on_failure: args.keep_on_failure,
            validate: self.validate(args.validate.validate),
            marker_details: Vec::new(),
        })
    }
}

impl LibvirtSettings {
    /// What cannot work on the libvirt host is refused before anything is made: a URI that
    /// turns host key verification off; user-mode networking on a remote host, whose SSH
    /// forward QEMU opens on that host's own 127.0.0.1 (the fragment would send Ansible to this
    /// machine's loopback instead); kernel and initrd paths that are not absolute (QEMU opens
    /// them on the libvirt host, where this folder means nothing).
    fn check(&self) -> Result<(), Error> {
        crate::libvirt_uri::refuse_unverified(&self.uri).map_err(Error::Usage)?;
        if let Some(boot) = &self.kernel {
            for (flag, path) in [
                ("--kernel", Some(&boot.kernel)),
                ("--initrd", boot.initrd.as_ref()),
            ] {
                if let Some(path) = path.filter(|p| !p.starts_with('/')) {
                    return Err(Error::Usage(format!(
                        "{flag} {path:?} is not an absolute path: give the file's absolute path \
                         on the libvirt host ({}), where QEMU opens it",
                        self.uri
                    )));
                }
            }
        }
        if matches!(self.network, NetworkChoice::User { .. })
            && !crate::libvirt_uri::is_local(&self.uri)
        {
            return Err(Error::Usage(format!(
                "--network user cannot be used with the remote libvirt host {}: QEMU would \
                 forward the guest's SSH port on that host's 127.0.0.1, which this machine \
                 cannot reach; use --network NAME (or network in vm.toml) with a bridged or NAT \
                 libvirt network of that host whose addresses this machine can reach",
                self.uri
            )));
        }
        Ok(())
    }
}

impl ProxmoxSettings {
    /// Everything `provision` needs is there.
    fn require_for_provision(&self) -> Result<(), Error> {
        if self.template.is_none() {
            return Err(Error::Usage(
                "no Proxmox template: pass --template NAME|VMID, or set template in vm.toml's [proxmox]"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// `[proxmox]`, checked: an https URL without path, one way to trust the certificate, a VMID
/// range PVE accepts, names without white space.
fn proxmox(root: &Path, config: ProxmoxConfig) -> Result<ProxmoxSettings, Error> {
    let bad = |what: String| Error::Usage(format!("{what} ([proxmox] in vm.toml)"));
    if let Some(url) = &config.url {
        let rest = url.strip_prefix("https://").ok_or_else(|| {
            bad(format!(
                "url {url:?} must start with https:// (the API is only reached over verified TLS)"
            ))
        })?;
        let host = rest.trim_end_matches('/');
        if host.is_empty()
            || host.contains(['/', '?', '#', '@'])
            || host.contains(char::is_whitespace)
        {
            return Err(bad(format!(
                "url {url:?} must be https://HOST[:PORT], e.g. https://pve1.lan:8006"
            )));
        }
    }
    if config.ca_file.is_some() && config.fingerprint.is_some() {
        return Err(bad("give ca_file or fingerprint, not both".to_string()));
    }
    if let Some(fingerprint) = &config.fingerprint {
        parse_fingerprint(fingerprint).map_err(bad)?;
    }
    let vmid_range = match config.vmid_range {
        Some([first, last])
            if (100..=999_999_999).contains(&first) && first <= last && last <= 999_999_999 =>
        {
            Some((first, last))
        }
        Some([first, last]) => {
            return Err(bad(format!(
                "vmid_range [{first}, {last}] must be two VMIDs from 100 to 999999999, the first not above the last"
            )));
        }
        None => None,
    };
    for (what, value) in [
        ("node", &config.node),
        ("template", &config.template),
        ("storage", &config.storage),
        ("bridge", &config.bridge),
    ] {
        if let Some(value) = value.as_deref().filter(|v| {
            v.is_empty()
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        }) {
            return Err(bad(format!(
                "{what} {value:?} may hold only letters, digits, '-', '_' and '.'"
            )));
        }
    }
    Ok(ProxmoxSettings {
        url: config.url.map(|u| u.trim_end_matches('/').to_string()),
        node: config.node,
        template: config.template,
        storage: config.storage,
        clone: config.clone.unwrap_or(CloneMode::Full),
        ca_file: config.ca_file.map(|p| absolute(root, &p)),
        fingerprint: config.fingerprint,
        vmid_range,
        bridge: config.bridge,
        token_file: config.token_file.map(|p| absolute(root, &p)),
    })
}

/// A SHA-256 certificate fingerprint as `pvenode cert info` prints it (`AB:CD:…`, 32 bytes;
/// case and colons optional).
pub fn parse_fingerprint(text: &str) -> Result<[u8; 32], String> {
    let hex: String = text.chars().filter(|c| *c != ':').collect();
    let bad = || {
        format!(
            "fingerprint {text:?} is not a SHA-256 fingerprint: give the 32 bytes `pvenode cert info` prints, e.g. AB:CD:…"
        )
    };
    if hex.len() != 64 {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// `path` made absolute against `base` (a relative vm.toml path is relative to the project).
/// vm.toml's `ssh_key`: `~/…` in the home folder, a relative path in the project folder.
pub fn config_ssh_key(project: &Project) -> Option<PathBuf> {
    let path = project.config.ssh_key.as_ref()?;
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty());
    Some(match (path.strip_prefix("~"), home) {
        (Ok(rest), Some(home)) => Path::new(&home).join(rest),
        _ => absolute(&project.root, path),
    })
}

fn absolute(base: &Path, path: &Path) -> PathBuf {
    let joined = base.join(path);
    std::path::absolute(&joined).unwrap_or(joined)
}

/// `--network NAME|user`.
fn network(name: &str) -> Result<NetworkChoice, Error> {
    match name {
        "user" => Ok(NetworkChoice::User { port: 0 }),
        other
            if !other.is_empty() && !other.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(NetworkChoice::Named(other.to_string()))
        }
        other => Err(Error::Usage(format!(
            "invalid network name {other:?}: give a libvirt network (`virsh net-list --all`) or user"
        ))),
    }
}

/// `--tf-var NAME=VALUE`; `vm_name`, `memory`, `vcpus` and the host key are vm's own.
fn parse_tf_var(text: &str) -> Result<(String, String), Error> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() && !crate::backend::TERRAFORM_INPUTS.contains(&k) => {
            Ok((k.to_string(), v.to_string()))
        }
        _ => Err(Error::Usage(format!(
            "invalid --tf-var {text:?}: give NAME=VALUE ({} are set by vm)",
            crate::backend::TERRAFORM_INPUTS.join(", ")
        ))),
    }
}

/// The URI to use: named, else `LIBVIRT_DEFAULT_URI`, else `qemu:///system` for root and
/// `qemu:///session` for everyone else.
pub fn default_uri(named: Option<&str>) -> String {
    if let Some(uri) = named {
        return uri.to_string();
    }
    if let Some(uri) = std::env::var("LIBVIRT_DEFAULT_URI")
        .ok()
        .filter(|u| !u.is_empty())
    {
        return uri;
    }
    if is_root() {
        "qemu:///system".to_string()
    } else {
        "qemu:///session".to_string()
    }
}

fn is_root() -> bool {
    unsafe extern "C" {
        fn geteuid() -> u32;
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { geteuid() == 0 }
}

/// A POSIX-ish user name cloud-init will accept.
pub fn validate_user(user: &str) -> Result<(), Error> {
    let mut chars = user.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        && user.len() <= 32
        && user != "root";
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "invalid user {user:?}: use 1 to 32 lower-case letters, digits, '_' or '-', starting \
             with a letter, and not root"
        )))
    }
}

/// `20G`, `512M`, `1T`, `1048576` (bytes) → bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || format!("invalid size {text:?}: give a number with K, M, G or T, e.g. 20G");
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, ""),
    };
    let number: u64 = digits.parse().map_err(|_| bad())?;
    let shift = match unit
        .trim_end_matches(['i', 'B'])
        .to_ascii_uppercase()
        .as_str()
    {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(bad()),
    };
    let bytes = number
        .checked_shl(shift)
        .filter(|b| b >> shift == number)
        .ok_or_else(bad)?;
    if bytes == 0 {
        return Err(bad());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units_and_refuse_nonsense() {
        assert_eq!(parse_size("20G"), Ok(20 << 30));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        for bad in ["", "0", "G", "1X", "-1G", "99999999999T"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn user_names_follow_the_useradd_rules() {
        assert!(validate_user("debian").is_ok() && validate_user("_x-1").is_ok());
        for bad in ["", "Root", "root", "a b", "1a", "a:b", &"a".repeat(33)] {
            assert!(validate_user(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn user_networking_and_unverified_host_keys_are_refused_for_remote_libvirt_hosts() {
        let settings = |uri: &str, network: NetworkChoice| LibvirtSettings {
            uri: uri.into(),
            uri_named: true,
            image: Some("base.qcow2".into()),
            disk_bytes: None,
            pool: POOL.into(),
            network,
            domain_type: DomainType::Auto,
            kernel: None,
            firmware: Firmware::Bios,
            allow_overcommit: false,
        };
        let user = NetworkChoice::User { port: 0 };
        let named = NetworkChoice::Named("br0".into());
        for uri in ["qemu+ssh://root@kvm1/system", "qemu+tls://kvm1/system"] {
            let refused = settings(uri, user.clone()).check().unwrap_err();
            assert_eq!(refused.exit_code(), 2);
            let message = refused.to_string();
            assert!(
                message.contains("--network user") && message.contains("--network NAME"),
                "{message}"
            );
            assert!(settings(uri, named.clone()).check().is_ok());
        }
        for uri in ["qemu:///system", "qemu+unix:///system?socket=/run/l.sock"] {
            assert!(settings(uri, user.clone()).check().is_ok(), "{uri}");
        }
        let unverified = settings("qemu+ssh://kvm1/system?no_verify=1", named.clone()).check();
        assert_eq!(unverified.unwrap_err().exit_code(), 2);
        let mut relative = settings("qemu+ssh://kvm1/system", named);
        relative.kernel = Some(KernelBoot {
            kernel: "/boot/vmlinuz".into(),
            initrd: Some("initrd.img".into()),
            cmdline: None,
        });
        let message = relative.check().unwrap_err().to_string();
        assert!(
            message.contains("--initrd \"initrd.img\"") && message.contains("on the libvirt host"),
            "{message}"
        );
    }

    #[test]
    fn tf_vars_refuse_the_inputs_vm_sets() {
        assert_eq!(
            parse_tf_var("region=a=b").unwrap(),
            ("region".into(), "a=b".into())
        );
        for bad in ["vm_name=x", "memory=1", "ssh_host_key=x", "=x", "novalue"] {
            assert!(parse_tf_var(bad).is_err(), "{bad}");
        }
    }
}
