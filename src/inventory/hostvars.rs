//! A host's variables as a play sees them from the inventory: the variables of every group it
//! belongs to (with their ancestors, `all` first), deeper groups overriding shallower ones and,
//! at equal depth, higher `ansible_group_priority` and then later names winning; the host's own
//! variables last (ansible-core's `get_group_vars(sort_groups(host.get_groups()))` then
//! `host.get_vars()`).

use std::collections::HashMap;

use super::model::{GroupId, Inventory, Var};

/// The variables `host` ends up with, each key once, later sources having overridden earlier.
pub fn effective(inventory: &Inventory, host: usize) -> HashMap<String, Var> {
    let mut groups: Vec<GroupId> = Vec::new();
    for &group in &inventory.hosts[host].groups {
        for g in std::iter::once(group).chain(inventory.ancestors(group)) {
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
    }
    let mut depths = HashMap::new();
    groups.sort_by_cached_key(|&g| {
        let group = &inventory.groups[g];
        (
            depth(inventory, g, &mut depths),
            group.priority,
            &group.name,
        )
    });
    let mut vars = HashMap::new();
    for group in groups {
        for (key, var) in inventory.groups[group].vars.iter() {
            vars.insert(key.to_string(), var.clone());
        }
    }
    for (key, var) in inventory.hosts[host].vars.iter() {
        vars.insert(key.to_string(), var.clone());
    }
    vars
}

/// Ansible's `Group.depth`: 0 for a group without parents, else one more than its deepest
/// parent.
fn depth(inventory: &Inventory, group: GroupId, memo: &mut HashMap<GroupId, usize>) -> usize {
    if let Some(&d) = memo.get(&group) {
        return d;
    }
    let d = inventory.groups[group]
        .parents
        .iter()
        .map(|&p| depth(inventory, p, memo) + 1)
        .max()
        .unwrap_or(0);
    memo.insert(group, d);
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::ini::parse_source;

    fn vars_of(text: &str, host: &str) -> HashMap<String, String> {
        let mut inventory = Inventory::new();
        parse_source(&mut inventory, 0, text).unwrap();
        inventory.reconcile().unwrap();
        let id = inventory.host_id(host).unwrap();
        effective(&inventory, id)
            .into_iter()
            .map(|(k, v)| (k, v.src))
            .collect()
    }

    #[test]
    fn deeper_groups_override_shallower_and_the_host_overrides_all() {
        let text = "[all:vars]\nu=all\nport=1\n\
                    [web]\nh1 x=host\n[web:vars]\nu=web\nx=web\n\
                    [prod:children]\nweb\n[prod:vars]\nu=prod\nz=prod\n";
        let vars = vars_of(text, "h1");
        assert_eq!(vars["u"], "web"); // web (depth 2) over prod (1) over all (0)
        assert_eq!(vars["z"], "prod");
        assert_eq!(vars["port"], "1");
        assert_eq!(vars["x"], "host");
    }

    #[test]
    fn at_equal_depth_priority_then_the_later_name_wins() {
        let text = "[a]\nh\n[b]\nh\n[a:vars]\nu=a\n[b:vars]\nu=b\n";
        assert_eq!(vars_of(text, "h")["u"], "b");
        let text = "[a]\nh\n[b]\nh\n[a:vars]\nu=a\nansible_group_priority=5\n[b:vars]\nu=b\n";
        assert_eq!(vars_of(text, "h")["u"], "a");
    }
}
