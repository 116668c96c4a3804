//! Many `vm` processes at once: the inventory lock serialises every read-modify-write, so no
//! change is lost, no temp file is left behind, and a reader of `inventory.ini` only ever sees a
//! complete file; a process that holds the lock makes others wait, then give up with exit 5
//! naming it.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use common::reader::Reader;
use common::tree::snapshot;
use common::{Project, Run};

/// Runs every argument list at the same moment, one `vm` process each (threads released
/// together by a barrier), and returns the runs in the order given.
fn run_all_at_once(project: &Project, commands: &[Vec<String>]) -> Vec<Run> {
    let barrier = Barrier::new(commands.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = commands
            .iter()
            .map(|args| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    barrier.wait();
                    project.run(&args)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("runner thread panicked"))
            .collect()
    })
}

fn add_args(name: &str, address: &str, groups: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["inventory", "add", name, address]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for group in groups {
        args.push("--group".into());
        args.push(group.to_string());
    }
    args
}

/// The host names `vm inventory list --json` reports for a project.
fn listed_hosts(project: &Project) -> BTreeSet<String> {
    let run = project.run(&["--json", "inventory", "list"]);
    run.success();
    run.json()
        .as_array()
        .unwrap_or_else(|| panic!("list --json is not an array\n{}", run.describe()))
        .iter()
        .map(|row| row["name"].as_str().expect("host name").to_string())
        .collect()
}

/// Host lines of a merged file: lines that are not blank, not comments and not section headers,
/// in `[ungrouped]` or the group sections (not `:vars` / `:children`); first token only.
fn host_lines(text: &str) -> BTreeSet<String> {
    let mut hosts = BTreeSet::new();
    let mut in_hosts_section = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            in_hosts_section = !line.contains(':');
            continue;
        }
        if in_hosts_section {
            hosts.insert(line.split_whitespace().next().unwrap_or("").to_string());
        }
    }
    hosts
}

/// What the header says the file holds: `# N hosts, ...` on the second line.
fn header_host_count(text: &str) -> Option<usize> {
    let second = text.lines().nth(1)?;
    second
        .strip_prefix("# ")?
        .split_once(" hosts")?
        .0
        .parse()
        .ok()
}

/// Proves that one text `inventory.ini` held is a complete merged file: it reads back through
/// `vm`'s own parser (as the only fragment of a scratch project) and holds exactly as many hosts
/// as its header announces, all of them among `expected`.
fn assert_complete(text: &[u8], expected: &BTreeSet<String>) {
    let shown = String::from_utf8_lossy(text).into_owned();
    let scratch = Project::new().fragment_bytes("seen.ini", text);
    let hosts = listed_hosts(&scratch);
    let announced = header_host_count(&shown)
        .unwrap_or_else(|| panic!("no `# N hosts` header line in a file read:\n{shown}"));
    assert_eq!(
        hosts.len(),
        announced,
        "a read saw a file whose header announces {announced} hosts but which holds {}:\n{shown}",
        hosts.len()
    );
    assert!(
        hosts.is_subset(expected),
        "a read saw hosts nobody added: {:?}\n{shown}",
        hosts.difference(expected).collect::<Vec<_>>()
    );
}

/// Runs every command at once (see [`run_all_at_once`]) while a [`Reader`] reads
/// `inventory.ini`, and expects each to succeed. Returns how many reads found the file and each
/// distinct text seen.
fn run_all_while_reading(
    project: &Project,
    commands: &[Vec<String>],
) -> (usize, HashMap<Vec<u8>, usize>) {
    let reader = Reader::start(&project.inventory_ini());
    let runs = run_all_at_once(project, commands);
    // Keep reading a little after the last writer, so the final file is among the texts seen.
    std::thread::sleep(Duration::from_millis(50));
    let seen = reader.finish();
    for run in &runs {
        run.success();
    }
    seen
}

