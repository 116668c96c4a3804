//! `vm inventory check`: everything that makes the inventory wrong without making it unparsable,
//! and everything that does: invalid fragments, variables two fragments set differently, two
//! hosts on one address, a merged file that no longer matches its fragments, and orphans.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::fragment::{Marker, read_marker};
use super::merge::{FragmentError, MergeError, Source, build, collect_all};
use super::model::{Entity, Inventory};
use super::pyliteral::Value;

/// What a backend says about the VM behind a managed fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// The VM exists; `address` is its current address when the backend knows it.
    Exists {
        /// Current address (`host` or `host:port`), if known.
        address: Option<String>,
    },
    /// The backend answered and has no such VM: the fragment is an orphan.
    Missing,
    /// Nobody could tell (no backend for this marker, or it was unreachable).
    Unknown(String),
}

/// One finding of `check`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// A fragment Ansible would refuse.
    Invalid {
        /// The fragment.
        path: PathBuf,
        /// The line, if known.
        line: Option<usize>,
        /// Ansible's message.
        message: String,
    },
    /// One variable set to different values by two fragments; the later silently wins.
    Conflict {
        /// `host NAME` or `group NAME`.
        owner: String,
        /// The variable.
        key: String,
        /// `path:line` and value text that lost.
        lost: String,
        /// `path:line` and value text that won.
        won: String,
    },
    /// Several hosts that Ansible would reach at the same address and port.
    SameAddress {
        /// `host:port`.
        address: String,
        /// The hosts.
        hosts: Vec<String>,
    },
    /// `inventory.ini` is missing or differs from what the fragments give.
    Stale {
        /// The merged file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A managed fragment whose VM its backend does not know.
    Orphan {
        /// The fragment.
        path: PathBuf,
        /// Backend named by its marker.
        backend: String,
    },
    /// A VM the tool manages that has no fragment: Ansible does not know it.
    NoFragment {
        /// The VM.
        name: String,
        /// Where it lives.
        connection: String,
    },
    /// A VM's DNS record that is missing or points elsewhere than its fragment says.
    DnsRecord {
        /// The record (`name.zone`).
        record: String,
        /// The fragment.
        path: PathBuf,
        /// The address the fragment records.
        expected: String,
        /// What the server answered (empty: no record), or why it could not be asked.
        found: String,
    },
    /// A managed fragment whose address differs from the VM's current one.
    StaleAddress {
        /// The fragment.
        path: PathBuf,
        /// Address in the fragment.
        recorded: String,
        /// Address the backend reports.
        current: String,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Invalid {
                path,
                line: Some(line),
                message,
            } => write!(f, "invalid: {}:{line}: {message}", path.display()),
            Problem::Invalid { path, message, .. } => {
                write!(f, "invalid: {}: {message}", path.display())
            }
            Problem::Conflict {
                owner,
                key,
                lost,
                won,
            } => write!(
                f,
                "conflict: {owner} variable {key} is {won}, overriding {lost}; keep one of them"
            ),
            Problem::SameAddress { address, hosts } => write!(
                f,
                "same address: {} all connect to {address}; give each host its own address or port",
                hosts.join(", ")
            ),
            Problem::Stale { path, reason } => write!(
                f,
                "stale: {} {reason}; run `vm inventory merge`",
                path.display()
            ),
            Problem::Orphan { path, backend } => write!(
                f,
                "orphan: {} names a VM that {backend} does not have; `vm inventory prune` removes it",
                path.display()
            ),
            Problem::NoFragment { name, connection } => write!(
                f,
                "no fragment: VM {name} at {connection} is managed by vm but not in the \
                 inventory; `vm destroy {name}` removes it, or `vm inventory add` it"
            ),
            Problem::DnsRecord {
                record,
                path,
                expected,
                found,
            } if found.is_empty() => write!(
                f,
                "dns: {record} has no address record, but {} says {expected}; provision the VM \
                 again, or add the record",
                path.display()
            ),
            Problem::DnsRecord {
                record,
                path,
                expected,
                found,
            } => write!(
                f,
                "dns: {record} answers {found}, but {} says {expected}; fix the record (or the \
                 fragment)",
                path.display()
            ),
            Problem::StaleAddress {
                path,
                recorded,
                current,
            } => write!(
                f,
                "stale address: {} says {recorded} but the VM is at {current}; re-provision it or \
                 `vm inventory add` it again with the new address",
                path.display()
            ),
        }
    }
}

/// A managed fragment and what its backend says about it.
#[derive(Debug, Clone, Serialize)]
pub struct ManagedFragment {
    /// The fragment.
    pub path: PathBuf,
    /// Its host name (the file name without `.ini`).
    pub name: String,
    /// Its backend.
    pub backend: String,
    /// Its connection.
    pub connection: String,
    /// `exists`, `missing` or `not checked: <why>`.
    pub status: String,
}

/// Everything `check` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Problems; `check` exits 4 when there is any.
    pub problems: Vec<Problem>,
    /// Managed fragments and their status.
    pub managed: Vec<ManagedFragment>,
    /// Things worth knowing that are not problems.
    pub notes: Vec<String>,
}

