//! Differential tests against real ansible-core over the hand-written corpus in `tests/corpus/`.
//!
//! Each case is `tests/corpus/<case>/inventory.d/` (a fragment set), an `about` line, and for a
//! set Ansible must refuse, `refused-at` naming the bad fragment and line (`sub/x.ini:3`; Ansible
//! itself does not print the line; a refusal of a whole file, such as an ansible-vault encrypted
//! one, names only the file). Ansible is asked once about every case's directory; then:
//! - refused sets: `vm inventory merge` exits 3, names `path:line`, carries Ansible's message (or
//!   the case's `vm-says`, where Ansible's depends on its configuration) and leaves the previous
//!   `inventory.ini` byte-identical;
//! - accepted sets: the PARITY INVARIANT, Ansible's view of the merged `inventory.ini` equals its
//!   view of the directory, and `vm inventory list --ansible-json` prints that same JSON.
//!
//! Every test walks the whole corpus and reports all failing cases at once, with diffs.

mod common;

use std::fs;
use std::path::PathBuf;
use std::sync::OnceLock;

use common::{
    Answer, Failures, Project, ask_ansible, ask_ansible_subprocess, corpus_dir, parse_json,
};

/// What `inventory.ini` holds before a refused merge; it must still hold exactly this after.
const PREVIOUS_INVENTORY: &[u8] =
    b"# the inventory before this merge\n[old]\nold-host ansible_host=192.0.2.1\n";

struct Case {
    name: String,
    inventory_d: PathBuf,
    /// `relative/path.ini:LINE` when Ansible must refuse the set.
    refused_at: Option<String>,
    /// `relative/path.ini:LINE` when Ansible accepts the set but `vm` deliberately refuses it
    /// (README: "Where vm is stricter than Ansible").
    vm_refuses_at: Option<String>,
    /// What `vm` says instead of Ansible's message, where Ansible's depends on its configuration
    /// (an ansible-vault encrypted fragment: without a vault password Ansible cannot decrypt it;
    /// with one it would, and `vm` refuses it either way).
    vm_says: Option<String>,
}

/// Every corpus case with Ansible's answer about its `inventory.d`, asked once per test binary.
fn corpus() -> &'static [(Case, Answer)] {
    static CORPUS: OnceLock<Vec<(Case, Answer)>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut cases: Vec<Case> = fs::read_dir(corpus_dir())
            .expect("read tests/corpus")
            .map(|entry| entry.expect("corpus entry").path())
            .filter(|path| path.is_dir())
            .map(|dir| Case {
                name: dir
                    .file_name()
                    .expect("case name")
                    .to_string_lossy()
                    .into_owned(),
                inventory_d: dir.join("inventory.d"),
                refused_at: fs::read_to_string(dir.join("refused-at"))
                    .ok()
                    .map(|s| s.trim().to_string()),
                vm_refuses_at: fs::read_to_string(dir.join("vm-refuses-at"))
                    .ok()
                    .map(|s| s.trim().to_string()),
                vm_says: fs::read_to_string(dir.join("vm-says"))
                    .ok()
                    .map(|s| s.trim().to_string()),
            })
            .collect();
        cases.sort_by(|a, b| a.name.cmp(&b.name));
        assert!(
            cases.len() >= 50,
            "the corpus lost cases: {} left",
            cases.len()
        );
        let paths: Vec<PathBuf> = cases.iter().map(|c| c.inventory_d.clone()).collect();
        let answers = ask_ansible(&paths);
        cases.into_iter().zip(answers).collect()
    })
}

/// Sets Ansible accepts and `vm` must accept too.
fn accepted() -> impl Iterator<Item = (&'static Case, &'static serde_json::Value)> {
    corpus()
        .iter()
        .filter_map(|(case, answer)| match (answer, &case.vm_refuses_at) {
            (Answer::Ok(json), None) => Some((case, json)),
            _ => None,
        })
}

fn refused() -> impl Iterator<Item = (&'static Case, &'static Answer, &'static str)> {
    corpus()
        .iter()
        .filter_map(|(case, answer)| match (answer, &case.refused_at) {
            (Answer::Error(_), Some(at)) => Some((case, answer, at.as_str())),
            _ => None,
        })
}