/// After concurrent commands, the last merge must have seen the final fragment set: merging
/// again changes nothing (no lost update left `inventory.ini` stale).
fn assert_merge_is_a_no_op(project: &Project) {
    let before = project.read("ansible/inventory.ini").unwrap();
    project.run(&["inventory", "merge"]).success();
    assert_eq!(
        String::from_utf8_lossy(&project.read("ansible/inventory.ini").unwrap()),
        String::from_utf8_lossy(&before),
        "inventory.ini was stale after the concurrent commands: a merge changed it"
    );
}

#[test]
fn thirty_two_concurrent_adds_all_land_and_a_reader_never_sees_a_partial_file() {
    let project = Project::new();
    let names: Vec<String> = (0..32).map(|i| format!("vm-{i:02}")).collect();
    let commands: Vec<Vec<String>> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let groups: &[&str] = match i % 4 {
                0 => &["web"],
                1 => &["db", "web"],
                2 => &["db"],
                _ => &[],
            };
            add_args(name, &format!("10.0.1.{}", i + 1), groups)
        })
        .collect();

    let (reads, seen) = run_all_while_reading(&project, &commands);
    let expected: BTreeSet<String> = names.iter().cloned().collect();
    let final_text = project
        .read("ansible/inventory.ini")
        .expect("inventory.ini exists");
    let final_str = String::from_utf8(final_text.clone()).expect("inventory.ini is UTF-8");
    assert_eq!(
        host_lines(&final_str),
        expected,
        "inventory.ini does not hold exactly the 32 hosts added:\n{final_str}"
    );
    assert_eq!(listed_hosts(&project), expected);
    assert_merge_is_a_no_op(&project);
    assert_eq!(
        snapshot(&project.inventory_d()).len(),
        32,
        "one fragment per host, nothing else"
    );
    assert_eq!(
        project.temp_files(),
        Vec::<String>::new(),
        "temp files left"
    );

    eprintln!(
        "reader: {reads} reads of inventory.ini, {} distinct complete texts",
        seen.len()
    );
    assert!(reads > 0, "the reader never found inventory.ini");
    assert!(
        seen.contains_key(&final_text),
        "the reader never saw the final file"
    );
    for text in seen.keys() {
        assert_complete(text, &expected);
    }
}

