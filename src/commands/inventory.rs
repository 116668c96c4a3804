//! `vm inventory merge | add | remove | list | check | prune`.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Context, RecordDeletion, batch};
use crate::backend::{Backends, Target};
use crate::cli::InventoryCommand;
use crate::error::Error;
use crate::inventory::check::{self, Presence};
use crate::inventory::export::{list_export, to_ansible_text};
use crate::inventory::fragment::{self, FragmentSpec, Marker};
use crate::inventory::merge::{self, Merged};
use crate::inventory::pyliteral::Value;
use crate::output::{print_json, print_lines};
use crate::project::Validate;

/// Backend name in the marker of fragments written by `inventory add`: a host made elsewhere,
/// which no backend of ours can look up.
const EXTERNAL: &str = "external";

/// Dispatches one `vm inventory` command.
pub fn run(context: &Context, command: InventoryCommand) -> Result<(), Error> {
    match command {
        InventoryCommand::Check => check(context),
        InventoryCommand::Prune { dry_run, validate } => prune(context, dry_run, validate.validate),
        InventoryCommand::Merge(v) => merge(context, v.validate),
        InventoryCommand::Add {
            name,
            address,
            groups,
            vars,
            user,
            validate,
        } => add(
            context,
            &name,
            &address,
            groups,
            &vars,
            user,
            validate.validate,
        ),
        InventoryCommand::Remove { name, validate } => remove(context, &name, validate.validate),
        InventoryCommand::List { ansible_json, host } => {
            list(context, ansible_json, host.as_deref())
        }
    }
}

/// What the commands that merge print with `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct MergeRow {
    /// The merged file.
    pub inventory: PathBuf,
    /// Fragments read.
    pub fragments: usize,
    /// Hosts.
    pub hosts: usize,
    /// Groups besides `all` and `ungrouped`.
    pub groups: usize,
}

/// One host of `vm inventory list --json`.
#[derive(Debug, Clone, Serialize)]
pub struct HostRow {
    /// Host name.
    pub name: String,
    /// `ansible_host` as Ansible reads it.
    pub ansible_host: serde_json::Value,
    /// `ansible_port` as Ansible reads it.
    pub ansible_port: serde_json::Value,
    /// Groups.
    pub groups: Vec<String>,
    /// Fragments that define it.
    pub fragments: Vec<String>,
}

/// What `vm inventory prune --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct PruneRow {
    /// Orphaned fragments.
    pub orphans: Vec<PathBuf>,
    /// Whether they were deleted (not `--dry-run`).
    pub deleted: bool,
}

fn summary(context: &Context, merged: &Merged) -> String {
    format!(
        "{}: {} hosts, {} groups from {} fragments",
        context.settings.project.merged_path().display(),
        merged.inventory.hosts.len(),
        merged.inventory.groups.len() - 2,
        merged.sources.len()
    )
}

/// The summary of a merge another writer may have made (`vm inventory add/remove`).
fn print_counts(context: &Context, counts: batch::Counts) -> Result<(), Error> {
    let merged_path = context.settings.project.merged_path();
    context.settings.reporter.info(format!(
        "merged {}: {} hosts, {} groups from {} fragments",
        merged_path.display(),
        counts.hosts,
        counts.groups,
        counts.fragments
    ));
    if context.settings.json {
        print_json(&MergeRow {
            inventory: merged_path,
            fragments: counts.fragments,
            hosts: counts.hosts,
            groups: counts.groups,
        })?;
    }
    Ok(())
}

fn print_merge_result(context: &Context, merged: &Merged) -> Result<(), Error> {
    context
        .settings
        .reporter
        .info(format!("merged {}", summary(context, merged)));
    if context.settings.json {
        print_json(&MergeRow {
            inventory: context.settings.project.merged_path(),
            fragments: merged.sources.len(),
            hosts: merged.inventory.hosts.len(),
            groups: merged.inventory.groups.len() - 2,
        })?;
    }
    Ok(())
}

