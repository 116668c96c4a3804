//! Randomised differential test: a few hundred generated fragment sets per run, each judged by
//! real ansible-core (through the batched oracle) and then by `vm`.
//!
//! - Sets Ansible accepts: `vm inventory merge` exits 0, the PARITY INVARIANT holds (Ansible's
//!   view of the merged `inventory.ini` equals its view of the directory), and
//!   `vm inventory list --ansible-json` prints Ansible's JSON.
//! - Sets Ansible refuses: `vm inventory merge` exits 3, names the fragment Ansible failed on and
//!   leaves the previous `inventory.ini` byte-identical.
//!
//! Deterministic: the default seed is fixed. `VM_RANDOM_SEED` picks another, `VM_RANDOM_CASES`
//! the number of cases (default 300), `VM_RANDOM_ONLY` runs one case number of a seed. A failure
//! prints the seed and case number to rerun, and the fragments.

mod common;

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

use common::rng::{Rng, seed_from_env};
use common::{Answer, Failures, Project, ask_ansible, json_diff, parse_json};

const DEFAULT_SEED: u64 = 0x5eed_2019_0014;
const DEFAULT_CASES: usize = 300;
const PREVIOUS_INVENTORY: &[u8] = b"# the inventory before this merge\n[old]\nold-host\n";
const MERGE: &[&str] = &["inventory", "merge", "--validate", "internal"];

const FRAGMENT_NAMES: &[&str] = &[
    "a.ini",
    "b.ini",
    "B.ini",
    "web.ini",
    "db-1.ini",
    "10-x.ini",
    "9-y.ini",
    "00-base.ini",
    "zz.ini",
    "sub/c.ini",
    "sub/A.ini",
    "sub/deeper/d.ini",
    "m-x.ini",
    "m.ini",
    "m/inner.ini",
    "ü.ini",
];

const GROUPS: &[&str] = &[
    "web",
    "db",
    "app",
    "site",
    "Web",
    "all",
    "ungrouped",
    "g-1",
    "wéb",
    "edge_2",
];

const HOSTS: &[&str] = &[
    "web-1",
    "web-2",
    "db",
    "db.example.com",
    "10.0.0.1",
    "192.0.2.7",
    "::1",
    "fe80::1",
    "Host_A",
    "h",
    "web-[1:3]",
    "n[01:02]",
    "x[a:c]",
    "r[0:4:2]",
    "h\\ 1",
    "\"q h\"",
    "hôte",
    "user@host",
    "a/b",
    "web-1",
];

const PORTS: &[&str] = &[":22", ":2222", ":022", ":65535"];

const KEYS: &[&str] = &[
    "ansible_host",
    "ansible_port",
    "ansible_user",
    "x",
    "y",
    "role",
    "http_port",
    "k-1",
    "é",
];

/// Values as written on a host line (shlex applies, then literal_eval).
const HOST_VALUES: &[&str] = &[
    "1",
    "-5",
    "0",
    "007",
    "1e3",
    "1.5",
    "0x1F",
    "0o17",
    "1_000",
    "True",
    "False",
    "None",
    "true",
    "yes",
    "no",
    "nan",
    "inf",
    "1e999",
    "10-5",
    "56L",
    "\"10,20\"",
    "'1'",
    "\"'1'\"",
    "\"{'a': 1}\"",
    "\"[1, 'x']\"",
    "\"(1,)\"",
    "\"{2,1}\"",
    "\"a b\"",
    "'a b'",
    "\"a#b\"",
    "a\\ b",
    "\"say \\\"hi\\\"\"",
    "'C:\\dir'",
    "x=y",
    "=x",
    "\"\"",
    "''",
    "é",
    "\"ça va ✓\"",
    "\"{{ inventory_hostname }}\"",
    "\"$HOME; rm -rf /\"",
    "'it'\"'\"'s'",
    "\"tab\there\"",
    "1+2j",
    "...",
    "b'x'",
    "\"b'x'\"",
    "\"u'x'\"",
    "\"{'a': [1, {'b': None}]}\"",
    "\"-0.0\"",
    "123456789012345678901234567890",
    "10.0.0.9",
    "\"{1: 'a', 'b': 2}\"",
    "[1,2]",
    "a#b",
];

