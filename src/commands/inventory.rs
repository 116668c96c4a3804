//! `vm inventory merge | add | remove | list | check | prune`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs;
use std::path::Path;

use serde_json::json;

use super::Context;
use crate::backend::VmInfo;
use crate::backend::libvirt::Libvirt;
use crate::backend::terraform::Terraform;
use crate::cli::InventoryCommand;
use crate::error::Error;
use crate::inventory::check::{self, Presence};
use crate::inventory::export::{list_export, to_ansible_text};
use crate::inventory::fragment::{self, FragmentSpec, Marker};
use crate::inventory::merge::{self, Merged};
use crate::inventory::pyliteral::Value;

/// Backend name in the marker of fragments written by `inventory add`: a host made elsewhere,
/// which no backend of ours can look up.
const EXTERNAL: &str = "external";

/// Dispatches one `vm inventory` command.
pub fn run(context: &Context, command: InventoryCommand) -> Result<(), Error> {
    match command {
        InventoryCommand::Check => check(context),
        InventoryCommand::Prune { dry_run, validate } => prune(context, dry_run, validate.validate),
        light => run_light(context, light),
    }
}

/// The inventory commands that never ask a backend (see `commands::run_light`).
pub fn run_light(context: &Context, command: InventoryCommand) -> Result<(), Error> {
    match command {
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
        InventoryCommand::List { ansible_json } => list(context, ansible_json),
        InventoryCommand::Check | InventoryCommand::Prune { .. } => Err(Error::Failed(
            "internal error: check and prune need the backends; run them through vm".into(),
        )),
    }
}

fn summary(context: &Context, merged: &Merged) -> String {
    format!(
        "{}: {} hosts, {} groups from {} fragments",
        context.project.merged_path().display(),
        merged.inventory.hosts.len(),
        merged.inventory.groups.len() - 2,
        merged.sources.len()
    )
}

fn print_merge_result(context: &Context, merged: &Merged) {
    if context.json {
        println!(
            "{}",
            json!({
                "inventory": context.project.merged_path(),
                "fragments": merged.sources.len(),
                "hosts": merged.inventory.hosts.len(),
                "groups": merged.inventory.groups.len() - 2,
            })
        );
    }
    context
        .reporter
        .info(format!("merged {}", summary(context, merged)));
}

fn merge(context: &Context, mode: Option<crate::project::Validate>) -> Result<(), Error> {
    context.require_fragment_dir()?;
    let _lock = context.lock()?;
    let merged = context.merge_locked(mode)?;
    print_merge_result(context, &merged);
    // The process ends right after; freeing thousands of hosts one by one would only delay it.
    std::mem::forget(merged);
    Ok(())
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
    mode: Option<crate::project::Validate>,
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
    let text = spec.render(&context.project.templates_dir())?;

    let dir = context.project.fragment_dir();
    fs::create_dir_all(&dir)
        .map_err(|e| Error::Failed(format!("cannot create {}: {e}", dir.display())))?;
    let _lock = context.lock()?;
    let path = dir.join(spec.file_name());
    let previous = managed_fragment(&path, name)?;
    let merged = context.publish_fragment(&path, &text, previous.as_deref(), mode)?;
    let verb = if previous.is_some() {
        "updated"
    } else {
        "added"
    };
    context
        .reporter
        .info(format!("{verb} {name} ({})", path.display()));
    print_merge_result(context, &merged);
    Ok(())
}

fn remove(
    context: &Context,
    name: &str,
    mode: Option<crate::project::Validate>,
) -> Result<(), Error> {
    fragment::validate_name(name)?;
    context.require_fragment_dir()?;
    let path = context.project.fragment_dir().join(format!("{name}.ini"));
    let _lock = context.lock()?;
    let Some(previous) = managed_fragment(&path, name)? else {
        return Err(Error::Failed(format!(
            "no fragment for {name} at {}; `vm inventory list` shows the hosts there are",
            path.display()
        )));
    };
    fs::remove_file(&path).map_err(|e| {
        Error::Failed(format!(
            "cannot delete {}: {e}; check that its folder is writable by you",
            path.display()
        ))
    })?;
    match context.merge_locked(mode) {
        Ok(merged) => {
            context
                .reporter
                .info(format!("removed {name} ({})", path.display()));
            print_merge_result(context, &merged);
            Ok(())
        }
        Err(e) => {
            super::restore_fragment(&path, Some(&previous));
            Err(e)
        }
    }
}

fn value_text(value: Option<&Value>) -> serde_json::Value {
    value.map_or(serde_json::Value::Null, Value::to_json)
}

