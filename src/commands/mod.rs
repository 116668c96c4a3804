//! One file per command: glue between the command line and the domain modules. [`run`] is the
//! one dispatch table; [`needs_backends`] says which program runs each command.

pub mod apply;
pub mod batch;
pub mod console;
pub mod destroy;
pub mod inventory;
pub mod list;
pub mod power;
pub mod provision;
pub mod ssh;

use crate::backend::{BackendError, Opener, Power, Target};
use crate::cli::{Cli, Command, InventoryCommand};
use crate::error::Error;
use crate::inventory::ansible;
use crate::inventory::fragment::Marker;
use crate::inventory::lock::InventoryLock;
use crate::inventory::merge::{self, MergeError, Merged};
use crate::project::Validate;
use crate::settings::Settings;

/// What every command gets: the resolved settings and the way to open backends.
#[derive(Clone)]
pub struct Context {
    /// Flags, vm.toml and environment, resolved.
    pub settings: Settings,
    /// Opens a backend (`vm-backends`' `open`; the light `vm` has none).
    pub open: Opener,
    /// Opens the DNS server of `[dns]` (`vm-backends`' `open_dns`).
    pub dns: crate::dns::DnsOpener,
    /// The command line, written into the lock file for waiters to read.
    pub command_line: String,
}

/// Whether `command` needs a backend. The `vm` program runs the others itself and executes
/// `vm-backends`, next to it, for these, so that the commands run most often, many at a time,
/// do not pay for loading libvirt's 50-odd shared libraries at every start.
pub fn needs_backends(command: &Command) -> bool {
    match command {
        Command::Provision(_)
        | Command::Apply(_)
        | Command::Destroy { .. }
        | Command::List { .. }
        | Command::Console { .. }
        | Command::Start(_)
        | Command::Stop(_)
        | Command::Reboot(_) => true,
        // ssh reads the inventory and executes ssh; completions prints a script.
        Command::Ssh(_) | Command::Completions { .. } => false,
        Command::Inventory(command) => match command {
            InventoryCommand::Check | InventoryCommand::Prune { .. } => true,
            InventoryCommand::Merge(_)
            | InventoryCommand::Add { .. }
            | InventoryCommand::Remove { .. }
            | InventoryCommand::List { .. } => false,
        },
    }
}

/// The opener of a program without backends: reaching it is a bug in [`needs_backends`].
pub fn no_backends(
    target: &Target,
    _: &Settings,
) -> Result<Box<dyn crate::backend::Backend>, BackendError> {
    Err(BackendError::Invalid(format!(
        "internal error: {target} needs vm-backends; run the command through vm"
    )))
}

/// Runs the parsed command line with the backends and DNS that `open` and `dns` reach.
pub fn run(cli: Cli, open: Opener, dns: crate::dns::DnsOpener) -> Result<(), Error> {
    // Needs no project: works anywhere, as a shell's startup file runs it.
    if let Command::Completions { shell } = cli.command {
        return completions(shell);
    }
    let context = Context {
        settings: Settings::resolve(&cli)?,
        open,
        dns,
        command_line: std::env::args().collect::<Vec<_>>().join(" "),
    };
    match cli.command {
        Command::Inventory(command) => inventory::run(&context, command),
        Command::Provision(args) => provision::run(context, &args),
        Command::Destroy(args) => destroy::run(context, &args),
        Command::Apply(args) => apply::run(context, &args),
        Command::List { connect } => list::run(context, connect.as_deref()),
        Command::Ssh(args) => ssh::run(&context, &args),
        Command::Console { name, connect } => console::run(&context, &name, connect.as_deref()),
        Command::Start(args) => power::run(context, &args, Power::Start),
        Command::Stop(args) => {
            let force = args.force;
            power::run(context, &args, Power::Stop { force })
        }
        Command::Reboot(args) => {
            let force = args.force;
            power::run(context, &args, Power::Reboot { force })
        }
        Command::Completions { .. } => unreachable!("handled before the settings are resolved"),
    }
}

/// Where `name` lives: the backend its fragment names, else the configured one.
pub fn locate(
    context: &Context,
    name: &str,
    connect: Option<&str>,
) -> Result<(String, Target, Option<Marker>), Error> {
    let path = context
        .settings
        .project
        .fragment_dir()
        .join(format!("{name}.ini"));
    let text = std::fs::read_to_string(&path).ok();
    let marker = text.as_deref().and_then(Marker::parse);
    let target = match (&text, &marker) {
        (Some(_), None) => {
            return Err(Error::Failed(format!(
                "{} was not written by vm, so vm will not delete it; delete it yourself if {name} is gone",
                path.display()
            )));
        }
        (_, Some(marker)) => Target::from_marker(marker).ok_or_else(|| {
            Error::Failed(format!(
                "{name} was added with `vm inventory add` (backend {}), so vm cannot destroy it; \
                 `vm inventory remove {name}` removes it from the inventory",
                marker.backend
            ))
        })?,
        (None, None) => context.settings.default_target(),
    };
    Ok((name.to_string(), target.reconnected(connect), marker))
}

