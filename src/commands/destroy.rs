//! `vm destroy NAME…`: the VM, the volumes it uses, its host key and its fragment; then merge.
//! A VM that is already gone but left a fragment behind is cleaned up with a note.

use std::io::{BufRead, IsTerminal, Write};

use serde::Serialize;

use super::{Context, RecordDeletion, batch};
use crate::backend::Target;
use crate::cli::DestroyArgs;
use crate::error::Error;
use crate::guest::hostkey;
use crate::inventory::fragment::{self, Marker};
use crate::output::print_json;

/// What `vm destroy --json` prints, one row per VM.
#[derive(Debug, Clone, Serialize)]
pub struct DestroyRow {
    /// The VM.
    pub name: String,
    /// Its backend.
    pub backend: String,
    /// How the backend was reached.
    pub connection: String,
    /// Whether the VM still existed.
    pub existed: bool,
    /// Volumes deleted.
    pub volumes: Vec<String>,
    /// Whether a fragment was removed.
    pub fragment_removed: bool,
}

/// Runs `vm destroy`: every VM named is attempted; the first failure decides the exit code.
pub fn run(context: Context, args: &DestroyArgs) -> Result<(), Error> {
    let mut plans = Vec::new();
    let names = if args.all {
        let path = crate::commands::apply::file_path(&context, args.file.as_deref());
        let source = crate::apply::Source::read(&path, &context.settings.project.root)?;
        let names = crate::apply::made_by(&context, &source);
        if names.is_empty() {
            context.settings.reporter.info(format!(
                "no VM made by {} has a fragment here; nothing to destroy",
                path.display()
            ));
            return Ok(());
        }
        names
    } else {
        args.names.clone()
    };
    for name in &names {
        fragment::validate_name(name)?;
        plans.push(super::locate(&context, name, args.connect.as_deref())?);
    }
    if !args.yes {
        confirm(&plans)?;
    }
    let mut first_error = None;
    for (name, target, marker) in plans {
        match destroy_one(&context, &name, &target, marker.as_ref(), args) {
            Ok(row) if context.settings.json => print_json(&row)?,
            Ok(_) => {}
            Err(e) if first_error.is_none() => first_error = Some(e),
            Err(e) => eprintln!("error: {e}"),
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Destroys one VM, then removes its host key and fragment and merges.
pub fn destroy_one(
    context: &Context,
    name: &str,
    target: &Target,
    marker: Option<&Marker>,
    args: &DestroyArgs,
) -> Result<DestroyRow, Error> {
    let reporter = context.settings.reporter;
    let backend = (context.open)(target, &context.settings)?;
    let destroyed = backend.destroy(name, args.keep_disk)?;
    if !destroyed.existed && marker.is_none() {
        return Err(Error::Failed(format!(
            "no VM named {name} at {target} and no fragment for it; `vm list` shows the VMs there are"
        )));
    }
    for volume in &destroyed.volumes {
        reporter.detail(format!("deleted volume {volume}"));
    }
    if destroyed.existed {
        reporter.info(format!("destroyed {name} at {target}"));
    } else {
        reporter.info(format!(
            "note: {name} was already gone from {target}; removing its fragment"
        ));
    }
    let mut row = DestroyRow {
        name: name.to_string(),
        backend: target.kind.to_string(),
        connection: target.connection.clone(),
        existed: destroyed.existed,
        volumes: destroyed.volumes,
        fragment_removed: false,
    };
    // Read from the fragment, which goes below: the record goes first.
    let record_left = remove_record(context, name).err();
    if marker.is_some() {
        let project = &context.settings.project;
        let path = project.fragment_dir().join(format!("{name}.ini"));
        {
            let _lock = context.lock()?;
            hostkey::forget(&project.known_hosts(), name)?;
        }
        // With the next coalesced merge; the fragment stays gone even if that merge is refused.
        let committed = batch::commit(
            context,
            &format!("{name}.ini"),
            batch::Request::RemoveDestroyed,
            context.settings.validate(args.validate.validate),
        );
        row.fragment_removed = !path.exists();
        match committed {
            Ok(_) => reporter.info(format!("removed {name} from the inventory")),
            Err(e) if row.fragment_removed => {
                // The VM is gone: its fragment must not come back, so the inventory stays as
                // it was until the other fragment is fixed.
                reporter.warn(format!(
                    "{name}'s fragment is removed but inventory.ini was not rebuilt: {e}"
                ));
                return Err(e);
            }
            Err(e) => {
                return Err(Error::Failed(format!(
                    "{name} is destroyed but its fragment {} is still there: {e}; delete it, \
                     then `vm inventory merge`",
                    path.display()
                )));
            }
        }
    }
    match record_left {
        Some(e) => Err(e),
        None => Ok(row),
    }
}

/// Deletes the VM's DNS record (the VM is gone already); a failure says which record is left
/// and the `nsupdate` lines that remove it.
fn remove_record(context: &Context, name: &str) -> Result<(), Error> {
    let fragment = context
        .settings
        .project
        .fragment_dir()
        .join(format!("{name}.ini"));
    match super::delete_record(context, name, &fragment)? {
        RecordDeletion::NoRecord => Ok(()),
        RecordDeletion::Deleted(record) => {
            context
                .settings
                .reporter
                .info(format!("removed the DNS record {record}"));
            Ok(())
        }
        RecordDeletion::Unconfigured(record) => Err(Error::Failed(format!(
            "[dns] is not configured any more, so vm cannot delete {record}"
        ))),
        RecordDeletion::Failed {
            record,
            error,
            lines,
        } => Err(Error::Failed(format!(
            "{name} is destroyed, but its DNS record {record} is left: {error}\nremove it with `nsupdate -k KEYFILE` and these lines:\n{lines}"
        ))),
    }
}

/// Asks on a terminal; refuses without `--yes` elsewhere.
fn confirm(plans: &[(String, Target, Option<Marker>)]) -> Result<(), Error> {
    let names: Vec<&str> = plans.iter().map(|(name, ..)| name.as_str()).collect();
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(format!(
            "not on a terminal: pass --yes to destroy {}",
            names.join(" ")
        )));
    }
    for (name, target, _) in plans {
        eprintln!("  {name} at {target}");
    }
    eprint!(
        "Destroy {}: VM, disks and inventory entry? [y/N] ",
        names.join(", ")
    );
    let mut answer = String::new();
    std::io::stderr()
        .flush()
        .and_then(|()| std::io::stdin().lock().read_line(&mut answer))
        .map_err(|e| Error::Failed(format!("cannot read the answer: {e}; pass --yes")))?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(Error::Failed("nothing destroyed".into()))
    }
}