fn list(context: &Context, ansible_json: bool) -> Result<(), Error> {
    let merged = merge::build(
        &context.project.fragment_dir(),
        &context.project.merged_path(),
    )?;
    let inventory = &merged.inventory;
    if ansible_json {
        println!("{}", to_ansible_text(&list_export(inventory)));
        return Ok(());
    }
    let rows: Vec<serde_json::Value> = inventory
        .hosts
        .iter()
        .map(|host| {
            let groups: Vec<&str> = host
                .groups
                .iter()
                .map(|&g| inventory.groups[g].name.as_str())
                .collect();
            let fragments: Vec<&str> = host
                .sources
                .iter()
                .map(|&s| merged.sources[s].name.as_str())
                .collect();
            json!({
                "name": host.name,
                "ansible_host": value_text(host.vars.get("ansible_host").map(|v| &v.value)),
                "ansible_port": value_text(host.vars.get("ansible_port").map(|v| &v.value)),
                "groups": groups,
                "fragments": fragments,
            })
        })
        .collect();
    if context.json {
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    println!(
        "{:<24} {:<24} {:<24} FRAGMENTS",
        "NAME", "ADDRESS", "GROUPS"
    );
    for row in rows {
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        let mut address = text(&row["ansible_host"]);
        if !row["ansible_port"].is_null() {
            if address.contains(':') {
                address = format!("[{address}]");
            }
            address = format!("{address}:{}", text(&row["ansible_port"]));
        }
        let join = |v: &serde_json::Value| {
            v.as_array()
                .map(|a| a.iter().map(text).collect::<Vec<_>>().join(","))
                .unwrap_or_default()
        };
        println!(
            "{:<24} {:<24} {:<24} {}",
            text(&row["name"]),
            address,
            join(&row["groups"]),
            join(&row["fragments"])
        );
    }
    Ok(())
}

/// What the backends know, asked once per connection: the managed VMs of every libvirt URI
/// that a fragment names (and the default one).
struct Backends {
    vms: RefCell<HashMap<String, Result<Vec<VmInfo>, String>>>,
    workspaces: RefCell<HashMap<String, Result<Vec<String>, String>>>,
    terraform_bin: Option<String>,
    state_dir: std::path::PathBuf,
}

impl Backends {
    fn new(context: &Context) -> Self {
        Backends {
            vms: RefCell::new(HashMap::new()),
            workspaces: RefCell::new(HashMap::new()),
            terraform_bin: context.project.config.terraform_bin.clone(),
            state_dir: context.project.state_dir(),
        }
    }

    fn vms(&self, uri: &str) -> Result<Vec<VmInfo>, String> {
        self.vms
            .borrow_mut()
            .entry(uri.to_string())
            .or_insert_with(|| {
                Libvirt::connect(uri)
                    .and_then(|l| l.list())
                    .map_err(|e| e.to_string())
            })
            .clone()
    }

    /// Whether the VM behind a managed fragment exists. `external` fragments (from
    /// `vm inventory add`) name hosts made elsewhere, which nobody can look up.
    fn probe(&self, marker: &Marker, name: &str) -> Presence {
        if marker.backend == "terraform" {
            return self.terraform_probe(marker, name);
        }
        if marker.backend != "libvirt" {
            return Presence::Unknown(format!("no backend can look up '{}' VMs", marker.backend));
        }
        match self.vms(&marker.connection) {
            Err(e) => Presence::Unknown(e),
            Ok(vms) => match vms.into_iter().find(|vm| vm.name == name) {
                Some(vm) => Presence::Exists {
                    address: vm.address,
                },
                None => Presence::Missing,
            },
        }
    }

    /// A Terraform VM exists while its workspace does.
    fn terraform_probe(&self, marker: &Marker, name: &str) -> Presence {
        let dir = std::path::Path::new(&marker.connection);
        let bin = self.terraform_bin.as_deref().unwrap_or("terraform");
        let state = self.state_dir.clone();
        let found = self
            .workspaces
            .borrow_mut()
            .entry(marker.connection.clone())
            .or_insert_with(|| {
                Terraform::new(bin, dir, &state)
                    .and_then(|t| t.workspaces())
                    .map_err(|e| e.to_string())
            })
            .clone();
        match found {
            Err(e) => Presence::Unknown(e),
            Ok(workspaces) if workspaces.iter().any(|w| w == name) => {
                Presence::Exists { address: None }
            }
            Ok(_) => Presence::Missing,
        }
    }

    /// Managed VMs on the known connections that have no fragment.
    fn unlisted(
        &self,
        report: &check::Report,
        configured: Option<&str>,
        project: &crate::project::Project,
    ) -> Vec<check::Problem> {
        let mut uris: Vec<String> = configured.into_iter().map(str::to_string).collect();
        for managed in &report.managed {
            if managed.backend == "libvirt" && !uris.contains(&managed.connection) {
                uris.push(managed.connection.clone());
            }
        }
        let mut problems = Vec::new();
        for uri in uris {
            let Ok(vms) = self.vms(&uri) else {
                continue;
            };
            for vm in vms
                .into_iter()
                .filter(|vm| project.owns(vm.project.as_deref()))
            {
                if !report.managed.iter().any(|m| m.name == vm.name) {
                    problems.push(check::Problem::NoFragment {
                        name: vm.name,
                        connection: uri.clone(),
                    });
                }
            }
        }
        // Terraform: a workspace of a module the fragments name, without a fragment.
        let mut dirs: Vec<String> = Vec::new();
        if project.config.backend.as_deref() == Some("terraform") {
            let dir = project
                .config
                .terraform_dir
                .clone()
                .unwrap_or_else(|| project.root.join("terraform"));
            dirs.push(
                std::path::absolute(&dir)
                    .unwrap_or(dir)
                    .display()
                    .to_string(),
            );
        }
        for managed in &report.managed {
            if managed.backend == "terraform" && !dirs.contains(&managed.connection) {
                dirs.push(managed.connection.clone());
            }
        }
        for dir in &dirs {
            let marker = Marker::new("terraform", dir);
            let Ok(marker) = marker else { continue };
            // Fills the cache of workspaces for this module.
            let _ = self.terraform_probe(&marker, "");
            let cached = self.workspaces.borrow().get(dir.as_str()).cloned();
            for name in cached.and_then(Result::ok).unwrap_or_default() {
                if !report.managed.iter().any(|m| m.name == name) {
                    problems.push(check::Problem::NoFragment {
                        name,
                        connection: dir.clone(),
                    });
                }
            }
        }
        problems
    }
}

fn check(context: &Context) -> Result<(), Error> {
    let backends = Backends::new(context);
    let mut report = check::check(
        &context.project.fragment_dir(),
        &context.project.merged_path(),
        &|marker, name| backends.probe(marker, name),
    )?;
    // Only connections the project names: merely connecting to an implicit qemu:///session
    // would start a libvirt daemon for a user who never asked for one.
    let configured = context.project.config.connect.clone();
    let unlisted = backends.unlisted(&report, configured.as_deref(), &context.project);
    report.problems.extend(unlisted);
    if context.json {
        println!(
            "{}",
            serde_json::to_string(&report)
                .map_err(|e| Error::Failed(format!("cannot print JSON: {e}")))?
        );
    } else {
        for problem in &report.problems {
            println!("{problem}");
        }
        for note in &report.notes {
            context.reporter.info(format!("note: {note}"));
        }
        for managed in &report.managed {
            context
                .reporter
                .detail(format!("{}: {}", managed.path.display(), managed.status));
        }
        let unchecked = report
            .managed
            .iter()
            .filter(|m| m.status.starts_with("not checked"))
            .count();
        if unchecked > 0 {
            context.reporter.info(format!(
                "{unchecked} managed fragment(s) not checked for orphans: no backend can look them up (-v lists them)"
            ));
        }
        if report.problems.is_empty() {
            context.reporter.info("no problems found");
        }
    }
    if report.problems.is_empty() {
        Ok(())
    } else {
        Err(Error::ProblemsFound(report.problems.len()))
    }
}

fn prune(
    context: &Context,
    dry_run: bool,
    mode: Option<crate::project::Validate>,
) -> Result<(), Error> {
    context.require_fragment_dir()?;
    let _lock = context.lock()?;
    let backends = Backends::new(context);
    let report = check::check(
        &context.project.fragment_dir(),
        &context.project.merged_path(),
        &|marker, name| backends.probe(marker, name),
    )?;
    let orphans: Vec<&std::path::PathBuf> = report
        .problems
        .iter()
        .filter_map(|p| match p {
            check::Problem::Orphan { path, .. } => Some(path),
            _ => None,
        })
        .collect();
    if context.json {
        println!("{}", json!({ "orphans": orphans, "deleted": !dry_run }));
    }
    for path in &orphans {
        if dry_run {
            context
                .reporter
                .info(format!("would delete {}", path.display()));
        } else {
            fs::remove_file(path).map_err(|e| {
                Error::Failed(format!(
                    "cannot delete {}: {e}; check that its folder is writable by you",
                    path.display()
                ))
            })?;
            // The VM is gone: so is the host key recorded for it.
            let host = path
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
            let known_hosts = context
                .project
                .ansible_dir()
                .join(crate::hostkey::KNOWN_HOSTS);
            crate::hostkey::forget(&known_hosts, &host)?;
            context.reporter.info(format!("deleted {}", path.display()));
        }
    }
    if orphans.is_empty() {
        context.reporter.info("no orphaned fragments");
    }
    if dry_run {
        return Ok(());
    }
    let merged = context.merge_locked(mode)?;
    print_merge_result(context, &merged);
    Ok(())
}