/// A project with the case's `inventory.d` and [`PREVIOUS_INVENTORY`] as `inventory.ini`.
fn project_with_previous_inventory(case: &Case) -> Project {
    let project = Project::with_inventory_d(&case.inventory_d);
    fs::write(project.inventory_ini(), PREVIOUS_INVENTORY).expect("write previous inventory");
    project
}

/// Merge with `vm`'s own validation: the point is to prove `vm`'s parser, not to ask Ansible.
const MERGE: &[&str] = &["inventory", "merge", "--validate", "internal"];

fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().take(80).collect();
    format!("--- inventory.ini ---\n{}\n", lines.join("\n"))
}

#[test]
fn corpus_expectations_match_what_ansible_says() {
    let mut failures = Failures::new();
    for (case, answer) in corpus() {
        failures.checked();
        match (answer, &case.refused_at) {
            (Answer::Ok(_), None) => {}
            (Answer::Ok(json), Some(at)) => failures.add(
                &case.name,
                format!(
                    "the corpus says Ansible refuses it at {at}, but Ansible accepts it:\n{json:#}"
                ),
            ),
            (Answer::Error(error), None) => failures.add(
                &case.name,
                format!("the corpus says Ansible accepts it, but Ansible refuses it:\n{error}"),
            ),
            (Answer::Error(error), Some(at)) => {
                let file = at.rsplit_once(':').map_or(at.as_str(), |(file, _)| file);
                // Errors found after parsing (when groups are reconciled) name no source.
                let named = answer.failed_source();
                if named
                    .as_ref()
                    .is_some_and(|named| !named.ends_with(&format!("/inventory.d/{file}")))
                {
                    failures.add(
                        &case.name,
                        format!("refused-at names {file}, Ansible failed on {named:?}:\n{error}"),
                    );
                }
            }
        }
    }
    failures.finish("corpus expectations");
}

#[test]
fn in_process_oracle_answers_like_the_real_ansible_inventory_command() {
    let chosen = [
        "single-fragment",
        "order-numeric-and-case",
        "value-typing-host-line",
        "value-typing-vars",
        "ignored-names",
        "non-utf8-host-line",
        "err-unclosed-quote",
        "err-vars-before-group-across-files",
        "err-range-letter-and-number",
    ];
    let cases: Vec<&(Case, Answer)> = corpus()
        .iter()
        .filter(|(case, _)| chosen.contains(&case.name.as_str()))
        .collect();
    assert_eq!(
        cases.len(),
        chosen.len(),
        "a chosen case is missing from the corpus"
    );
    let paths: Vec<PathBuf> = cases
        .iter()
        .map(|(case, _)| case.inventory_d.clone())
        .collect();
    let real = ask_ansible_subprocess(&paths);
    let mut failures = Failures::new();
    for ((case, in_process), real) in cases.iter().zip(&real) {
        failures.checked();
        if in_process != real {
            failures.add(
                &case.name,
                format!("in-process oracle:\n{in_process:?}\nreal ansible-inventory:\n{real:?}"),
            );
        }
    }
    failures.finish("oracle vs ansible-inventory subprocess");
}

#[test]
fn merge_refuses_every_fragment_set_ansible_refuses_and_keeps_the_old_inventory() {
    let mut failures = Failures::new();
    for (case, answer, at) in refused() {
        failures.checked();
        let project = project_with_previous_inventory(case);
        let run = project.run(MERGE);
        let mut problems = Vec::new();
        if run.code != Some(3) {
            problems.push(format!("exit {:?}, want 3", run.code));
        }
        let location = format!("inventory.d/{at}");
        if !run.stderr.contains(&location) {
            problems.push(format!("stderr does not name {location}"));
        }
        let after = fs::read(project.inventory_ini()).unwrap_or_default();
        if after != PREVIOUS_INVENTORY {
            problems.push(format!("inventory.ini changed\n{}", shown(&after)));
        }
        let leftovers = project.temp_files();
        if !leftovers.is_empty() {
            problems.push(format!("temporary files left behind: {leftovers:?}"));
        }
        if !problems.is_empty() {
            failures.add(
                &case.name,
                format!(
                    "{}\nansible: {}\n{}",
                    problems.join("\n"),
                    answer.cause().unwrap_or_default(),
                    run.describe()
                ),
            );
        }
    }
    failures.finish("merge refuses what Ansible refuses");
}

