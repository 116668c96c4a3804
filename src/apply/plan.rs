//! What `vm apply` would do for each key of the file: create · no-op · update · destroy ·
//! keep (a key gone from the file, without `--prune`) · conflict (a same-named VM or fragment
//! this file did not make).

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Serialize;

use super::{FILE_DETAIL, KEY_DETAIL, Source};
use crate::backend::{Backends, Target, VmInfo};
use crate::commands::Context;
use crate::error::Error;
use crate::inventory::check::Presence;
use crate::inventory::fragment::Marker;
use crate::inventory::model::Inventory;
use crate::inventory::pyliteral::Value;
use crate::settings::{Settings, VmRequest};

/// What apply does with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Make the VM.
    Create,
    /// It is as the file says.
    Noop,
    /// Groups or vars differ (the fragment is rewritten), or memory/vCPUs (reported).
    Update(Vec<String>),
    /// A VM this file made whose key is gone (`--prune`).
    Destroy,
    /// A VM this file made whose key is gone, kept without `--prune`.
    Keep,
    /// Not this file's to touch: why.
    Conflict(String),
}

impl Action {
    /// The action's name in the plan.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Noop => "no-op",
            Action::Update(_) => "update",
            Action::Destroy => "destroy",
            Action::Keep => "keep",
            Action::Conflict(_) => "conflict",
        }
    }

    /// What more there is to say.
    pub fn detail(&self) -> String {
        match self {
            Action::Update(what) => what.join("; "),
            Action::Keep => "not in the file any more; --prune destroys it".into(),
            Action::Conflict(why) => why.clone(),
            _ => String::new(),
        }
    }
}

/// One step of the plan.
pub struct Step {
    /// The key in the file.
    pub key: String,
    /// The VM's name.
    pub name: String,
    /// What to do.
    pub action: Action,
    /// Where the VM is (or goes).
    pub target: Target,
    /// The settings and request to make or update it (not for destroy/keep).
    pub request: Option<(Settings, VmRequest)>,
    /// Its fragment, when it has one.
    pub fragment: Option<PathBuf>,
}

/// A plan row for `--dry-run` and the summary.
#[derive(Debug, Clone, Serialize)]
pub struct PlanRow {
    /// Key.
    pub key: String,
    /// VM name.
    pub name: String,
    /// create, no-op, update, destroy, keep, conflict.
    pub action: &'static str,
    /// Why, or what differs.
    pub detail: String,
    /// Backend.
    pub backend: String,
}

impl Step {
    /// Its row.
    pub fn row(&self) -> PlanRow {
        PlanRow {
            key: self.key.clone(),
            name: self.name.clone(),
            action: self.action.name(),
            detail: self.action.detail(),
            backend: self.target.kind.to_string(),
        }
    }
}

/// Plans every key of `source`, and the keys gone from it.
pub fn plan(
    context: &Context,
    source: &Source,
    backends: &Backends,
    prune: bool,
    adopt: bool,
    no_wait: bool,
) -> Result<Vec<Step>, Error> {
    let project = &context.settings.project;
    let mut steps = Vec::new();
    // Each target's VMs, listed once for all the keys that go there.
    let mut lists = HashMap::new();
    for (key, entry) in &source.file.vms {
        let args = source.provision_args(key, entry, no_wait);
        let mut settings = context.settings.clone();
        let mut vm = settings
            .provision(&args)
            .map_err(|e| Error::Usage(format!("{} [vms.{key}]: {e}", source.path.display())))?;
        vm.marker_details = vec![
            (KEY_DETAIL.into(), key.clone()),
            (FILE_DETAIL.into(), source.id.clone()),
        ];
        let target = settings.default_target();
        let path = project.fragment_dir().join(format!("{}.ini", vm.name));
        let text = std::fs::read_to_string(&path).ok();
        let marker = text.as_deref().and_then(Marker::parse);
        let ours = marker.as_ref().is_some_and(|m| {
            m.detail(KEY_DETAIL) == Some(key) && m.detail(FILE_DETAIL) == Some(&source.id)
        });
        let action = match (&text, ours) {
            (Some(text), true) => match presence(backends, &target, &vm.name) {
                Presence::Missing => Action::Conflict(format!(
                    "its fragment {} names a VM {target} no longer has; `vm inventory prune` removes it, then apply again",
                    path.display()
                )),
                _ => differences(text, &vm, listed(&mut lists, backends, &target, project)),
            },
            (Some(_), false) if adopt && marker.is_some() => Action::Update(vec![
                "adopted: the fragment is rewritten for this file".into(),
            ]),
            (Some(_), false) => Action::Conflict(format!(
                "{} is in the inventory ({}) but this file did not make it; pick another name, or --adopt",
                vm.name,
                path.display()
            )),
            (None, _) => match presence(backends, &target, &vm.name) {
                Presence::Exists { .. } => Action::Conflict(format!(
                    "a VM named {} exists at {target} without a fragment; pick another name, or \
                     destroy it (`vm destroy {}`)",
                    vm.name, vm.name
                )),
                _ => Action::Create,
            },
        };
        steps.push(Step {
            key: key.clone(),
            name: vm.name.clone(),
            action,
            target,
            fragment: text.is_some().then_some(path),
            request: Some((settings, vm)),
        });
    }
    // Keys gone from the file: fragments this file made that no entry names any more.
    let sources = crate::inventory::merge::collect(&project.fragment_dir()).unwrap_or_default();
    for fragment in sources {
        let Ok(Some(marker)) = crate::inventory::fragment::read_marker(&fragment.path) else {
            continue;
        };
        let (Some(key), Some(file)) = (marker.detail(KEY_DETAIL), marker.detail(FILE_DETAIL))
        else {
            continue;
        };
        if file != source.id || source.file.vms.contains_key(key) {
            continue;
        }
        let Some(target) = Target::from_marker(&marker) else {
            continue;
        };
        steps.push(Step {
            key: key.to_string(),
            name: crate::inventory::check::fragment_host(&fragment),
            action: if prune { Action::Destroy } else { Action::Keep },
            target,
            request: None,
            fragment: Some(fragment.path.clone()),
        });
    }
    Ok(steps)
}

