//! `vm list`: the VMs of this project on every backend it knows (the configured one, those
//! its fragments name), with whether their fragment is present and current and how their host
//! key is pinned.

use serde::Serialize;

use super::Context;
use crate::backend::{Backends, Target};
use crate::error::Error;
use crate::guest::hostkey;
use crate::inventory::check::{fragment_host, recorded_address};
use crate::inventory::fragment::read_marker;
use crate::inventory::merge;
use crate::output::{print_json, print_lines};

/// One VM of `vm list`.
#[derive(Debug, Clone, Serialize)]
pub struct ListRow {
    /// Name.
    pub name: String,
    /// Backend.
    pub backend: String,
    /// `running`, `shut off`, `applied`, …
    pub state: String,
    /// Memory in MiB, when known.
    pub memory_mib: Option<u64>,
    /// vCPUs, when known.
    pub vcpus: Option<u32>,
    /// Address (`host` or `host:port`), when known.
    pub address: Option<String>,
    /// The backend's connection.
    pub connection: String,
    /// `current`, `missing` or `stale (ADDRESS)`.
    pub fragment: String,
    /// `pinned`, `first-use`, or `-` without a fragment.
    pub host_key: &'static str,
}

/// Runs `vm list`.
pub fn run(context: Context, connect: Option<&str>) -> Result<(), Error> {
    let settings = context.settings.clone().with_connect(connect);
    let fragments = merge::collect(&settings.project.fragment_dir()).unwrap_or_default();
    let mut targets = settings.listed_targets();
    for source in &fragments {
        if let Ok(Some(marker)) = read_marker(&source.path) {
            targets.extend(Target::from_marker(&marker));
        }
    }
    targets.sort();
    targets.dedup();
    let backends = Backends::new(&settings, context.open);
    let mut rows = Vec::new();
    for target in &targets {
        let opened = backends.get(target);
        let vms = match opened
            .as_ref()
            .as_ref()
            .map_err(String::clone)
            .and_then(|b| b.list(&settings.project).map_err(|e| e.to_string()))
        {
            Ok(vms) => vms,
            Err(e) => {
                settings.reporter.warn(e);
                continue;
            }
        };
        for vm in vms {
            let source = fragments.iter().find(|s| fragment_host(s) == vm.name);
            let recorded = source.and_then(|s| recorded_address(&s.path));
            let fragment = match (source, &recorded, &vm.address) {
                (None, ..) => "missing".to_string(),
                (Some(_), Some(recorded), Some(current)) if recorded != current => {
                    format!("stale ({recorded})")
                }
                _ => "current".to_string(),
            };
            let host_key = match source.and_then(|s| std::fs::read_to_string(&s.path).ok()) {
                None => "-",
                Some(text) if hostkey::is_first_use(&text) => "first-use",
                Some(_) => "pinned",
            };
            rows.push(ListRow {
                name: vm.name,
                backend: target.kind.to_string(),
                state: vm.state,
                memory_mib: vm.memory_mib,
                vcpus: vm.vcpus,
                address: vm.address.or(recorded),
                connection: target.connection.clone(),
                fragment,
                host_key,
            });
        }
    }
    if settings.json {
        return print_json(&rows);
    }
    let line = |cells: [&str; 8]| {
        format!(
            "{:<20} {:<10} {:>7} {:>5} {:<22} {:<18} {:<9} {}",
            cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6], cells[7]
        )
    };
    let mut lines = vec![line([
        "NAME",
        "STATE",
        "MEMORY",
        "VCPUS",
        "ADDRESS",
        "FRAGMENT",
        "HOST KEY",
        "CONNECTION",
    ])];
    for row in &rows {
        let memory = row.memory_mib.map_or("-".into(), |m| format!("{m}M"));
        let vcpus = row.vcpus.map_or("-".into(), |v| v.to_string());
        lines.push(line([
            &row.name,
            &row.state,
            &memory,
            &vcpus,
            row.address.as_deref().unwrap_or("-"),
            &row.fragment,
            row.host_key,
            &row.connection,
        ]));
    }
    print_lines(lines)
}