#[test]
fn merge_refuses_what_vm_is_deliberately_stricter_about_and_keeps_the_old_inventory() {
    let mut failures = Failures::new();
    for (case, answer) in corpus() {
        let Some(at) = &case.vm_refuses_at else {
            continue;
        };
        failures.checked();
        if !matches!(answer, Answer::Ok(_)) {
            failures.add(
                &case.name,
                "vm-refuses-at is only for sets Ansible accepts; use refused-at".to_string(),
            );
            continue;
        }
        let project = project_with_previous_inventory(case);
        let run = project.run(MERGE);
        let location = format!("inventory.d/{at}");
        let after = fs::read(project.inventory_ini()).unwrap_or_default();
        if run.code != Some(3) || !run.stderr.contains(&location) || after != PREVIOUS_INVENTORY {
            failures.add(
                &case.name,
                format!(
                    "want exit 3 naming {location} and the old inventory kept\n{}",
                    run.describe()
                ),
            );
        }
    }
    failures.finish("deliberate refusals");
}

#[test]
fn refusals_carry_ansibles_own_message() {
    let mut failures = Failures::new();
    for (case, answer, _) in refused() {
        failures.checked();
        let Some(cause) = answer.cause() else {
            failures.add(
                &case.name,
                format!("no cause found in Ansible's error: {answer:?}"),
            );
            continue;
        };
        let (whose, message) = match &case.vm_says {
            Some(says) => ("vm-says", says.clone()),
            None => ("Ansible's message", cause),
        };
        let run = Project::with_inventory_d(&case.inventory_d).run(MERGE);
        if !run.stderr.contains(&message) {
            failures.add(
                &case.name,
                format!("stderr lacks {whose} {message:?}\n{}", run.describe()),
            );
        }
    }
    failures.finish("refusal messages");
}

#[test]
fn merged_inventory_means_exactly_what_the_fragments_mean() {
    let mut failures = Failures::new();
    let mut merged = Vec::new();
    for (case, from_directory) in accepted() {
        failures.checked();
        let project = project_with_previous_inventory(case);
        let run = project.run(MERGE);
        if run.code == Some(0) {
            merged.push((case, from_directory, project));
        } else {
            failures.add(
                &case.name,
                format!(
                    "Ansible accepts these fragments, vm does not\n{}",
                    run.describe()
                ),
            );
        }
    }
    let paths: Vec<PathBuf> = merged
        .iter()
        .map(|(_, _, project)| project.inventory_ini())
        .collect();
    let answers = ask_ansible(&paths);
    for ((case, from_directory, project), from_merged) in merged.iter().zip(answers) {
        let bytes = fs::read(project.inventory_ini()).unwrap_or_default();
        match from_merged {
            Answer::Error(error) => failures.add(
                &case.name,
                format!(
                    "Ansible cannot parse the merged inventory.ini:\n{error}\n{}",
                    shown(&bytes)
                ),
            ),
            Answer::Ok(json) => {
                if let Some(diff) =
                    common::json_diff("inventory.d", from_directory, "inventory.ini", &json)
                {
                    failures.add(&case.name, format!("{diff}{}", shown(&bytes)));
                }
            }
        }
    }
    failures
        .finish("parity invariant (ansible-inventory of inventory.d == of merged inventory.ini)");
}

#[test]
fn merge_writes_the_same_bytes_every_time() {
    let mut failures = Failures::new();
    for (case, _) in accepted() {
        failures.checked();
        let project = Project::with_inventory_d(&case.inventory_d);
        let first = project.run(MERGE);
        let first_bytes = fs::read(project.inventory_ini()).unwrap_or_default();
        let second = project.run(MERGE);
        let second_bytes = fs::read(project.inventory_ini()).unwrap_or_default();
        if first.code != Some(0) || second.code != Some(0) {
            failures.add(
                &case.name,
                format!("{}\n{}", first.describe(), second.describe()),
            );
        } else if first_bytes != second_bytes {
            failures.add(
                &case.name,
                format!(
                    "second merge wrote other bytes\n{}{}",
                    shown(&first_bytes),
                    shown(&second_bytes)
                ),
            );
        }
    }
    failures.finish("deterministic merge");
}

