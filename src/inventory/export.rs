//! The JSON `ansible-inventory --list --export` prints for an inventory, built from our model:
//! what `vm inventory list --ansible-json` prints, and what the differential tests compare.

use serde_json::{Map, Value as Json, json};

use super::model::{ALL, GroupId, Inventory, Vars};
use super::pyliteral::ansible_json;

/// Variables `ansible-inventory` leaves out of its output (`C.INTERNAL_STATIC_VARS`).
const INTERNAL_VARS: &[&str] = &[
    "ansible_async_path",
    "ansible_collection_name",
    "ansible_config_file",
    "ansible_dependent_role_names",
    "ansible_diff_mode",
    "ansible_facts",
    "ansible_forks",
    "ansible_inventory_sources",
    "ansible_limit",
    "ansible_play_batch",
    "ansible_play_hosts",
    "ansible_play_hosts_all",
    "ansible_play_role_names",
    "ansible_playbook_python",
    "ansible_role_name",
    "ansible_role_names",
    "ansible_run_tags",
    "ansible_skip_tags",
    "ansible_verbosity",
    "ansible_version",
    "inventory_dir",
    "inventory_file",
    "inventory_hostname",
    "inventory_hostname_short",
    "groups",
    "group_names",
    "hostvars",
    "playbook_dir",
    "play_hosts",
    "role_name",
    "role_names",
    "role_path",
    "role_uuid",
];

/// Whether `ansible-inventory` hides the variable `name` from its listing.
pub fn is_internal_var(name: &str) -> bool {
    INTERNAL_VARS.contains(&name)
}

fn vars_json(vars: &Vars) -> Map<String, Json> {
    vars.iter()
        .filter(|(k, _)| !is_internal_var(k))
        // From the source text, so a value from a bytes literal keeps Ansible's "unsafe" mark.
        .map(|(k, v)| {
            let json = ansible_json(&v.src).unwrap_or_else(|_| v.value.to_json());
            (k.to_string(), json)
        })
        .collect()
}

/// `ansible-inventory --host NAME` of a host's combined variables.
pub fn host_vars_json(vars: &std::collections::HashMap<String, super::model::Var>) -> Json {
    Json::Object(
        vars.iter()
            .filter(|(k, _)| !is_internal_var(k))
            .map(|(k, v)| {
                let json = ansible_json(&v.src).unwrap_or_else(|_| v.value.to_json());
                (k.clone(), json)
            })
            .collect(),
    )
}

/// `ansible-inventory --list --export` of a reconciled inventory.
pub fn list_export(inventory: &Inventory) -> Json {
    let mut out = Map::new();
    let mut seen = vec![false; inventory.groups.len()];
    format_group(inventory, ALL, &mut seen, &mut out);
    let hostvars: Map<String, Json> = inventory
        .hosts
        .iter()
        // Only hosts `all` reaches: a host taken out of `ungrouped` into no group has no entry.
        .filter(|h| !h.groups.is_empty())
        .filter_map(|h| {
            let vars = vars_json(&h.vars);
            (!vars.is_empty()).then(|| (h.name.clone(), Json::Object(vars)))
        })
        .collect();
    out.insert(
        "_meta".to_string(),
        json!({"hostvars": hostvars, "profile": "inventory_legacy"}),
    );
    Json::Object(out)
}

/// `InventoryCLI.json_inventory.format_group`: depth-first from `all`, each group once.
fn format_group(
    inventory: &Inventory,
    id: GroupId,
    seen: &mut [bool],
    out: &mut Map<String, Json>,
) {
    let group = &inventory.groups[id];
    let mut entry = Map::new();
    if id != ALL && !group.hosts.is_empty() {
        let hosts = group
            .hosts
            .iter()
            .map(|&h| Json::from(inventory.hosts[h].name.as_str()));
        entry.insert("hosts".into(), Json::Array(hosts.collect()));
    }
    if !group.children.is_empty() {
        let children = group
            .children
            .iter()
            .map(|&g| Json::from(inventory.groups[g].name.as_str()));
        entry.insert("children".into(), Json::Array(children.collect()));
    }
    let mut vars = vars_json(&group.vars);
    if group.priority != 1 {
        vars.insert("ansible_group_priority".into(), group.priority.into());
    }
    if !vars.is_empty() {
        entry.insert("vars".into(), Json::Object(vars));
    }
    if !entry.is_empty() {
        out.insert(group.name.clone(), Json::Object(entry));
    }
    for &child in &group.children {
        if !std::mem::replace(&mut seen[child], true) {
            format_group(inventory, child, seen, out);
        }
    }
}

/// Prints JSON the way `ansible-inventory` does (`json.dumps(…, sort_keys=True, indent=4)`,
/// non-ASCII characters as they are).
pub fn to_ansible_text(json: &Json) -> String {
    use serde::Serialize;
    let mut bytes = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut bytes, formatter);
    // Serializing a `serde_json::Value` into memory cannot fail, and yields UTF-8.
    let _ = json.serialize(&mut serializer);
    String::from_utf8_lossy(&bytes).into_owned()
}