#[test]
fn concurrent_adds_and_removes_leave_exactly_the_expected_hosts() {
    let project = Project::new();
    let old: Vec<String> = (0..16).map(|i| format!("old-{i:02}")).collect();
    let new: Vec<String> = (0..16).map(|i| format!("new-{i:02}")).collect();
    for (i, name) in old.iter().enumerate() {
        let args = add_args(name, &format!("10.0.2.{}", i + 1), &["web"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        project.run(&args).success();
    }
    let mut commands: Vec<Vec<String>> = Vec::new();
    for i in 0..16 {
        let groups: &[&str] = if i % 2 == 0 { &["web"] } else { &["db"] };
        commands.push(add_args(&new[i], &format!("10.0.3.{}", i + 1), groups));
        commands.push(vec!["inventory".into(), "remove".into(), old[i].clone()]);
    }

    let (_, seen) = run_all_while_reading(&project, &commands);
    let expected: BTreeSet<String> = new.iter().cloned().collect();
    let final_str =
        String::from_utf8(project.read("ansible/inventory.ini").unwrap()).expect("UTF-8");
    assert_eq!(
        host_lines(&final_str),
        expected,
        "inventory.ini after 16 adds and 16 removes:\n{final_str}"
    );
    assert_eq!(listed_hosts(&project), expected);
    assert_merge_is_a_no_op(&project);
    let fragments: BTreeSet<String> = snapshot(&project.inventory_d()).into_keys().collect();
    let expected_fragments: BTreeSet<String> = new.iter().map(|n| format!("{n}.ini")).collect();
    assert_eq!(fragments, expected_fragments);
    assert_eq!(
        project.temp_files(),
        Vec::<String>::new(),
        "temp files left"
    );
    let everyone: BTreeSet<String> = old.iter().chain(&new).cloned().collect();
    for text in seen.keys() {
        assert_complete(text, &everyone);
    }
}

/// Holds `ansible/.inventory.lock` the way `vm` does (flock on the file, holder text inside)
/// until dropped.
struct FakeHolder {
    file: File,
}

impl FakeHolder {
    fn take(project: &Project, note: &str) -> FakeHolder {
        let path = project.root().join("ansible/.inventory.lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        file.lock().expect("take the inventory lock");
        file.write_all(note.as_bytes())
            .expect("write the holder note");
        file.flush().unwrap();
        FakeHolder { file }
    }
}

impl Drop for FakeHolder {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// A project with one merged host and a second fragment written since, so a merge that ran
/// would change `inventory.ini`.
fn project_with_pending_change() -> (Project, Vec<u8>) {
    let project = Project::new();
    project
        .run(&["inventory", "add", "web-1", "10.0.0.1"])
        .success();
    let before = project.read("ansible/inventory.ini").unwrap();
    let project = project.fragment("db.ini", "[db]\ndb-1 ansible_host=10.0.0.2\n");
    (project, before)
}

#[test]
fn merge_gives_up_with_exit_5_naming_the_lock_holder_and_leaves_the_inventory_untouched() {
    let (project, before) = project_with_pending_change();
    let holder = FakeHolder::take(&project, "pid 123 fake-holder\n");

    let start = Instant::now();
    let run = project.run(&["--lock-timeout", "1", "inventory", "merge"]);
    let waited = start.elapsed();
    run.code(5)
        .stderr_contains("pid 123 fake-holder")
        .stderr_contains(".inventory.lock")
        .stderr_contains("--lock-timeout");
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(10),
        "--lock-timeout 1 waited {waited:?}"
    );
    assert_eq!(
        project.read("ansible/inventory.ini").unwrap(),
        before,
        "inventory.ini changed while another process held the lock"
    );
    assert_eq!(project.temp_files(), Vec::<String>::new());

    // The same merge goes through once the holder is gone: the refusal above was the lock.
    drop(holder);
    project
        .run(&["--lock-timeout", "1", "inventory", "merge"])
        .success();
    assert_ne!(project.read("ansible/inventory.ini").unwrap(), before);
}

#[test]
fn add_gives_up_with_exit_5_and_writes_no_fragment_while_the_lock_is_held() {
    let (project, before) = project_with_pending_change();
    let _holder = FakeHolder::take(&project, "pid 123 fake-holder\n");
    project
        .run(&[
            "--lock-timeout",
            "1",
            "inventory",
            "add",
            "late",
            "10.0.0.9",
        ])
        .code(5)
        .stderr_contains("pid 123 fake-holder");
    assert_eq!(project.read("ansible/inventory.d/late.ini"), None);
    assert_eq!(project.read("ansible/inventory.ini").unwrap(), before);
    assert_eq!(project.temp_files(), Vec::<String>::new());
}

#[test]
fn a_waiting_merge_says_whom_it_waits_for_and_proceeds_when_the_lock_is_released() {
    let (project, before) = project_with_pending_change();
    let holder = Mutex::new(Some(FakeHolder::take(&project, "pid 123 fake-holder\n")));
    let run = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(700));
            holder.lock().unwrap().take();
        });
        project.run(&["--lock-timeout", "30", "inventory", "merge"])
    });
    run.success()
        .stderr_contains("waiting for the inventory lock")
        .stderr_contains("pid 123 fake-holder");
    assert_ne!(project.read("ansible/inventory.ini").unwrap(), before);
    assert_eq!(
        host_lines(&String::from_utf8(project.read("ansible/inventory.ini").unwrap()).unwrap()),
        BTreeSet::from(["db-1".to_string(), "web-1".to_string()])
    );
}