/// Runs every check. `probe` asks the backends about a managed fragment's VM.
pub fn check(
    fragment_dir: &Path,
    merged_path: &Path,
    probe: &dyn Fn(&Marker, &str) -> Presence,
) -> Result<Report, MergeError> {
    let (sources, others) = collect_all(fragment_dir)?;
    let mut report = Report::default();
    report.notes.extend(others.iter().map(|path| {
        format!(
            "{} is not a fragment (only *.ini files are) and is not in inventory.ini; \
             Ansible given the folder itself would try to read it",
            path.display()
        )
    }));
    match build(fragment_dir, merged_path) {
        Ok(merged) => {
            let inventory = &merged.inventory;
            report
                .notes
                .extend(inventory.name_collisions().into_iter().map(|h| {
                    format!(
                        "host {0} has the same name as group {0}; variables on its lines after the \
                     group exists belong to the group (Ansible warns about this too)",
                        inventory.hosts[h].name
                    )
                }));
            report.problems.extend(conflicts(inventory, &sources));
            report.problems.extend(same_address(&merged.inventory));
            if let Some(reason) = staleness(merged_path, &merged.text) {
                report.problems.push(Problem::Stale {
                    path: merged_path.to_path_buf(),
                    reason,
                });
            }
        }
        Err(MergeError::Invalid { errors, .. }) => {
            report.problems.extend(errors.into_iter().map(invalid));
        }
        Err(other) => return Err(other),
    }
    for source in &sources {
        let Ok(Some(marker)) = read_marker(&source.path) else {
            continue;
        };
        let name = fragment_host(source);
        let presence = probe(&marker, &name);
        let status = match &presence {
            Presence::Exists { .. } => "exists".to_string(),
            Presence::Missing => "missing".to_string(),
            Presence::Unknown(why) => format!("not checked: {why}"),
        };
        match presence {
            Presence::Missing => report.problems.push(Problem::Orphan {
                path: source.path.clone(),
                backend: marker.backend.clone(),
            }),
            Presence::Exists {
                address: Some(current),
            } => {
                let recorded = recorded_address(&source.path).unwrap_or_default();
                if recorded != current {
                    report.problems.push(Problem::StaleAddress {
                        path: source.path.clone(),
                        recorded,
                        current,
                    });
                }
            }
            _ => {}
        }
        report.managed.push(ManagedFragment {
            path: source.path.clone(),
            name,
            backend: marker.backend,
            connection: marker.connection,
            status,
        });
    }
    Ok(report)
}

fn invalid(e: FragmentError) -> Problem {
    Problem::Invalid {
        path: e.path,
        line: e.line,
        message: e.message,
    }
}

/// The host a managed fragment is about: its file name without `.ini`.
pub fn fragment_host(source: &Source) -> String {
    source
        .path
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
}

fn conflicts(inventory: &Inventory, sources: &[Source]) -> Vec<Problem> {
    let at = |origin: super::model::Origin, src: &str| {
        format!(
            "{src} ({}:{})",
            sources[origin.source].path.display(),
            origin.line
        )
    };
    inventory
        .conflicts
        .iter()
        .map(|c| Problem::Conflict {
            owner: match &c.entity {
                Entity::Host(name) => format!("host {name}"),
                Entity::Group(name) => format!("group {name}"),
            },
            key: c.key.clone(),
            lost: at(c.lost.origin, &c.lost.src),
            won: at(c.won.origin, &c.won.src),
        })
        .collect()
}

/// Hosts whose own `ansible_host` and port (22 when unset) coincide.
fn same_address(inventory: &Inventory) -> Vec<Problem> {
    let mut by_address: HashMap<String, Vec<String>> = HashMap::new();
    let mut order = Vec::new();
    for host in &inventory.hosts {
        let Some(Value::Str(address)) = host.vars.get("ansible_host").map(|v| &v.value) else {
            continue;
        };
        let port = match host.vars.get("ansible_port").map(|v| &v.value) {
            Some(Value::Int(p)) => p.to_string(),
            Some(Value::Str(p)) => p.clone(),
            _ => "22".to_string(),
        };
        let key = format!("{address}:{port}");
        let hosts = by_address.entry(key.clone()).or_default();
        if hosts.is_empty() {
            order.push(key);
        }
        hosts.push(host.name.clone());
    }
    order
        .into_iter()
        .filter_map(|address| {
            let hosts = by_address.remove(&address)?;
            (hosts.len() > 1).then_some(Problem::SameAddress { address, hosts })
        })
        .collect()
}

fn staleness(merged_path: &Path, expected: &str) -> Option<String> {
    match fs::read(merged_path) {
        Ok(bytes) if bytes == expected.as_bytes() => None,
        Ok(_) => Some("differs from what its fragments give".to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some("is missing".to_string()),
        Err(e) => Some(format!("cannot be read ({e})")),
    }
}

/// `ansible_host[:port]` as a managed fragment records it, read back through the parser.
pub fn recorded_address(path: &Path) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    let mut inventory = Inventory::new();
    super::ini::parse_source(&mut inventory, 0, &text).ok()?;
    let host = inventory.hosts.first()?;
    let address = match &host.vars.get("ansible_host")?.value {
        Value::Str(s) => s.clone(),
        _ => return None,
    };
    Some(match host.vars.get("ansible_port").map(|v| &v.value) {
        Some(Value::Int(p)) if *p != 22 => format!("{address}:{p}"),
        _ => address,
    })
}
