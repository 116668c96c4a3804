//! Ansible's in-memory inventory (`InventoryData`, `Group`, `Host` of ansible-core 2.19), reduced to
//! what decides the meaning of an INI inventory: group and host order, memberships, parents,
//! variables and their precedence on re-definition, `ungrouped` reconciliation.
//!
//! The structure mirrors Ansible's on purpose: the parser drives it with the same calls Ansible's INI
//! plugin makes (`add_group`, `add_host`, `set_variable`, `add_child`), so the order-dependent rules
//! (first port wins, last variable wins, pending groups, `all`'s children order) fall out of the
//! same sequence of operations instead of being re-derived.

use std::collections::{HashMap, HashSet};

use super::pyliteral::Value;

/// Index of a group in [`Inventory::groups`].
pub type GroupId = usize;
/// Index of a host in [`Inventory::hosts`].
pub type HostId = usize;

/// The group every group without a parent ends up under.
pub const ALL: GroupId = 0;
/// The group that holds hosts that are in no other group.
pub const UNGROUPED: GroupId = 1;

/// Where a variable or host was defined: which source (fragment index) and which line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// Index into the list of sources the caller parsed, in parse order.
    pub source: usize,
    /// 1-based line number.
    pub line: usize,
}

/// A variable's value together with the text Ansible evaluated to get it.
///
/// Keeping `src` lets the renderer write the value back so that Ansible evaluates the same text
/// again, which is the only way to keep every Python-literal subtlety (`'1'` vs `1`, `1e3`,
/// `"10,20"`) without re-implementing Python's `repr`.
#[derive(Debug, Clone, PartialEq)]
pub struct Var {
    /// What `ast.literal_eval` made of `src` (after Ansible's coercions).
    pub value: Value,
    /// The exact text handed to `ast.literal_eval`: the shlex-unquoted token part after `=` on a
    /// host line, the stripped text after `=` in a `:vars` section.
    pub src: String,
    /// Where it was set last.
    pub origin: Origin,
}

/// Variables in insertion order; re-setting a key keeps its place, like a Python dict.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vars(Vec<(String, Var)>);

impl Vars {
    /// Sets `key`, replacing an earlier value in place (Ansible's default `hash_behaviour=replace`).
    /// Returns the previous value.
    pub fn set(&mut self, key: &str, var: Var) -> Option<Var> {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, slot)) => Some(std::mem::replace(slot, var)),
            None => {
                self.0.push((key.to_string(), var));
                None
            }
        }
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&Var> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Iterates in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Var)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Whether no variable is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An Ansible group.
#[derive(Debug, Clone)]
pub struct Group {
    /// The group's name as written in its section header.
    pub name: String,
    /// The group's own variables (not inherited ones).
    pub vars: Vars,
    /// `ansible_group_priority`; Ansible keeps it out of `vars` and shows it only when not 1.
    pub priority: i64,
    /// Where `ansible_group_priority` was set, if it was.
    pub priority_origin: Option<Origin>,
    /// Child groups in the order they were added.
    pub children: Vec<GroupId>,
    /// Parent groups in the order they were added.
    pub parents: Vec<GroupId>,
    /// Direct member hosts in the order they were added.
    pub hosts: Vec<HostId>,
    host_set: HashSet<HostId>,
    /// Where the group was first defined.
    pub origin: Origin,
}

/// An Ansible host.
#[derive(Debug, Clone)]
pub struct Host {
    /// The host's name (inventory_hostname).
    pub name: String,
    /// The host's own variables, `ansible_port` from a `name:port` pattern included.
    pub vars: Vars,
    /// Groups the host was added to directly, in order.
    pub groups: Vec<GroupId>,
    /// Every source (fragment index) that mentions the host, in order, without repeats.
    pub sources: Vec<usize>,
    /// Where the host was first defined.
    pub origin: Origin,
}