#[test]
fn concurrent_adds_of_one_name_leave_one_complete_fragment_and_a_matching_inventory() {
    let project = Project::new();
    let commands: Vec<Vec<String>> = (1..=12)
        .map(|i| add_args("same", &format!("10.0.4.{i}"), &["web"]))
        .collect();
    for run in run_all_at_once(&project, &commands) {
        run.success();
    }
    let fragments: Vec<String> = snapshot(&project.inventory_d()).into_keys().collect();
    assert_eq!(fragments, vec!["same.ini".to_string()]);
    let fragment =
        String::from_utf8(project.read("ansible/inventory.d/same.ini").unwrap()).unwrap();
    let merged = String::from_utf8(project.read("ansible/inventory.ini").unwrap()).unwrap();
    let address = (1..=12)
        .map(|i| format!("ansible_host=10.0.4.{i}\n"))
        .find(|a| fragment.ends_with(a.as_str()))
        .unwrap_or_else(|| panic!("same.ini is not one complete add:\n{fragment}"));
    assert!(
        merged.contains(&format!("same {}", address.trim_end())),
        "inventory.ini does not hold the address of the fragment that won ({address}):\n{merged}"
    );
    assert_merge_is_a_no_op(&project);
    assert_eq!(project.temp_files(), Vec::<String>::new());
}

/// Starts `vm -v inventory add NAME ADDRESS --validate internal` in the background, output
/// captured.
fn spawn_add(project: &Project, name: &str, address: &str) -> std::process::Child {
    spawn_add_validated(project, name, address, "internal")
}

/// [`spawn_add`] with `--validate VALIDATE`.
fn spawn_add_validated(
    project: &Project,
    name: &str,
    address: &str,
    validate: &str,
) -> std::process::Child {
    std::process::Command::new(common::vm_bin())
        .arg("--project")
        .arg(project.root())
        .args([
            "-v",
            "inventory",
            "add",
            name,
            address,
            "--validate",
            validate,
        ])
        .env_remove("VM_PROJECT")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run vm")
}

