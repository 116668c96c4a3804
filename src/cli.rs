//! The command line, as clap types only.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::backend::{BackendKind, DomainType, Firmware};
use crate::project::Validate;

/// Provision VMs and keep one Ansible inventory correct while they come and go.
#[derive(Debug, Parser)]
#[command(name = "vm", version, about, propagate_version = true)]
pub struct Cli {
    /// Project folder (default: the nearest ancestor holding vm.toml or ansible/inventory.d).
    #[arg(long, global = true, env = "VM_PROJECT", value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// Say more about what is done.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Say nothing but errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print results as JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Give up waiting for the inventory lock after this many seconds (default 60).
    #[arg(long, global = true, value_name = "SECS")]
    pub lock_timeout: Option<u64>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a VM, wait until it answers, and add it to the inventory.
    Provision(Box<ProvisionArgs>),
    /// Remove VMs: the VM, its disks, its host key and its inventory fragment.
    Destroy(DestroyArgs),
    /// Make the VMs of a file (vms.toml) exist as it says: create what is missing, in parallel.
    Apply(ApplyArgs),
    /// List the VMs vm manages, with their inventory state.
    List {
        /// libvirt URI to look at besides those recorded in fragments.
        #[arg(long, value_name = "URI")]
        connect: Option<String>,
    },
    /// Log in to a VM (or run a command there) as Ansible does: its address, port, user and
    /// pinned host key, from the inventory.
    Ssh(SshArgs),
    /// Attach to a VM's serial console (libvirt; Ctrl+] leaves).
    Console {
        /// The VM.
        name: String,
        /// libvirt URI (default: the one recorded in the VM's fragment).
        #[arg(long, value_name = "URI")]
        connect: Option<String>,
    },
    /// Start VMs; waits for their address and SSH, and updates the inventory when the address
    /// changed.
    Start(PowerArgs),
    /// Shut VMs down (ACPI), waiting at most --timeout; --force powers off at once.
    Stop(PowerArgs),
    /// Reboot VMs (ACPI); waits for SSH again; --force resets at once.
    Reboot(PowerArgs),
    /// Print a shell completion script: `source <(vm completions bash)`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Work on the Ansible inventory: fragments in ansible/inventory.d, merged ansible/inventory.ini.
    #[command(subcommand)]
    Inventory(InventoryCommand),
}

/// `vm ssh NAME [-- CMD…]`
#[derive(Debug, Clone, Args)]
pub struct SshArgs {
    /// The host, as the inventory names it.
    pub name: String,
    /// A command to run instead of a login shell (after `--`; joined by spaces and run by the
    /// remote shell, as ssh does).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// `vm start|stop|reboot NAME…`
#[derive(Debug, Clone, Args)]
pub struct PowerArgs {
    /// The VMs.
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
    /// stop: power off without asking the guest; reboot: reset.
    #[arg(long)]
    pub force: bool,
    /// Give up waiting (for the guest to shut down, for its address and SSH) after this many
    /// seconds (default 300, or `timeout` in vm.toml).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// start/reboot: do not wait for the address and SSH (nor update the inventory).
    #[arg(long)]
    pub no_wait: bool,
    /// libvirt URI (default: the one recorded in the VM's fragment).
    #[arg(long, value_name = "URI")]
    pub connect: Option<String>,
}

/// `vm apply …`
#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    /// The file of VMs (default: vms.toml in the project).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Destroy the VMs this file made whose keys are gone from it.
    #[arg(long)]
    pub prune: bool,
    /// Take over same-named VMs this file did not make (rewrite their fragments).
    #[arg(long)]
    pub adopt: bool,
    /// How many VMs are made at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub parallel: u32,
    /// Seconds between the starts of two creations.
    #[arg(long, default_value_t = 0.0, value_name = "SECS")]
    pub stagger: f64,
    /// Do not wait for SSH and cloud-init.
    #[arg(long)]
    pub no_wait: bool,
    /// Do not ask before destroying (required with --prune when not on a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Restart VMs whose new memory or vCPUs take effect only then.
    #[arg(long)]
    pub restart: bool,
    #[command(flatten)]
    pub validate: ValidateArg,
}