/// Errors Ansible raises while building the inventory (not while reading lines).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// `[g:children]` naming `g` itself.
    #[error("can't add group to itself")]
    SelfChild,
    /// A `:children` edge that closes a loop.
    #[error("Adding group '{child}' as child to '{parent}' creates a recursive dependency loop.")]
    Loop {
        /// The group being added.
        child: String,
        /// The group it was added to.
        parent: String,
    },
    /// An empty host name (`""` as the first token).
    #[error("Invalid empty host name provided: ")]
    EmptyHost,
    /// `ansible_group_priority` that Python's `int()` refuses.
    #[error("{0}")]
    Priority(String),
}

/// Who a conflicting variable belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entity {
    /// A host, by name.
    Host(String),
    /// A group, by name.
    Group(String),
}

/// One variable set to different values by two different sources; the later one wins in
/// Ansible, silently. `check` reports these.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// Whose variable.
    pub entity: Entity,
    /// The variable.
    pub key: String,
    /// The value that lost, and where it was set.
    pub lost: Var,
    /// The value that won, and where it was set.
    pub won: Var,
}

/// The whole inventory, as Ansible holds it after parsing one or more sources.
#[derive(Debug, Clone)]
pub struct Inventory {
    /// Groups in creation order; `all` and `ungrouped` first.
    pub groups: Vec<Group>,
    /// Hosts in creation order.
    pub hosts: Vec<Host>,
    group_index: HashMap<String, GroupId>,
    host_index: HashMap<String, HostId>,
    /// Groups that became children of `all` only at reconciliation (they had no parent).
    /// The renderer relies on it to reproduce `all`'s children order.
    pub implicit_under_all: HashSet<GroupId>,
    /// Hosts that joined `ungrouped` only at reconciliation (they were in `all` alone).
    pub implicit_ungrouped: HashSet<HostId>,
    /// Hosts that reconciliation took out of `ungrouped` (they were in another group too).
    pub left_ungrouped: HashSet<HostId>,
    /// Groups that reconciliation put under `ungrouped` because a host in `all` alone has their
    /// name.
    pub implicit_under_ungrouped: HashSet<GroupId>,
    /// Variables that two sources set differently, in the order they were found.
    pub conflicts: Vec<Conflict>,
    /// Where `all` was first made a child of another group: the line to blame when
    /// reconciliation then finds a loop.
    pub all_made_child_at: Option<Origin>,
}

impl Default for Inventory {
    fn default() -> Self {
        Self::new()
    }
}

impl Inventory {
    /// An empty inventory: `all` and `ungrouped`, with `ungrouped` a child of `all`.
    pub fn new() -> Self {
        let origin = Origin { source: 0, line: 0 };
        let mut inventory = Inventory {
            groups: Vec::new(),
            hosts: Vec::new(),
            group_index: HashMap::new(),
            host_index: HashMap::new(),
            implicit_under_all: HashSet::new(),
            implicit_ungrouped: HashSet::new(),
            left_ungrouped: HashSet::new(),
            implicit_under_ungrouped: HashSet::new(),
            conflicts: Vec::new(),
            all_made_child_at: None,
        };
        inventory.add_group("all", origin);
        inventory.add_group("ungrouped", origin);
        inventory.groups[ALL].children.push(UNGROUPED);
        inventory.groups[UNGROUPED].parents.push(ALL);
        inventory.all_made_child_at = None;
        inventory
    }

    /// The group named `name`.
    pub fn group_id(&self, name: &str) -> Option<GroupId> {
        self.group_index.get(name).copied()
    }

    /// The host named `name`.
    pub fn host_id(&self, name: &str) -> Option<HostId> {
        self.host_index.get(name).copied()
    }

    /// Creates the group if it does not exist yet; returns its id either way.
    pub fn add_group(&mut self, name: &str, origin: Origin) -> GroupId {
        if let Some(id) = self.group_id(name) {
            return id;
        }
        let id = self.groups.len();
        self.groups.push(Group {
            name: name.to_string(),
            vars: Vars::default(),
            priority: 1,
            priority_origin: None,
            children: Vec::new(),
            parents: Vec::new(),
            hosts: Vec::new(),
            host_set: HashSet::new(),
            origin,
        });
        self.group_index.insert(name.to_string(), id);
        id
    }