/// Values as written after `key=` in a `:vars` section (no shlex; stripped; literal_eval).
const VARS_VALUES: &[&str] = &[
    "1",
    "'1'",
    "\"10,20\"",
    "10,20",
    "{'a':1}",
    "foo # c",
    "8080 # c",
    "a=b",
    "",
    "  spaced  ",
    "'a' 'b'",
    "[1, 2",
    "None",
    "True",
    "yes",
    "é",
    "\"it's\"",
    "#x",
    ";x",
    "-3",
    "1.50",
    "(1,)",
    "2j",
    "007",
    "1e3",
    "0x10",
    "\"{{ x }}\"",
    "$HOME",
    "a b c",
    "\\n",
    "ça va ✓",
    "[1, [2, {'k': None}]]",
];

const BAD_LINES: &[&str] = &[
    "[bad group]",
    "h1:",
    "h1 novalue",
    "[g:nope]",
    "h[1:]",
    "h[01:3]",
    "h a=\"x",
    "---",
    "h[c:a]",
    "h[1]",
    "h x=\"{[1]:2}\"",
];

/// One generated fragment set: (relative path, bytes) in no particular order.
struct FragmentSet {
    files: Vec<(String, Vec<u8>)>,
}

/// Ansible reads a directory in sorted order per level, recursing in place: the same as
/// comparing the paths' components as byte strings.
fn ansible_order(path: &str) -> Vec<Vec<u8>> {
    path.split('/').map(|c| c.as_bytes().to_vec()).collect()
}

fn generate(rng: &mut Rng) -> FragmentSet {
    let count = rng.range(1, 6);
    let mut names: Vec<&str> = Vec::new();
    while names.len() < count {
        let name = rng.pick(FRAGMENT_NAMES);
        // `m.ini` and the folder `m/` cannot both be avoided by Ansible; both are fine.
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names.sort_by_key(|n| ansible_order(n));
    let broken_fragment = if rng.chance(10) {
        Some(rng.below(count))
    } else {
        None
    };
    let mut defined: Vec<&str> = vec!["all", "ungrouped"];
    let mut files = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let text = fragment(rng, &mut defined, broken_fragment == Some(index));
        let newline = if rng.chance(10) { "\r\n" } else { "\n" };
        let mut body = text.join(newline);
        if !rng.chance(10) {
            body.push_str(newline);
        }
        files.push((name.to_string(), body.into_bytes()));
    }
    FragmentSet { files }
}

/// The lines of one fragment. `defined` tracks groups defined so far (in Ansible's reading
/// order), so that most `:vars` and `:children` sections refer to real groups.
fn fragment<'a>(rng: &mut Rng, defined: &mut Vec<&'a str>, broken: bool) -> Vec<String> {
    let mut lines = Vec::new();
    if rng.chance(40) {
        for _ in 0..rng.range(1, 3) {
            lines.push(host_line(rng));
        }
    }
    for _ in 0..rng.range(1, 4) {
        let kind = rng.below(10);
        let group: &'a str = if kind >= 6 && !rng.chance(4) {
            rng.pick(defined)
        } else {
            rng.pick(GROUPS)
        };
        let comment = if rng.chance(10) {
            " # section comment"
        } else {
            ""
        };
        match kind {
            0..=5 => {
                let suffix = if rng.chance(10) { ":hosts" } else { "" };
                lines.push(format!("[{group}{suffix}]{comment}"));
                if !defined.contains(&group) {
                    defined.push(group);
                }
                for _ in 0..rng.range(0, 4) {
                    lines.push(host_line(rng));
                }
            }
            6..=7 => {
                lines.push(format!("[{group}:vars]{comment}"));
                for _ in 0..rng.range(1, 3) {
                    lines.push(vars_line(rng));
                }
            }
            _ => {
                lines.push(format!("[{group}:children]{comment}"));
                if !defined.contains(&group) {
                    defined.push(group);
                }
                for _ in 0..rng.range(1, 2) {
                    let child = if !rng.chance(4) {
                        rng.pick(defined)
                    } else {
                        rng.pick(GROUPS)
                    };
                    // A group as its own child, or `all` as a child, is refused; keep it rare.
                    if (child != "all" && child != group) || rng.chance(2) {
                        lines.push(child.to_string());
                    }
                }
            }
        }
        if rng.chance(15) {
            lines.push(if rng.chance(50) {
                "# a comment".into()
            } else {
                String::new()
            });
        }
    }
    if broken {
        let at = rng.below(lines.len() + 1);
        lines.insert(at, rng.pick(BAD_LINES).to_string());
    }
    lines
}

