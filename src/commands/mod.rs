//! One file per command: glue between the command line and the domain modules.

pub mod destroy;
pub mod inventory;
pub mod list;
pub mod provision;

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{Cli, Command, InventoryCommand};
use crate::error::Error;
use crate::inventory::ansible;
use crate::inventory::lock::InventoryLock;
use crate::inventory::merge::{self, MergeError, Merged};
use crate::output::Reporter;
use crate::project::{Project, Validate};

/// What every command gets: the project, how to talk, how long to wait for the lock.
pub struct Context {
    /// The located project.
    pub project: Project,
    /// Diagnostics on stderr.
    pub reporter: Reporter,
    /// `--json`.
    pub json: bool,
    /// `--lock-timeout`, else `vm.toml`, else 60 s.
    pub lock_timeout: Duration,
    /// The command line, written into the lock file for waiters to read.
    pub command_line: String,
}

/// Whether `command` runs without any backend: the inventory commands that only read and
/// write fragments. The `vm` binary runs those itself and hands every other command to
/// `vm-backends`, so that the commands run most often, many at a time, do not pay for loading
/// libvirt's 50-odd shared libraries at every start.
pub fn is_light(command: &Command) -> bool {
    matches!(
        command,
        Command::Inventory(
            InventoryCommand::Merge(_)
                | InventoryCommand::Add { .. }
                | InventoryCommand::Remove { .. }
                | InventoryCommand::List { .. }
        )
    )
}

/// Runs a command for which [`is_light`] holds.
pub fn run_light(cli: Cli) -> Result<(), Error> {
    let context = Context::new(&cli)?;
    match cli.command {
        Command::Inventory(command) => inventory::run_light(&context, command),
        _ => Err(Error::Failed(
            "internal error: not an inventory command; run it through vm".into(),
        )),
    }
}

/// Puts a fragment back as it was (`None`: it did not exist) when a change to it cannot be
/// merged.
pub fn restore_fragment(path: &std::path::Path, previous: Option<&str>) {
    let _ = match previous {
        Some(text) => crate::inventory::fragment::write(path, text).map_err(|_| ()),
        None => std::fs::remove_file(path).map_err(|_| ()),
    };
}

impl Context {
    fn new(cli: &Cli) -> Result<Context, Error> {
        let project = Project::locate(cli.project.as_deref())?;
        let lock_timeout = Duration::from_secs(
            cli.lock_timeout
                .or(project.config.lock_timeout)
                .unwrap_or(60),
        );
        Ok(Context {
            project,
            reporter: Reporter::new(cli.quiet, cli.verbose),
            json: cli.json,
            lock_timeout,
            command_line: std::env::args().collect::<Vec<_>>().join(" "),
        })
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<(), Error> {
    let context = Context::new(&cli)?;
    match cli.command {
        Command::Inventory(command) => inventory::run(&context, command),
        Command::Provision(args) => provision::run(&context, *args),
        Command::Destroy {
            name,
            yes,
            keep_disk,
            connect,
            validate,
        } => destroy::run(
            &context,
            &name,
            yes,
            keep_disk,
            connect.as_deref(),
            validate.validate,
        ),
        Command::List { connect } => list::run(&context, connect.as_deref()),
    }
}

/// The first executable file named `name` in a folder of `PATH`.
fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|file| {
            file.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

impl Context {
    /// Fails with what to do when the project has no fragment folder, before any lock file is
    /// created next to it.
    pub fn require_fragment_dir(&self) -> Result<(), Error> {
        let dir = self.project.fragment_dir();
        if dir.is_dir() {
            Ok(())
        } else {
            Err(MergeError::NoFragmentDir(dir).into())
        }
    }

    /// Takes the inventory lock, telling the user whom we wait for.
    pub fn lock(&self) -> Result<InventoryLock, Error> {
        let reporter = self.reporter;
        Ok(InventoryLock::acquire(
            &self.project.ansible_dir(),
            self.lock_timeout,
            &self.command_line,
            |holder| reporter.info(format!("waiting for the inventory lock, held by {holder}")),
        )?)
    }

    /// The `ansible-inventory` to run for `mode`, or `None` for the internal check only.
    fn ansible_program(&self, mode: Option<Validate>) -> Option<PathBuf> {
        let configured = self
            .project
            .config
            .ansible_inventory
            .clone()
            .or_else(|| std::env::var_os("VM_ANSIBLE_INVENTORY").map(PathBuf::from));
        match mode
            .or(self.project.config.validate)
            .unwrap_or(Validate::Auto)
        {
            Validate::Internal => None,
            Validate::Auto => configured.or_else(|| find_on_path("ansible-inventory")),
            Validate::Ansible => Some(configured.unwrap_or_else(|| "ansible-inventory".into())),
        }
    }

    /// Writes one fragment and merges, under a lock the caller already holds. If the merge
    /// refuses, the fragment folder is put back as it was: `previous` is the fragment's old
    /// text, `None` when it is new.
    pub fn publish_fragment(
        &self,
        path: &std::path::Path,
        text: &str,
        previous: Option<&str>,
        mode: Option<Validate>,
    ) -> Result<Merged, Error> {
        crate::inventory::fragment::write(path, text)?;
        self.merge_locked(mode)
            .inspect_err(|_| restore_fragment(path, previous))
    }

    /// Merges under a lock the caller already holds, with the validation `mode` asks for.
    pub fn merge_locked(&self, mode: Option<Validate>) -> Result<Merged, Error> {
        let program = self.ansible_program(mode);
        let merged = merge::merge(
            &self.project.fragment_dir(),
            &self.project.merged_path(),
            |merged, temp| match &program {
                None => Ok(()),
                Some(program) => {
                    let expected = crate::inventory::export::list_export(&merged.inventory);
                    ansible::check(program, temp, &expected).map_err(MergeError::from)
                }
            },
        );
        Ok(merged?)
    }
}