/// Puts a fragment back as it was (`None`: it did not exist) when a change to it cannot be
/// merged; says so when even that fails.
pub fn restore_fragment(context: &Context, path: &std::path::Path, previous: Option<&str>) {
    let restored = match previous {
        Some(text) => crate::inventory::fragment::write(path, text).map_err(|e| e.to_string()),
        None => match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
            _ => Ok(()),
        },
    };
    if let Err(e) = restored {
        context.settings.reporter.warn(format!(
            "cannot put {} back as it was: {e}; fix or delete it by hand, then `vm inventory merge`",
            path.display()
        ));
    }
}

/// What became of the DNS record a fragment names (marker detail `dns`).
pub enum RecordDeletion {
    /// The fragment names none.
    NoRecord,
    /// Deleted (its PTR too, with `reverse`).
    Deleted(String),
    /// `[dns]` is not configured any more: the record may be left.
    Unconfigured(String),
    /// The server did not delete it.
    Failed {
        /// The record.
        record: String,
        /// Why.
        error: crate::dns::DnsError,
        /// The `nsupdate` lines that delete it by hand.
        lines: String,
    },
}

/// Deletes the DNS record that `fragment` (of host `host`) names, and the PTR of the address
/// it records.
pub fn delete_record(
    context: &Context,
    host: &str,
    fragment: &std::path::Path,
) -> Result<RecordDeletion, Error> {
    let Ok(Some(marker)) = crate::inventory::fragment::read_marker(fragment) else {
        return Ok(RecordDeletion::NoRecord);
    };
    let Some(record) = marker.detail(crate::pipeline::DNS_DETAIL) else {
        return Ok(RecordDeletion::NoRecord);
    };
    let record = record.to_string();
    let Some(dns) = context.dns()? else {
        return Ok(RecordDeletion::Unconfigured(record));
    };
    let ip = crate::inventory::check::recorded_address(fragment).and_then(|a| a.parse().ok());
    Ok(match dns.delete(host, ip) {
        Ok(()) => RecordDeletion::Deleted(record),
        Err(error) => RecordDeletion::Failed {
            record,
            error,
            lines: dns.nsupdate_lines(host),
        },
    })
}

impl Context {
    /// The DNS server of `[dns]`, when one is configured.
    pub fn dns(&self) -> Result<Option<Box<dyn crate::dns::Dns>>, Error> {
        match &self.settings.dns {
            None => Ok(None),
            Some(settings) => Ok(Some((self.dns)(settings)?)),
        }
    }

    /// Fails with what to do when the project has no fragment folder, before any lock file is
    /// created next to it.
    pub fn require_fragment_dir(&self) -> Result<(), Error> {
        let dir = self.settings.project.fragment_dir();
        if dir.is_dir() {
            Ok(())
        } else {
            Err(MergeError::NoFragmentDir(dir).into())
        }
    }

    /// Takes the inventory lock, telling the user whom we wait for. A batch of coalesced
    /// changes whose leader was killed half-way is undone first (its changes staged again for
    /// the next leader), so that no merge under this lock publishes half of it.
    pub fn lock(&self) -> Result<InventoryLock, Error> {
        let reporter = self.settings.reporter;
        let lock = InventoryLock::acquire(
            &self.settings.project.ansible_dir(),
            self.settings.lock_timeout,
            &self.command_line,
            |holder| reporter.info(format!("waiting for the inventory lock, held by {holder}")),
        )?;
        batch::recover_left(self);
        Ok(lock)
    }

    /// Takes the inventory lock, unless `done` comes to hold while waiting (`None` then).
    pub fn lock_unless(&self, done: impl Fn() -> bool) -> Result<Option<InventoryLock>, Error> {
        let reporter = self.settings.reporter;
        Ok(InventoryLock::acquire_unless(
            &self.settings.project.ansible_dir(),
            self.settings.lock_timeout,
            &self.command_line,
            |holder| reporter.info(format!("waiting for the inventory lock, held by {holder}")),
            done,
        )?)
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
            .inspect_err(|_| restore_fragment(self, path, previous))
    }

    /// Merges under a lock the caller already holds, with the validation `mode` asks for.
    pub fn merge_locked(&self, mode: Option<Validate>) -> Result<Merged, Error> {
        let program = self.settings.ansible_program(self.settings.validate(mode));
        let project = &self.settings.project;
        let merged = merge::merge(
            &project.fragment_dir(),
            &project.merged_path(),
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

/// Ends the process with the result's exit code, printing the error; a closed standard output
/// is a normal end (`vm inventory list | head -1`).
pub fn exit(result: Result<(), Error>) -> ! {
    match result {
        Ok(()) | Err(Error::ClosedPipe) => std::process::exit(0),
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(error.exit_code());
        }
    }
}

/// `vm completions SHELL`: the completion script clap derives from the command line itself.
fn completions(shell: clap_complete::Shell) -> Result<(), Error> {
    use clap::CommandFactory;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "vm", &mut script);
    crate::output::print_lines(std::iter::once(String::from_utf8_lossy(&script).trim_end()))
}