fn host_line(rng: &mut Rng) -> String {
    let mut line = rng.pick(HOSTS).to_string();
    if rng.chance(25) && !line.starts_with('"') && !line.contains('\\') {
        if line.contains("::") && !line.starts_with('[') {
            line = format!("[{line}]");
        }
        line.push_str(rng.pick(PORTS));
    }
    for _ in 0..rng.range(0, 3) {
        let key = rng.pick(KEYS);
        let value = if key == "ansible_port" && rng.chance(70) {
            rng.pick(&["22", "2200", "'2201'", "65535"])
        } else {
            rng.pick(HOST_VALUES)
        };
        write!(line, " {key}={value}").expect("write to String");
    }
    if rng.chance(10) {
        line.push_str(" # trailing comment");
    }
    line
}

fn vars_line(rng: &mut Rng) -> String {
    if rng.chance(8) {
        let priority = rng.pick(&["1", "5", "10", "'3'", "-1"]);
        return format!("ansible_group_priority={priority}");
    }
    let key = rng.pick(KEYS);
    let value = rng.pick(VARS_VALUES);
    if rng.chance(20) {
        format!("{key} = {value}")
    } else {
        format!("{key}={value}")
    }
}

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
    })
}

/// Whether `text` holds `inventory.d/<path>:<line>`.
fn names_a_fragment_line(text: &str) -> bool {
    text.match_indices("inventory.d/").any(|(at, _)| {
        let token = text[at..]
            .split(char::is_whitespace)
            .next()
            .unwrap_or_default();
        token
            .split(':')
            .skip(1)
            .any(|part| part.starts_with(|c: char| c.is_ascii_digit()))
    })
}

struct Generated {
    number: usize,
    set: FragmentSet,
    project: Project,
}

fn describe(seed: u64, generated: &Generated) -> String {
    let mut out = format!(
        "rerun: VM_RANDOM_SEED={seed:#x} VM_RANDOM_ONLY={} cargo test --test ansible_random\n",
        generated.number
    );
    let mut files: Vec<&(String, Vec<u8>)> = generated.set.files.iter().collect();
    files.sort_by_key(|(name, _)| ansible_order(name));
    for (name, bytes) in files {
        writeln!(out, "--- inventory.d/{name} ---").expect("write to String");
        for line in String::from_utf8_lossy(bytes).split_inclusive('\n') {
            writeln!(out, "  {}", line.escape_debug()).expect("write to String");
        }
    }
    out
}

