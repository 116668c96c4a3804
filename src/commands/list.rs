//! `vm list`: the VMs vm manages on every connection it knows (the default one and those
//! recorded in fragments), with whether their fragment is present and current.

use std::collections::BTreeSet;

use super::Context;
use crate::backend::libvirt::{Libvirt, default_uri};
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
    for source in &fragments {
        if let Ok(Some(marker)) = read_marker(&source.path)
            && marker.backend == "libvirt"
        {
            uris.insert(marker.connection);
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