/// `vm destroy …`
#[derive(Debug, Clone, Args)]
pub struct DestroyArgs {
    /// The VMs.
    #[arg(
        required_unless_present = "all",
        conflicts_with = "all",
        value_name = "NAME"
    )]
    pub names: Vec<String>,
    /// Every VM `vm apply` made from the file (-f).
    #[arg(long)]
    pub all: bool,
    /// The file of `--all` (default: vms.toml in the project).
    #[arg(short = 'f', long = "file", value_name = "FILE", requires = "all")]
    pub file: Option<PathBuf>,
    /// Do not ask (required when not on a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Keep the VM's disk volumes.
    #[arg(long)]
    pub keep_disk: bool,
    /// libvirt URI (default: the one recorded in the VM's fragment).
    #[arg(long, value_name = "URI")]
    pub connect: Option<String>,
    #[command(flatten)]
    pub validate: ValidateArg,
}

/// `vm provision …`
#[derive(Debug, Clone, Args)]
pub struct ProvisionArgs {
    /// VM name: host name, domain name and inventory name.
    pub name: String,
    /// Memory in MiB (default 4096, or `memory` in vm.toml).
    pub memory_mib: Option<u64>,
    /// Virtual CPUs (default 2, or `vcpus` in vm.toml).
    pub vcpus: Option<u32>,
    /// Where to create it (default: backend in vm.toml, else libvirt).
    #[arg(long, value_enum)]
    pub backend: Option<BackendKind>,
    /// libvirt URI (default: LIBVIRT_DEFAULT_URI, else qemu:///system for root, qemu:///session otherwise).
    #[arg(long, value_name = "URI")]
    pub connect: Option<String>,
    /// Base image: a volume of the pool, or an absolute path on the libvirt host.
    #[arg(long, value_name = "IMG")]
    pub image: Option<String>,
    /// Grow the disk to this size (e.g. 20G; default: the image's size).
    #[arg(long, value_name = "SIZE")]
    pub disk: Option<String>,
    /// Storage pool for the disk and the seed (default: default).
    #[arg(long, value_name = "POOL")]
    pub pool: Option<String>,
    /// Make the disk even when the pool has less room than it can grow to (a thin disk that
    /// may fill the pool).
    #[arg(long)]
    pub allow_overcommit: bool,
    /// A libvirt network, or `user` for user-mode networking with SSH forwarded on 127.0.0.1.
    #[arg(long, value_name = "NAME|user")]
    pub network: Option<String>,
    /// The user cloud-init creates, with sudo (default: debian).
    #[arg(long, value_name = "U")]
    pub user: Option<String>,
    /// Public key allowed to log in (default: ~/.ssh/id_ed25519.pub, id_ecdsa.pub or id_rsa.pub).
    #[arg(long = "ssh-key", value_name = "PUBKEY")]
    pub ssh_key: Option<PathBuf>,
    /// Put the VM in this inventory group (repeatable).
    #[arg(long = "group", value_name = "G")]
    pub groups: Vec<String>,
    /// Set a host variable, kept as a string exactly (repeatable).
    #[arg(long = "var", value_name = "K=V")]
    pub vars: Vec<String>,
    /// Give up waiting for the address and SSH after this many seconds (default 300).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Do not wait for SSH and cloud-init (an address the backend must discover is still
    /// waited for).
    #[arg(long)]
    pub no_wait: bool,
    /// Keep what was created when a step fails, for diagnosis.
    #[arg(long)]
    pub keep_on_failure: bool,
    /// auto (kvm when available), kvm or qemu (software emulation).
    #[arg(long, value_enum)]
    pub domain_type: Option<DomainType>,
    /// bios (SeaBIOS, the default) or uefi (OVMF, secure boot off, NVRAM per VM): the firmware
    /// that boots the image's boot loader, or the --kernel.
    #[arg(long, value_enum)]
    pub firmware: Option<Firmware>,
    /// Boot this kernel directly (a path on the libvirt host).
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<String>,
    /// Initrd for --kernel (a path on the libvirt host).
    #[arg(long, value_name = "PATH", requires = "kernel")]
    pub initrd: Option<String>,
    /// Kernel command line for --kernel (default: root=/dev/vda1 rw console=ttyS0).
    #[arg(long, value_name = "ARGS", requires = "kernel")]
    pub cmdline: Option<String>,
    /// Terraform module folder (default: the project's terraform/).
    #[arg(long, value_name = "DIR")]
    pub terraform_dir: Option<PathBuf>,
    /// Terraform program (default: terraform; tofu works too).
    #[arg(long, value_name = "PATH")]
    pub terraform_bin: Option<String>,
    /// Proxmox template to clone: a name or a VMID (default: template in vm.toml's [proxmox]).
    #[arg(long, value_name = "NAME|VMID")]
    pub template: Option<String>,
    /// Proxmox node for the VM (default: node in [proxmox], else the online node with the most
    /// free memory).
    #[arg(long, value_name = "NODE")]
    pub node: Option<String>,
    /// Extra Terraform variable, passed as a string (repeatable).
    #[arg(long = "tf-var", value_name = "K=V")]
    pub tf_vars: Vec<String>,
    #[command(flatten)]
    pub validate: ValidateArg,
}