#[test]
fn random_fragment_sets_agree_with_ansible() {
    let seed = seed_from_env("VM_RANDOM_SEED", || DEFAULT_SEED);
    let cases = env_usize("VM_RANDOM_CASES").unwrap_or(DEFAULT_CASES);
    let only = env_usize("VM_RANDOM_ONLY");
    eprintln!(
        "ansible_random: seed {seed:#x}, {cases} cases (VM_RANDOM_SEED / VM_RANDOM_CASES to change)"
    );

    let generated: Vec<Generated> = (0..cases)
        .filter(|number| only.is_none_or(|o| o == *number))
        .map(|number| {
            let mut rng = Rng::new(seed ^ (number as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let set = generate(&mut rng);
            let mut project = Project::new();
            for (name, bytes) in &set.files {
                project = project.fragment_bytes(name, bytes);
            }
            fs::write(project.inventory_ini(), PREVIOUS_INVENTORY)
                .expect("write previous inventory");
            Generated {
                number,
                set,
                project,
            }
        })
        .collect();
    assert!(
        !generated.is_empty(),
        "no case selected (VM_RANDOM_ONLY beyond VM_RANDOM_CASES?)"
    );

    let directories: Vec<PathBuf> = generated.iter().map(|g| g.project.inventory_d()).collect();
    let verdicts = ask_ansible(&directories);

    let mut failures = Failures::new();
    let mut merged = Vec::new();
    let (mut accepted, mut refused) = (0, 0);
    for (generated, verdict) in generated.iter().zip(&verdicts) {
        failures.checked();
        let name = format!("case {}", generated.number);
        let run = generated.project.run(MERGE);
        match verdict {
            Answer::Ok(from_directory) => {
                accepted += 1;
                if run.code != Some(0) {
                    failures.add(
                        name,
                        format!(
                            "Ansible accepts these fragments, vm does not\n{}{}",
                            run.describe(),
                            describe(seed, generated)
                        ),
                    );
                    continue;
                }
                let list = generated
                    .project
                    .run(&["inventory", "list", "--ansible-json"]);
                match parse_json(&list.stdout) {
                    Ok(json) if list.code == Some(0) => {
                        if let Some(diff) =
                            json_diff("ansible-inventory", from_directory, "vm list", &json)
                        {
                            failures
                                .add(name.clone(), format!("{diff}{}", describe(seed, generated)));
                        }
                    }
                    _ => failures.add(
                        name.clone(),
                        format!("{}{}", list.describe(), describe(seed, generated)),
                    ),
                }
                merged.push((name, generated, from_directory));
            }
            Answer::Error(_) => {
                refused += 1;
                let mut problems = Vec::new();
                if run.code != Some(3) {
                    problems.push(format!("exit {:?}, want 3", run.code));
                }
                // Ansible names the fragment it failed on, except for errors it finds after
                // parsing (a loop through `all`): then any `inventory.d/…:LINE` will do.
                let relative = verdict.failed_source().map(|source| {
                    let root = generated.project.inventory_d();
                    let root = root.to_str().expect("UTF-8 temp path").to_string();
                    source
                        .strip_prefix(&root)
                        .unwrap_or(&source)
                        .trim_start_matches('/')
                        .to_string()
                });
                match relative {
                    Some(relative) if !run.stderr.contains(&format!("inventory.d/{relative}:")) => {
                        problems.push(format!("stderr does not name inventory.d/{relative}:LINE"));
                    }
                    None if !names_a_fragment_line(&run.stderr) => {
                        problems.push("stderr names no inventory.d/FRAGMENT:LINE".into());
                    }
                    _ => {}
                }
                if fs::read(generated.project.inventory_ini()).unwrap_or_default()
                    != PREVIOUS_INVENTORY
                {
                    problems.push("inventory.ini changed".into());
                }
                if !problems.is_empty() {
                    failures.add(
                        name,
                        format!(
                            "{}\nansible: {}\n{}{}",
                            problems.join("\n"),
                            verdict.cause().unwrap_or_default(),
                            run.describe(),
                            describe(seed, generated)
                        ),
                    );
                }
            }
        }
    }

    let merged_files: Vec<PathBuf> = merged
        .iter()
        .map(|(_, g, _)| g.project.inventory_ini())
        .collect();
    let answers = ask_ansible(&merged_files);
    for ((name, generated, from_directory), from_merged) in merged.into_iter().zip(answers) {
        let bytes = fs::read(generated.project.inventory_ini()).unwrap_or_default();
        let merged_text = format!(
            "--- merged inventory.ini ---\n{}",
            String::from_utf8_lossy(&bytes)
        );
        match from_merged {
            Answer::Error(error) => failures.add(
                name,
                format!(
                    "Ansible cannot parse the merged inventory.ini:\n{error}\n{merged_text}\n{}",
                    describe(seed, generated)
                ),
            ),
            Answer::Ok(json) => {
                if let Some(diff) = json_diff("inventory.d", from_directory, "inventory.ini", &json)
                {
                    failures.add(
                        name,
                        format!(
                            "parity broken: {diff}{merged_text}\n{}",
                            describe(seed, generated)
                        ),
                    );
                }
            }
        }
    }
    eprintln!(
        "ansible_random: Ansible accepted {accepted} and refused {refused} of the generated sets"
    );
    failures.finish(&format!("random fragment sets (seed {seed:#x})"));
}