/// Waits until `n` changes are staged in `ansible/.pending`.
fn wait_for_staged(project: &Project, n: usize) {
    let pending = project.root().join("ansible/.pending");
    for _ in 0..500 {
        let staged = fs::read_dir(&pending)
            .map(|d| {
                d.flatten()
                    .filter(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        !name.starts_with('.')
                            && (name.ends_with(".add") || name.ends_with(".remove"))
                    })
                    .count()
            })
            .unwrap_or(0);
        if staged >= n {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{n} changes were never staged in {}", pending.display());
}

#[test]
fn adds_waiting_together_are_merged_at_once_and_an_invalid_one_is_refused_alone() {
    // The project's fragment template makes the fragment of `bad-host` one Ansible refuses.
    let project = Project::new()
        .fragment("base.ini", "[base]\nbase-1 ansible_host=10.0.0.1\n")
        .refusing_hosts_where(r#"host == "bad-host""#);
    project.run(&["inventory", "merge"]).success();
    let holder = FakeHolder::take(&project, "pid 1 test holding the lock\n");
    let good = ["good-1", "good-2", "good-3", "good-4"];
    let mut children: Vec<(String, std::process::Child)> = good
        .iter()
        .enumerate()
        .map(|(i, name)| {
            (
                name.to_string(),
                spawn_add(&project, name, &format!("10.0.1.{}", i + 1)),
            )
        })
        .collect();
    children.push((
        "bad-host".into(),
        spawn_add(&project, "bad-host", "10.0.2.1"),
    ));
    // Everyone staged and waiting for the lock: then one of them merges for all.
    wait_for_staged(&project, 5);
    drop(holder);
    let mut merges = 0;
    for (name, child) in children {
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        merges += stderr.matches("staged change(s) at once").count();
        if name == "bad-host" {
            assert_eq!(output.status.code(), Some(3), "{name}: {stderr}");
            assert!(stderr.contains("bad-host.ini"), "{stderr}");
            assert!(stderr.contains("not a variable line"), "{stderr}");
        } else {
            assert_eq!(output.status.code(), Some(0), "{name}: {stderr}");
        }
    }
    assert_eq!(
        merges, 1,
        "the five waiting changes were not merged at once"
    );
    let merged = String::from_utf8(project.read("ansible/inventory.ini").unwrap()).unwrap();
    for name in good {
        assert!(
            merged.contains(&format!("\n{name} ansible_host=")),
            "{merged}"
        );
    }
    assert!(!merged.contains("bad-host"), "{merged}");
    assert!(project.read("ansible/inventory.d/bad-host.ini").is_none());
    // Nothing is left staged.
    assert!(!project.root().join("ansible/.pending").exists());
    project.run(&["inventory", "check"]).success();
}

#[test]
fn thirty_two_adds_at_once_on_a_big_inventory_need_fewer_merges_than_adds() {
    let mut project = Project::new();
    for i in 0..3000 {
        project = project.fragment(
            &format!("h{i:05}.ini"),
            &format!("[web]\nh{i:05} ansible_host=10.2.{}.{}\n", i / 250, i % 250),
        );
    }
    project.run(&["inventory", "merge"]).success();
    let children: Vec<std::process::Child> = (1..=32)
        .map(|i| spawn_add(&project, &format!("many-{i}"), &format!("10.3.0.{i}")))
        .collect();
    let mut merges = 0;
    let mut merged_changes = 0;
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        for line in stderr
            .lines()
            .filter(|l| l.contains("staged change(s) at once"))
        {
            merges += 1;
            merged_changes += line
                .split_whitespace()
                .nth(1)
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap();
        }
    }
    // Every change merged exactly once, in fewer merges than changes.
    assert_eq!(merged_changes, 32);
    assert!(merges < 32, "{merges} merges for 32 adds");
    let merged = String::from_utf8(project.read("ansible/inventory.ini").unwrap()).unwrap();
    for i in 1..=32 {
        assert!(
            merged.contains(&format!("\nmany-{i} ansible_host=10.3.0.{i}")),
            "many-{i}"
        );
    }
    println!("32 adds on 3,000 hosts: {merges} merges");
}

#[test]
fn adds_merged_at_once_with_validate_ansible_run_the_real_ansible_inventory_once() {
    // The configured ansible-inventory is the real one behind a wrapper that counts its runs.
    let real = common::ansible_bin().join("ansible-inventory");
    let project = Project::new().fragment("base.ini", "[base]\nbase-1 ansible_host=10.0.0.1\n");
    let runs = project.root().join("ansible-runs");
    let wrapper = project.root().join("counting-ansible-inventory");
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho run >> '{}'\nexec '{}' \"$@\"\n",
            runs.display(),
            real.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
    let project = project.file(
        "vm.toml",
        &format!("ansible_inventory = {:?}\n", wrapper.display().to_string()),
    );
    project
        .run(&["inventory", "merge", "--validate", "internal"])
        .success();
    let holder = FakeHolder::take(&project, "pid 1 test holding the lock\n");
    let children: Vec<std::process::Child> = (1..=4)
        .map(|i| {
            spawn_add_validated(
                &project,
                &format!("checked-{i}"),
                &format!("10.0.3.{i}"),
                "ansible",
            )
        })
        .collect();
    wait_for_staged(&project, 4);
    drop(holder);
    let mut merges = 0;
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        merges += stderr.matches("staged change(s) at once").count();
    }
    assert_eq!(
        merges, 1,
        "the four waiting changes were not merged at once"
    );
    let counted = fs::read_to_string(&runs).unwrap_or_default();
    assert_eq!(
        counted.lines().count(),
        1,
        "ansible-inventory ran {} times for one coalesced merge",
        counted.lines().count()
    );
    let merged = String::from_utf8(project.read("ansible/inventory.ini").unwrap()).unwrap();
    for i in 1..=4 {
        assert!(
            merged.contains(&format!("\nchecked-{i} ansible_host=10.0.3.{i}")),
            "{merged}"
        );
    }
}