    /// Ansible's `add_host(name, group, port)`: creates the host on first sight (the port only
    /// counts then: "first port wins"), then adds it to `group`.
    pub fn add_host(
        &mut self,
        name: &str,
        group: GroupId,
        port: Option<u64>,
        origin: Origin,
    ) -> Result<HostId, ModelError> {
        if name.is_empty() {
            return Err(ModelError::EmptyHost);
        }
        let id = match self.host_id(name) {
            Some(id) => id,
            None => {
                let id = self.hosts.len();
                let mut vars = Vars::default();
                // Host(name, port) does `if port:`: a port of 0 is no port.
                if let Some(port) = port.filter(|&p| p != 0) {
                    let src = port.to_string();
                    let value = i64::try_from(port).map_or(Value::BigInt(src.clone()), Value::Int);
                    vars.set("ansible_port", Var { value, src, origin });
                }
                self.hosts.push(Host {
                    name: name.to_string(),
                    vars,
                    groups: Vec::new(),
                    sources: Vec::new(),
                    origin,
                });
                self.host_index.insert(name.to_string(), id);
                id
            }
        };
        let host = &mut self.hosts[id];
        if !host.sources.contains(&origin.source) {
            host.sources.push(origin.source);
        }
        self.add_member(group, id);
        Ok(id)
    }

    fn add_member(&mut self, group: GroupId, host: HostId) {
        if self.groups[group].host_set.insert(host) {
            self.groups[group].hosts.push(host);
            self.hosts[host].groups.push(group);
        }
    }

    /// Sets a host variable the way `InventoryData.set_variable(host_name, …)` does, which looks
    /// the name up among groups first: a host named like a group sets the group's variable.
    /// Returns the variable it replaced, for conflict reports.
    pub fn set_host_variable(
        &mut self,
        host: HostId,
        key: &str,
        var: Var,
    ) -> Result<Option<Var>, ModelError> {
        match self.group_id(&self.hosts[host].name) {
            Some(group) => self.set_group_variable(group, key, var),
            None => {
                let previous = self.hosts[host].vars.set(key, var);
                if previous.is_some() {
                    let won = self.hosts[host].vars.get(key).cloned();
                    let entity = |s: &Self| Entity::Host(s.hosts[host].name.clone());
                    self.note_conflict(entity, key, &previous, won.as_ref());
                }
                Ok(previous)
            }
        }
    }

    /// Records a conflict when `previous` (just replaced by `won`) came from another source and
    /// held another value. `entity` is only built then, to keep the common path allocation-free.
    fn note_conflict(
        &mut self,
        entity: impl FnOnce(&Self) -> Entity,
        key: &str,
        previous: &Option<Var>,
        won: Option<&Var>,
    ) {
        let (Some(lost), Some(won)) = (previous, won) else {
            return;
        };
        if won.origin.source != lost.origin.source && won.value != lost.value {
            let conflict = Conflict {
                entity: entity(self),
                key: key.to_string(),
                lost: lost.clone(),
                won: won.clone(),
            };
            self.conflicts.push(conflict);
        }
    }

    /// Sets a group variable; `ansible_group_priority` goes through Python's `int()` into the
    /// group's priority instead, as `Group.set_variable` does.
    pub fn set_group_variable(
        &mut self,
        group: GroupId,
        key: &str,
        var: Var,
    ) -> Result<Option<Var>, ModelError> {
        if key == "ansible_group_priority" {
            let priority = python_int(&var.value).map_err(ModelError::Priority)?;
            let group = &mut self.groups[group];
            group.priority = priority;
            group.priority_origin = Some(var.origin);
            return Ok(None);
        }
        let previous = self.groups[group].vars.set(key, var);
        if previous.is_some() {
            let won = self.groups[group].vars.get(key).cloned();
            let entity = |s: &Self| Entity::Group(s.groups[group].name.clone());
            self.note_conflict(entity, key, &previous, won.as_ref());
        }
        Ok(previous)
    }