fn merge(context: &Context, mode: Option<Validate>) -> Result<(), Error> {
    context.require_fragment_dir()?;
    let _lock = context.lock()?;
    batch::apply_staged(context);
    let merged = context.merge_locked(mode)?;
    let printed = print_merge_result(context, &merged);
    // The process ends right after; freeing thousands of hosts one by one would only delay it.
    std::mem::forget(merged);
    printed
}

/// The text of an existing fragment, refusing one the tool did not write.
fn managed_fragment(path: &Path, name: &str) -> Result<Option<String>, Error> {
    match fs::read_to_string(path) {
        Ok(text) if Marker::parse(&text).is_some() => Ok(Some(text)),
        Ok(_) => Err(Error::Failed(format!(
            "{} was not written by vm (no marker line), so vm will not change it; edit or delete \
             it yourself, or pick another name than {name}",
            path.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Failed(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

#[allow(clippy::too_many_arguments)]
fn add(
    context: &Context,
    name: &str,
    address: &str,
    groups: Vec<String>,
    vars: &[String],
    user: Option<String>,
    mode: Option<Validate>,
) -> Result<(), Error> {
    fragment::validate_name(name)?;
    let address = fragment::parse_address(address)?;
    let (unique_groups, vars) = fragment::host_settings(name, groups, vars)?;
    if let Some(user) = user
        .as_deref()
        .filter(|u| u.is_empty() || u.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        return Err(Error::Input(fragment::FragmentInputError::Var(
            format!("--user {user}"),
            "a user name must not be empty or contain spaces".to_string(),
        )));
    }
    let spec = FragmentSpec {
        name: name.to_string(),
        address,
        user,
        groups: unique_groups,
        vars,
        marker: Marker::new(EXTERNAL, "-")?,
    };
    let text = spec.render(&context.settings.project.templates_dir())?;

    let dir = context.settings.project.fragment_dir();
    fs::create_dir_all(&dir)
        .map_err(|e| Error::Failed(format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join(spec.file_name());
    // Refused at once when it cannot be ours; checked again under the lock by whoever merges.
    managed_fragment(&path, name)?;
    let committed = batch::commit(
        context,
        &spec.file_name(),
        batch::Request::Write(&text),
        context.settings.validate(mode),
    )?;
    let verb = if committed.existed {
        "updated"
    } else {
        "added"
    };
    context
        .settings
        .reporter
        .info(format!("{verb} {name} ({})", path.display()));
    print_counts(context, committed.counts)
}

fn remove(context: &Context, name: &str, mode: Option<Validate>) -> Result<(), Error> {
    fragment::validate_name(name)?;
    context.require_fragment_dir()?;
    let path = context
        .settings
        .project
        .fragment_dir()
        .join(format!("{name}.ini"));
    if managed_fragment(&path, name)?.is_none() {
        return Err(Error::Failed(format!(
            "no fragment for {name} at {}; `vm inventory list` shows the hosts there are",
            path.display()
        )));
    }
    let committed = batch::commit(
        context,
        &format!("{name}.ini"),
        batch::Request::Remove,
        context.settings.validate(mode),
    )?;
    context
        .settings
        .reporter
        .info(format!("removed {name} ({})", path.display()));
    print_counts(context, committed.counts)
}

fn value_text(value: Option<&Value>) -> serde_json::Value {
    value.map_or(serde_json::Value::Null, Value::to_json)
}

fn list(context: &Context, ansible_json: bool, host: Option<&str>) -> Result<(), Error> {
    let merged = merge::build(
        &context.settings.project.fragment_dir(),
        &context.settings.project.merged_path(),
    )?;
    let inventory = &merged.inventory;
    if let Some(name) = host {
        let id = inventory.host_id(name).ok_or_else(|| {
            Error::Failed(format!(
                "no host {name} in the inventory; `vm inventory list` lists them"
            ))
        })?;
        let vars = crate::inventory::hostvars::effective(inventory, id);
        return print_lines([to_ansible_text(&crate::inventory::export::host_vars_json(
            &vars,
        ))]);
    }
    if ansible_json {
        return print_lines([to_ansible_text(&list_export(inventory))]);
    }
    let rows: Vec<HostRow> = inventory
        .hosts
        .iter()
        .map(|host| HostRow {
            name: host.name.clone(),
            ansible_host: value_text(host.vars.get("ansible_host").map(|v| &v.value)),
            ansible_port: value_text(host.vars.get("ansible_port").map(|v| &v.value)),
            groups: host
                .groups
                .iter()
                .map(|&g| inventory.groups[g].name.clone())
                .collect(),
            fragments: host
                .sources
                .iter()
                .map(|&s| merged.sources[s].name.clone())
                .collect(),
        })
        .collect();
    if context.settings.json {
        return print_json(&rows);
    }
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    let header = format!(
        "{:<24} {:<24} {:<24} FRAGMENTS",
        "NAME", "ADDRESS", "GROUPS"
    );
    let lines = rows.iter().map(|row| {
        let mut address = text(&row.ansible_host);
        if !row.ansible_port.is_null() {
            if address.contains(':') {
                address = format!("[{address}]");
            }
            address = format!("{address}:{}", text(&row.ansible_port));
        }
        format!(
            "{:<24} {:<24} {:<24} {}",
            row.name,
            address,
            row.groups.join(","),
            row.fragments.join(",")
        )
    });
    print_lines(std::iter::once(header).chain(lines))
}

/// Whether the VM behind a managed fragment exists, asking the backend its marker names.
/// `external` fragments (from `vm inventory add`) name hosts made elsewhere, which nobody can
/// look up.
fn probe(backends: &Backends, marker: &Marker, name: &str) -> Presence {
    let Some(target) = Target::from_marker(marker) else {
        return Presence::Unknown(format!("no backend can look up '{}' VMs", marker.backend));
    };
    match backends.get(&target).as_ref() {
        Ok(backend) => backend.presence(name),
        Err(e) => Presence::Unknown(e.clone()),
    }
}

/// VMs of this project on the targets it names (settings and fragments) that have no
/// fragment: Ansible does not know them.
fn unlisted(context: &Context, backends: &Backends, report: &check::Report) -> Vec<check::Problem> {
    let settings = &context.settings;
    let mut targets = settings.named_targets();
    for managed in &report.managed {
        if let Ok(marker) = Marker::new(&managed.backend, &managed.connection) {
            targets.extend(Target::from_marker(&marker));
        }
    }
    targets.sort();
    targets.dedup();
    let mut problems = Vec::new();
    for target in targets {
        let opened = backends.get(&target);
        let Ok(backend) = opened.as_ref() else {
            continue;
        };
        let Ok(vms) = backend.list(&settings.project) else {
            continue;
        };
        for vm in vms {
            if !report.managed.iter().any(|m| m.name == vm.name) {
                problems.push(check::Problem::NoFragment {
                    name: vm.name,
                    connection: target.connection.clone(),
                });
            }
        }
    }
    problems
}

/// Managed fragments whose DNS record (the marker's `dns`) is missing or points elsewhere:
/// one query per fragment, to the configured server itself.
fn dns_problems(context: &Context, report: &check::Report) -> Result<Vec<check::Problem>, Error> {
    let Some(dns) = context.dns()? else {
        return Ok(Vec::new());
    };
    let mut problems = Vec::new();
    for managed in &report.managed {
        let Ok(Some(marker)) = fragment::read_marker(&managed.path) else {
            continue;
        };
        let Some(record) = marker.detail(crate::pipeline::DNS_DETAIL) else {
            continue;
        };
        let expected = check::recorded_address(&managed.path).unwrap_or_default();
        let found = match dns.lookup(&managed.name) {
            Ok(ips) if ips.iter().any(|ip| ip.to_string() == expected) => continue,
            Ok(ips) => ips
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            Err(e) => format!("no answer: {e}"),
        };
        problems.push(check::Problem::DnsRecord {
            record: record.to_string(),
            path: managed.path.clone(),
            expected,
            found,
        });
    }
    Ok(problems)
}

fn check(context: &Context) -> Result<(), Error> {
    let backends = Backends::new(&context.settings, context.open);
    let mut report = check::check(
        &context.settings.project.fragment_dir(),
        &context.settings.project.merged_path(),
        &|marker, name| probe(&backends, marker, name),
    )?;
    // Only targets the project names: merely connecting to an implicit qemu:///session
    // would start a libvirt daemon for a user who never asked for one.
    let unlisted = unlisted(context, &backends, &report);
    report.problems.extend(unlisted);
    report.problems.extend(dns_problems(context, &report)?);
    if context.settings.json {
        print_json(&report)?;
    } else {
        print_lines(report.problems.iter().map(ToString::to_string))?;
        for note in &report.notes {
            context.settings.reporter.info(format!("note: {note}"));
        }
        for managed in &report.managed {
            context.settings.reporter.detail(format!(
                "{}: {}",
                managed.path.display(),
                managed.status
            ));
        }
        let unchecked = report
            .managed
            .iter()
            .filter(|m| m.status.starts_with("not checked"))
            .count();
        if unchecked > 0 {
            context.settings.reporter.info(format!(
                "{unchecked} managed fragment(s) not checked for orphans: no backend can look them up (-v lists them)"
            ));
        }
        if report.problems.is_empty() {
            context.settings.reporter.info("no problems found");
        }
    }
    if report.problems.is_empty() {
        Ok(())
    } else {
        Err(Error::ProblemsFound(report.problems.len()))
    }
}

fn prune(context: &Context, dry_run: bool, mode: Option<Validate>) -> Result<(), Error> {
    context.require_fragment_dir()?;
    let _lock = context.lock()?;
    let backends = Backends::new(&context.settings, context.open);
    let report = check::check(
        &context.settings.project.fragment_dir(),
        &context.settings.project.merged_path(),
        &|marker, name| probe(&backends, marker, name),
    )?;
    let orphans: Vec<&std::path::PathBuf> = report
        .problems
        .iter()
        .filter_map(|p| match p {
            check::Problem::Orphan { path, .. } => Some(path),
            _ => None,
        })
        .collect();
    if context.settings.json {
        print_json(&PruneRow {
            orphans: orphans.iter().map(|p| p.to_path_buf()).collect(),
            deleted: !dry_run,
        })?;
    }
    for path in &orphans {
        if dry_run {
            context
                .settings
                .reporter
                .info(format!("would delete {}", path.display()));
        } else {
            // The VM is gone: so is the host key recorded for it, and its DNS record.
            let host = path
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
            prune_record(context, &host, path)?;
            crate::guest::hostkey::forget(&context.settings.project.known_hosts(), &host)?;
            fs::remove_file(path).map_err(|e| {
                Error::Failed(format!(
                    "cannot delete {}: {e}; check that its folder is writable by you",
                    path.display()
                ))
            })?;
            context
                .settings
                .reporter
                .info(format!("deleted {}", path.display()));
        }
    }
    if orphans.is_empty() {
        context.settings.reporter.info("no orphaned fragments");
    }
    if dry_run {
        return Ok(());
    }
    let merged = context.merge_locked(mode)?;
    print_merge_result(context, &merged)
}

/// Deletes the DNS record of an orphan's VM, read from its fragment, before the fragment goes.
fn prune_record(context: &Context, host: &str, path: &Path) -> Result<(), Error> {
    match super::delete_record(context, host, path)? {
        RecordDeletion::NoRecord => Ok(()),
        RecordDeletion::Deleted(record) => {
            context
                .settings
                .reporter
                .info(format!("deleted the DNS record {record}"));
            Ok(())
        }
        RecordDeletion::Unconfigured(record) => {
            context.settings.reporter.warn(format!(
                "{record} may be left in DNS: [dns] is not configured any more"
            ));
            Ok(())
        }
        RecordDeletion::Failed {
            record,
            error,
            lines,
        } => Err(Error::Failed(format!(
            "cannot delete the DNS record {record} of {host}, whose VM is gone: {error}; its fragment is kept so that prune can try again, or remove the record with `nsupdate -k KEYFILE`:\n{lines}"
        ))),
    }
}