#[test]
fn invalid_adds_among_many_at_once_are_refused_alone_while_a_reader_sees_only_whole_valid_files() {
    // The project's fragment template makes the fragment of every `bad-*` host one Ansible
    // refuses; 4 of the 32 adds started together are such.
    let project = Project::new().refusing_hosts_where(r#"host is starting_with(pat="bad-")"#);
    let names: Vec<String> = (0..32)
        .map(|i| {
            if i % 8 == 3 {
                format!("bad-{i:02}")
            } else {
                format!("ok-{i:02}")
            }
        })
        .collect();
    let commands: Vec<Vec<String>> = names
        .iter()
        .enumerate()
        .map(|(i, name)| add_args(name, &format!("10.0.4.{}", i + 1), &["web"]))
        .collect();
    let reader = Reader::start(&project.inventory_ini());
    let runs = run_all_at_once(&project, &commands);
    std::thread::sleep(Duration::from_millis(50));
    let (reads, seen) = reader.finish();

    let valid: BTreeSet<String> = names
        .iter()
        .filter(|n| n.starts_with("ok-"))
        .cloned()
        .collect();
    for (name, run) in names.iter().zip(&runs) {
        if name.starts_with("bad-") {
            run.code(3)
                .stderr_contains(&format!("{name}.ini"))
                .stderr_contains("not a variable line");
        } else {
            run.success();
        }
    }
    let final_text = project.read("ansible/inventory.ini").unwrap();
    assert_eq!(
        host_lines(&String::from_utf8_lossy(&final_text)),
        valid,
        "inventory.ini does not hold exactly the 28 valid hosts"
    );
    for name in names.iter().filter(|n| n.starts_with("bad-")) {
        assert!(
            project
                .read(&format!("ansible/inventory.d/{name}.ini"))
                .is_none(),
            "the refused {name}.ini was left in inventory.d"
        );
    }
    assert!(!project.root().join("ansible/.pending").exists());
    assert_merge_is_a_no_op(&project);
    eprintln!(
        "reader: {reads} reads, {} distinct complete texts",
        seen.len()
    );
    assert!(
        seen.contains_key(&final_text),
        "the reader never saw the final file"
    );
    for text in seen.keys() {
        // Whole, and never holding a refused host.
        assert_complete(text, &valid);
    }
}

#[test]
fn two_changes_of_one_fragment_in_a_batch_apply_in_order_and_refusing_the_second_keeps_the_first() {
    let project = Project::new()
        .fragment("base.ini", "[base]\nbase-1 ansible_host=10.0.0.1\n")
        .refusing_hosts_where(r#""ansible_host=10.0.5.2" in vars"#);
    project.run(&["inventory", "merge"]).success();
    let holder = FakeHolder::take(&project, "pid 1 test holding the lock\n");
    let first = spawn_add(&project, "twin", "10.0.5.1");
    wait_for_staged(&project, 1);
    let second = spawn_add(&project, "twin", "10.0.5.2");
    wait_for_staged(&project, 2);
    drop(holder);
    let first = first.wait_with_output().unwrap();
    let second = second.wait_with_output().unwrap();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(
        second.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let fragment =
        String::from_utf8(project.read("ansible/inventory.d/twin.ini").unwrap()).unwrap();
    assert!(
        fragment.contains("twin ansible_host=10.0.5.1"),
        "{fragment}"
    );
    let merged = String::from_utf8(project.read("ansible/inventory.ini").unwrap()).unwrap();
    assert!(merged.contains("\ntwin ansible_host=10.0.5.1"), "{merged}");
    assert!(!project.root().join("ansible/.pending").exists());
    project.run(&["inventory", "check"]).success();
}
