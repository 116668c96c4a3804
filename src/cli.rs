//! The command line, as clap types only.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    /// Work on the Ansible inventory: fragments in ansible/inventory.d, merged ansible/inventory.ini.
    #[command(subcommand)]
    Inventory(InventoryCommand),
}

/// How to validate the merged inventory.
#[derive(Debug, Clone, Args)]
pub struct ValidateArg {
    /// internal: the tool's own Ansible-exact parser; ansible: also the real ansible-inventory;
    /// auto (default): ansible when configured (vm.toml `ansible_inventory`,
    /// VM_ANSIBLE_INVENTORY) or on PATH, else internal.
    #[arg(long, value_name = "auto|internal|ansible")]
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