fn presence(backends: &Backends, target: &Target, name: &str) -> Presence {
    match backends.get(target).as_ref() {
        Ok(backend) => backend.presence(name),
        Err(e) => Presence::Unknown(e.clone()),
    }
}

/// The VMs of `target`, asked of its backend the first time only (none when it cannot say).
fn listed<'a>(
    lists: &'a mut HashMap<Target, Vec<VmInfo>>,
    backends: &Backends,
    target: &Target,
    project: &crate::project::Project,
) -> &'a [VmInfo] {
    lists
        .entry(target.clone())
        .or_insert_with(|| match backends.get(target).as_ref() {
            Ok(backend) => backend.list(project).unwrap_or_default(),
            Err(_) => Vec::new(),
        })
}

/// What differs between the fragment (and the VM, among `vms`) and the file.
fn differences(fragment: &str, vm: &VmRequest, vms: &[VmInfo]) -> Action {
    let mut what = Vec::new();
    let FragmentHost { groups, vars, .. } = fragment_host(fragment);
    if groups != vm.groups {
        what.push(format!(
            "groups [{}] -> [{}]",
            groups.join(", "),
            vm.groups.join(", ")
        ));
    }
    let mut wanted = vm.vars.clone();
    wanted.sort();
    if vars != wanted {
        what.push("vars differ".to_string());
    }
    if let Some(info) = vms.iter().find(|v| v.name == vm.name) {
        if info.memory_mib.is_some_and(|m| m != vm.memory_mib) {
            what.push(format!(
                "memory {} MiB -> {} MiB",
                info.memory_mib.unwrap_or_default(),
                vm.memory_mib
            ));
        }
        if info.vcpus.is_some_and(|v| v != vm.vcpus) {
            what.push(format!(
                "vCPUs {} -> {}",
                info.vcpus.unwrap_or_default(),
                vm.vcpus
            ));
        }
    }
    if what.is_empty() {
        Action::Noop
    } else {
        Action::Update(what)
    }
}

/// Variables `vm` itself sets in a fragment (not the user's `--var`s).
const OWN_VARS: [&str; 4] = [
    "ansible_host",
    "ansible_port",
    "ansible_user",
    "ansible_ssh_common_args",
];

/// What a `vm`-written fragment says of its one host.
#[derive(Debug, Default)]
pub struct FragmentHost {
    /// Its groups.
    pub groups: Vec<String>,
    /// The user's variables (not those `vm` sets), sorted.
    pub vars: Vec<(String, String)>,
    /// `ansible_host`.
    pub host: Option<String>,
    /// `ansible_port`.
    pub port: Option<u16>,
    /// `ansible_user`.
    pub user: Option<String>,
    /// `ansible_ssh_common_args` (the host-key options).
    pub ssh_args: Option<String>,
}

/// Reads the host a fragment defines (nothing when it does not parse).
pub fn fragment_host(text: &str) -> FragmentHost {
    let mut inventory = Inventory::new();
    if crate::inventory::ini::parse_source(&mut inventory, 0, text).is_err() {
        return FragmentHost::default();
    }
    let Some(host) = inventory.hosts.first() else {
        return FragmentHost::default();
    };
    let text_of = |key: &str| {
        host.vars.get(key).and_then(|v| match &v.value {
            Value::Str(s) => Some(s.clone()),
            _ => None,
        })
    };
    let mut vars: Vec<(String, String)> = host
        .vars
        .iter()
        .filter(|(k, _)| !OWN_VARS.contains(k))
        .map(|(k, v)| {
            let value = match &v.value {
                Value::Str(s) => s.clone(),
                _ => v.src.clone(),
            };
            (k.to_string(), value)
        })
        .collect();
    vars.sort();
    FragmentHost {
        groups: host
            .groups
            .iter()
            .map(|&g| inventory.groups[g].name.clone())
            .filter(|g| g != "all" && g != "ungrouped")
            .collect(),
        vars,
        host: text_of("ansible_host"),
        port: host.vars.get("ansible_port").and_then(|v| match v.value {
            Value::Int(p) => u16::try_from(p).ok(),
            _ => None,
        }),
        user: text_of("ansible_user"),
        ssh_args: text_of("ansible_ssh_common_args"),
    }
}