    /// All ancestors of `group` (not itself), each once.
    pub fn ancestors(&self, group: GroupId) -> Vec<GroupId> {
        let mut seen = vec![false; self.groups.len()];
        let mut out = Vec::new();
        let mut stack: Vec<GroupId> = self.groups[group].parents.clone();
        while let Some(g) = stack.pop() {
            if !std::mem::replace(&mut seen[g], true) {
                out.push(g);
                stack.extend(self.groups[g].parents.iter().copied());
            }
        }
        out
    }

    /// `Group.add_child_group`: refuses self-children and loops, ignores repeats.
    pub fn add_child(
        &mut self,
        parent: GroupId,
        child: GroupId,
        origin: Origin,
    ) -> Result<(), ModelError> {
        if parent == child {
            return Err(ModelError::SelfChild);
        }
        if self.groups[parent].children.contains(&child) {
            return Ok(());
        }
        if self.ancestors(parent).contains(&child) {
            return Err(ModelError::Loop {
                child: self.groups[child].name.clone(),
                parent: self.groups[parent].name.clone(),
            });
        }
        self.groups[parent].children.push(child);
        if child == ALL && self.all_made_child_at.is_none() {
            self.all_made_child_at = Some(origin);
        }
        if !self.groups[child].parents.contains(&parent) {
            self.groups[child].parents.push(parent);
        }
        Ok(())
    }

    /// `InventoryData.reconcile_inventory`: parentless groups go under `all` (in creation order),
    /// hosts in a real group leave `ungrouped`, hosts in no group (or only `all`) join it.
    ///
    /// A failure comes with the place to blame, when there is one.
    pub fn reconcile(&mut self) -> Result<(), (ModelError, Option<Origin>)> {
        for group in 1..self.groups.len() {
            if self.groups[group].parents.is_empty() {
                self.add_child(ALL, group, self.groups[group].origin)
                    .map_err(|e| (e, self.all_made_child_at))?;
                self.implicit_under_all.insert(group);
            }
        }
        // Per group, over itself and its ancestors: is `ungrouped` among them, and is a group
        // other than `all` and `ungrouped` among them? A host's groups (Ansible's
        // `host.get_groups()`) are its direct groups and their ancestors.
        let flags: Vec<(bool, bool)> = (0..self.groups.len())
            .map(|g| {
                std::iter::once(g).chain(self.ancestors(g)).fold(
                    (false, false),
                    |(ungrouped, other), a| {
                        (
                            ungrouped || a == UNGROUPED,
                            other || (a != ALL && a != UNGROUPED),
                        )
                    },
                )
            })
            .collect();
        // Each host's decision depends only on its own groups, so they can be taken first and
        // applied after: removals keep the others' order, joins append in host order.
        let mut leave = HashSet::new();
        let mut join = Vec::new();
        for (id, host) in self.hosts.iter().enumerate() {
            if host.groups.iter().any(|&g| flags[g].0) {
                if host.groups.iter().any(|&g| flags[g].1) {
                    leave.insert(id);
                }
            } else if host.groups.iter().all(|&g| g == ALL) {
                join.push(id);
            }
        }
        if !leave.is_empty() {
            let ungrouped = &mut self.groups[UNGROUPED];
            ungrouped.hosts.retain(|h| !leave.contains(h));
            ungrouped.host_set.retain(|h| !leave.contains(h));
            for &host in &leave {
                self.hosts[host].groups.retain(|&g| g != UNGROUPED);
            }
        }
        for host in join {
            // `add_child('ungrouped', host.name)` looks the name up among groups first: a host
            // named like a group puts that group under `ungrouped` instead.
            let origin = self.hosts[host].origin;
            match self.group_id(&self.hosts[host].name) {
                Some(group) if !self.groups[UNGROUPED].children.contains(&group) => {
                    self.add_child(UNGROUPED, group, origin)
                        .map_err(|e| (e, Some(origin)))?;
                    self.implicit_under_ungrouped.insert(group);
                }
                Some(_) => {}
                None => {
                    self.add_member(UNGROUPED, host);
                    self.implicit_ungrouped.insert(host);
                }
            }
        }
        self.left_ungrouped = leave;
        Ok(())
    }