#[test]
fn list_ansible_json_prints_what_ansible_inventory_prints() {
    let mut failures = Failures::new();
    for (case, from_directory) in accepted() {
        failures.checked();
        let run = Project::with_inventory_d(&case.inventory_d).run(&[
            "inventory",
            "list",
            "--ansible-json",
        ]);
        if run.code != Some(0) {
            failures.add(&case.name, run.describe());
            continue;
        }
        match parse_json(&run.stdout) {
            Err(e) => failures.add(
                &case.name,
                format!("stdout is not JSON: {e}\n{}", run.describe()),
            ),
            Ok(json) => {
                if let Some(diff) =
                    common::json_diff("ansible-inventory", from_directory, "vm", &json)
                {
                    failures.add(&case.name, diff);
                }
            }
        }
    }
    failures.finish("vm inventory list --ansible-json == ansible-inventory --list --export");
}

/// `ansible-inventory -i DIR --host NAME`, by the real program.
fn ansible_host_vars(dir: &std::path::Path, host: &str) -> Result<serde_json::Value, String> {
    let output = std::process::Command::new(common::ansible_bin().join("ansible-inventory"))
        .arg("-i")
        .arg(dir)
        .args(["--host", host])
        .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "False")
        .output()
        .map_err(|e| format!("cannot run ansible-inventory: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    parse_json(&text).map_err(|e| format!("{e}: {text}"))
}

#[test]
fn a_hosts_variables_are_what_ansible_inventory_host_says() {
    // Nested groups, priorities, `all` variables and overrides in several fragments, plus the
    // corpus cases whose groups carry variables.
    let crafted = tempfile::tempdir().unwrap();
    let dir = crafted.path().join("inventory.d");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("10-groups.ini"),
        "[web]\nw1 ansible_host=10.0.0.1\nboth\n[db]\nd1 shared=mine\nboth\n\
         [all:vars]\nansible_user=all\nshared=all\nport=1\n\
         [prod:children]\nweb\ndb\n[prod:vars]\nshared=prod\ntier=prod\n\
         [web:vars]\nshared=web\n[db:vars]\nshared=db\nansible_group_priority=7\n",
    )
    .unwrap();
    fs::write(
        dir.join("20-hosts.ini"),
        "[zeta]\nboth\nw1\n[zeta:vars]\nshared=zeta\n[web]\nw1 ansible_user=own\n",
    )
    .unwrap();
    let mut cases: Vec<(String, PathBuf, Vec<String>)> = vec![(
        "crafted".into(),
        dir.clone(),
        vec!["w1".into(), "d1".into(), "both".into()],
    )];
    for (case, listed) in accepted() {
        let text: String = fs::read_dir(&case.inventory_d)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| fs::read_to_string(e.path()).ok())
            .collect();
        let hosts: Vec<String> = listed["_meta"]["hostvars"]
            .as_object()
            .map(|h| h.keys().take(1).cloned().collect())
            .unwrap_or_default();
        if text.contains(":vars]") && !hosts.is_empty() && cases.len() < 12 {
            cases.push((case.name.clone(), case.inventory_d.clone(), hosts));
        }
    }
    let mut failures = Failures::new();
    for (name, dir, hosts) in &cases {
        let project = Project::with_inventory_d(dir);
        for host in hosts {
            failures.checked();
            let label = format!("{name} --host {host}");
            let ansible = match ansible_host_vars(dir, host) {
                Ok(json) => json,
                Err(e) => {
                    failures.add(&label, e);
                    continue;
                }
            };
            let run = project.run(&["inventory", "list", "--host", host]);
            match parse_json(&run.stdout) {
                Ok(vm) => {
                    if let Some(diff) = common::json_diff("ansible-inventory", &ansible, "vm", &vm)
                    {
                        failures.add(&label, diff);
                    }
                }
                Err(e) => failures.add(&label, format!("{e}\n{}", run.describe())),
            }
        }
    }
    failures.finish("vm inventory list --host == ansible-inventory --host");
}