/// How to validate the merged inventory.
#[derive(Debug, Clone, Args)]
pub struct ValidateArg {
    /// internal: the tool's own Ansible-exact parser; ansible: also the real ansible-inventory;
    /// auto (default): ansible when configured (vm.toml `ansible_inventory`,
    /// VM_ANSIBLE_INVENTORY) or on PATH, else internal.
    #[arg(long, value_enum)]
    pub validate: Option<Validate>,
}

/// `vm inventory …`
#[derive(Debug, Subcommand)]
pub enum InventoryCommand {
    /// Rebuild ansible/inventory.ini from the fragments, atomically; refuse invalid fragments.
    Merge(#[command(flatten)] ValidateArg),
    /// Add (or update) a host made elsewhere: write its managed fragment, then merge.
    Add {
        /// Host name, as Ansible will know it (--limit NAME).
        name: String,
        /// Address Ansible connects to, with an optional port: 10.0.0.5, host:2222, [fe80::1]:2222.
        address: String,
        /// Put the host in this group (repeatable).
        #[arg(long = "group", value_name = "G")]
        groups: Vec<String>,
        /// Set a host variable; the value is kept as a string, exactly (repeatable).
        #[arg(long = "var", value_name = "K=V")]
        vars: Vec<String>,
        /// SSH user (ansible_user).
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        validate: ValidateArg,
    },
    /// Remove a host's managed fragment, then merge.
    Remove {
        /// Host name.
        name: String,
        #[command(flatten)]
        validate: ValidateArg,
    },
    /// List the hosts the fragments define.
    List {
        /// Print what `ansible-inventory --list --export` would print for the fragments.
        #[arg(long, conflicts_with = "json")]
        ansible_json: bool,
        /// Print one host's variables as a play sees them (its groups' and its own), as
        /// `ansible-inventory --host NAME` does.
        #[arg(long, value_name = "NAME", conflicts_with = "ansible_json")]
        host: Option<String>,
    },
    /// Find invalid fragments, conflicts, a stale inventory.ini and orphans; exit 4 on findings.
    Check,
    /// Delete managed fragments whose VM is gone, then merge.
    Prune {
        /// Only show what would be deleted.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        validate: ValidateArg,
    },
}