    /// The first way in which `other` means something else than `self`, if any: group and
    /// host names, memberships and their order, children and their order, priorities, and every
    /// variable with the text Ansible evaluates for it (the same text, the same value; `other`
    /// may have been read with `Values::TextOnly`). Sources and lines are not compared.
    pub fn difference(&self, other: &Inventory) -> Option<String> {
        if self.groups.len() != other.groups.len() || self.hosts.len() != other.hosts.len() {
            return Some(format!(
                "{} groups and {} hosts instead of {} and {}",
                other.groups.len(),
                other.hosts.len(),
                self.groups.len(),
                self.hosts.len()
            ));
        }
        let same_vars = |a: &Vars, b: &Vars| {
            a.0.len() == b.0.len()
                && a.iter()
                    .all(|(k, v)| b.get(k).is_some_and(|w| w.src == v.src))
        };
        for group in &self.groups {
            let Some(theirs) = other.group_id(&group.name).map(|g| &other.groups[g]) else {
                return Some(format!("group {} is missing", group.name));
            };
            let host_names = |inv: &Inventory, g: &Group| -> Vec<String> {
                g.hosts.iter().map(|&h| inv.hosts[h].name.clone()).collect()
            };
            let child_names = |inv: &Inventory, g: &Group| -> Vec<String> {
                g.children
                    .iter()
                    .map(|&c| inv.groups[c].name.clone())
                    .collect()
            };
            // `all`'s direct hosts are not compared: Ansible shows no host list for `all`, and
            // the renderer may list hosts there (see `render.rs`).
            if (group.name != "all" && host_names(self, group) != host_names(other, theirs))
                || child_names(self, group) != child_names(other, theirs)
                || group.priority != theirs.priority
                || !same_vars(&group.vars, &theirs.vars)
            {
                return Some(format!("group {} differs", group.name));
            }
        }
        for host in &self.hosts {
            let Some(theirs) = other.host_id(&host.name).map(|h| &other.hosts[h]) else {
                return Some(format!("host {} is missing", host.name));
            };
            if !same_vars(&host.vars, &theirs.vars) {
                return Some(format!("variables of host {} differ", host.name));
            }
        }
        None
    }

    /// Hosts whose name is also a group's. Ansible only warns, and sends variables set on such a
    /// host's lines to the group once the group exists.
    pub fn name_collisions(&self) -> Vec<HostId> {
        (0..self.hosts.len())
            .filter(|&h| self.group_index.contains_key(&self.hosts[h].name))
            .collect()
    }
}

/// Python's `int(value)` as `Group.set_variable` applies it to `ansible_group_priority`.
fn python_int(value: &Value) -> Result<i64, String> {
    match value {
        Value::Int(i) => Ok(*i),
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Float(f) if f.is_finite() => Ok(f.trunc() as i64),
        Value::Float(f) if f.is_nan() => Err("cannot convert float NaN to integer".into()),
        Value::Float(_) => Err("cannot convert float infinity to integer".into()),
        Value::Str(s) => {
            let t = s.trim().replace('_', "");
            t.parse::<i64>()
                .map_err(|_| format!("invalid literal for int() with base 10: {}", py_repr(s)))
        }
        Value::BigInt(_) => Err("ansible_group_priority is too large".into()),
        Value::Null => Err(
            "int() argument must be a string, a bytes-like object or a real number, not 'NoneType'"
                .into(),
        ),
        Value::List(_) => Err(
            "int() argument must be a string, a bytes-like object or a real number, not 'list'"
                .into(),
        ),
        Value::Dict(_) => Err(
            "int() argument must be a string, a bytes-like object or a real number, not 'dict'"
                .into(),
        ),
    }
}

/// Python's `repr()` of a string, close enough for error messages.
pub fn py_repr(s: &str) -> String {
    if s.contains('\'') && !s.contains('"') {
        format!("\"{s}\"")
    } else {
        format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}
