//! `vm list`: the VMs vm manages on every connection it knows (the default libvirt one, those
//! recorded in fragments, the Terraform module of vm.toml), with whether their fragment is
//! present and current.

use std::collections::BTreeSet;

use super::Context;
use crate::backend::libvirt::{Libvirt, default_uri};
use crate::backend::terraform::Terraform;
use crate::error::Error;
use crate::inventory::check::{fragment_host, recorded_address};
use crate::inventory::fragment::read_marker;
use crate::inventory::merge;

/// Runs `vm list`.
pub fn run(context: &Context, connect: Option<&str>) -> Result<(), Error> {
    let fragments = merge::collect(&context.project.fragment_dir()).unwrap_or_default();
    let mut uris = BTreeSet::new();
    uris.insert(default_uri(
        connect.or(context.project.config.connect.as_deref()),
    ));
    let mut terraform_dirs = BTreeSet::new();
    let config = &context.project.config;
    if config.backend.as_deref() == Some("terraform") {
        terraform_dirs.insert(
            config
                .terraform_dir
                .clone()
                .unwrap_or_else(|| context.project.root.join("terraform"))
                .display()
                .to_string(),
        );
    }
    for source in &fragments {
        match read_marker(&source.path) {
            Ok(Some(marker)) if marker.backend == "libvirt" => {
                uris.insert(marker.connection);
            }
            Ok(Some(marker)) if marker.backend == "terraform" => {
                terraform_dirs.insert(marker.connection);
            }
            _ => {}
        }
    }
    let mut rows = Vec::new();
    for uri in &uris {
        let vms = match Libvirt::connect(uri).and_then(|l| l.list()) {
            Ok(vms) => vms,
            Err(e) => {
                context.reporter.warn(e);
                continue;
            }
        };
        for vm in vms
            .into_iter()
            .filter(|vm| context.project.owns(vm.project.as_deref()))
        {
            let source = fragments.iter().find(|s| fragment_host(s) == vm.name);
            let fragment = match source {
                None => "missing".to_string(),
                Some(s) => match (recorded_address(&s.path), &vm.address) {
                    (Some(recorded), Some(current)) if &recorded != current => {
                        format!("stale ({recorded})")
                    }
                    _ => "current".to_string(),
                },
            };
            rows.push(serde_json::json!({
                "name": vm.name, "state": vm.state, "memory_mib": vm.memory_mib,
                "vcpus": vm.vcpus, "address": vm.address, "connection": vm.connection,
                "fragment": fragment,
            }));
        }
    }
    for dir in &terraform_dirs {
        let bin = config.terraform_bin.as_deref().unwrap_or("terraform");
        let workspaces =
            Terraform::new(bin, std::path::Path::new(dir), &context.project.state_dir())
                .and_then(|t| t.workspaces());
        let workspaces = match workspaces {
            Ok(w) => w,
            Err(e) => {
                context.reporter.warn(e);
                continue;
            }
        };
        for name in workspaces {
            // Size from the variables vm recorded; address from the fragment.
            let vars: serde_json::Value = std::fs::read_to_string(
                context
                    .project
                    .state_dir()
                    .join("terraform")
                    .join(format!("{name}.tfvars.json")),
            )
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
            let source = fragments.iter().find(|s| fragment_host(s) == name);
            rows.push(serde_json::json!({
                "name": name, "state": "applied", "memory_mib": vars["memory"],
                "vcpus": vars["vcpus"],
                "address": source.and_then(|s| recorded_address(&s.path)),
                "connection": dir,
                "fragment": if source.is_some() { "current" } else { "missing" },
            }));
        }
    }
    if context.json {
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    println!(
        "{:<20} {:<10} {:>7} {:>5} {:<22} {:<18} CONNECTION",
        "NAME", "STATE", "MEMORY", "VCPUS", "ADDRESS", "FRAGMENT"
    );
    for row in rows {
        let s = |k: &str| row[k].as_str().unwrap_or("-").to_string();
        println!(
            "{:<20} {:<10} {:>7} {:>5} {:<22} {:<18} {}",
            s("name"),
            s("state"),
            format!("{}M", row["memory_mib"]),
            row["vcpus"].to_string(),
            s("address"),
            s("fragment"),
            s("connection")
        );
    }
    Ok(())
}
