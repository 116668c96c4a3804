//! A merge killed with SIGKILL at any moment leaves `inventory.ini` either the old or the new
//! complete file, never a mix, and never loses or changes a fragment; the next merge succeeds
//! and leaves no temp file behind.
//!
//! The kill moments are random but seeded: the seed is printed, and `VM_CRASH_SEED=<seed>`
//! replays the same delays.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::Project;
use common::reader::Reader;
use common::rng::{Rng, seed_from_env};
use common::tree::{Entry, snapshot};

/// Enough fragments that one merge of the debug build takes a good fraction of a second, so
/// the kills land in every phase: reading, parsing, writing the temp file, renaming.
const FRAGMENTS: usize = 3000;
/// How many merges are killed.
const KILLS: usize = 30;

fn seed() -> u64 {
    seed_from_env("VM_CRASH_SEED", || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos() as u64
    })
}

/// A fragment in the format `vm inventory add` writes.
fn fragment_text(name: &str, index: usize, generation: usize) -> String {
    format!(
        "# vm-managed: backend=external connection=-\n[g{}]\n{name} ansible_host=10.{}.{}.{} gen={generation}\n",
        index % 25,
        (index >> 16) & 255,
        (index >> 8) & 255,
        index & 255,
    )
}

fn write_fragment(project: &Project, files: &mut BTreeMap<String, Entry>, name: &str, text: &str) {
    fs::write(project.inventory_d().join(format!("{name}.ini")), text).expect("write fragment");
    files.insert(
        format!("{name}.ini"),
        Entry::File(Ok(text.as_bytes().to_vec())),
    );
}

/// Runs a merge to its end and returns how long it took.
fn merge_to_completion(project: &Project) -> Duration {
    let start = Instant::now();
    project.run(&["-q", "inventory", "merge"]).success();
    start.elapsed()
}

#[test]
fn merge_killed_at_random_moments_leaves_the_old_or_the_new_file_and_every_fragment() {
    let seed = seed();
    eprintln!("crash_safety seed: {seed} (replay with VM_CRASH_SEED={seed})");
    let mut rng = Rng::new(seed);

    let project = Project::new();
    let mut files: BTreeMap<String, Entry> = BTreeMap::new();
    let mut generation = vec![0usize; FRAGMENTS];
    for (i, generation) in generation.iter().enumerate() {
        let name = format!("vm-{i:05}");
        write_fragment(
            &project,
            &mut files,
            &name,
            &fragment_text(&name, i, *generation),
        );
    }
    // A full merge's duration: the median of those run so far (one slow run under load must
    // not push every kill past the end).
    let mut durations = vec![merge_to_completion(&project)];
    let median = |d: &[Duration]| {
        let mut d = d.to_vec();
        d.sort();
        d[d.len() / 2]
    };
    let mut previous = project
        .read("ansible/inventory.ini")
        .expect("first merge wrote it");
    let (mut kept_old, mut got_new, mut finished) = (0, 0, 0);

    for round in 0..KILLS {
        // Change some fragments: rewrite a few, add one, remove one every third round.
        for _ in 0..5 {
            let i = rng.below(FRAGMENTS);
            generation[i] += 1;
            let name = format!("vm-{i:05}");
            write_fragment(
                &project,
                &mut files,
                &name,
                &fragment_text(&name, i, generation[i]),
            );
        }
        let extra = format!("extra-{round:02}");
        write_fragment(
            &project,
            &mut files,
            &extra,
            &fragment_text(&extra, FRAGMENTS + round, 0),
        );
        if round % 3 == 2 {
            let gone = format!("extra-{:02}.ini", round - 1);
            fs::remove_file(project.inventory_d().join(&gone)).expect("remove a fragment");
            files.remove(&gone);
        }

        // Half the kills anywhere in a run, half in its last part, where the file is written.
        let full = median(&durations);
        let span = full.as_micros() as usize;
        let delay = Duration::from_micros(if round % 2 == 0 {
            rng.below(span + 1)
        } else {
            span * 6 / 10 + rng.below(span * 45 / 100 + 1)
        } as u64);
        let mut child = project.spawn(&["-q", "inventory", "merge"]);
        std::thread::sleep(delay);
        let exited_first = child.try_wait().expect("poll the merge").is_some();
        child.kill().ok(); // SIGKILL on Unix; an error means it had already exited
        let status = child.wait().expect("reap the merge");

        let after_kill = project
            .read("ansible/inventory.ini")
            .expect("inventory.ini is never removed");
        assert_eq!(
            snapshot(&project.inventory_d()),
            files,
            "round {round} (seed {seed}): the fragments changed after a merge was killed"
        );
        durations.push(merge_to_completion(&project));
        let new = project.read("ansible/inventory.ini").unwrap();
        assert_eq!(
            project.temp_files(),
            Vec::<String>::new(),
            "round {round} (seed {seed}): temp files left after the next merge"
        );
        assert_eq!(
            snapshot(&project.inventory_d()),
            files,
            "round {round}: a merge changed fragments"
        );
        assert_ne!(
            previous, new,
            "round {round}: changed fragments but the same inventory"
        );
        if after_kill == previous {
            kept_old += 1;
        } else if after_kill == new {
            got_new += 1;
        } else {
            panic!(
                "round {round} (seed {seed}): killed after {delay:?} ({status}), inventory.ini is \
                 neither the old nor the new complete file ({} bytes; old {}, new {}); it ends:\n{}",
                after_kill.len(),
                previous.len(),
                new.len(),
                String::from_utf8_lossy(&after_kill[after_kill.len().saturating_sub(200)..])
            );
        }
        if exited_first {
            finished += 1;
        }
        previous = new;
    }
    eprintln!(
        "crash_safety: {KILLS} merges of {FRAGMENTS}+ fragments (a full merge takes {:?}): killed leaving the old file {kept_old}, the new file {got_new}; {finished} \
         had already finished",
        median(&durations)
    );
}

#[test]
fn merge_removes_a_temp_file_left_by_a_killed_merge_when_the_fragments_changed() {
    let project = Project::new().fragment("a.ini", "[web]\nweb-1 ansible_host=10.0.0.1\n");
    project.run(&["inventory", "merge"]).success();
    let leftover = project.root().join("ansible/.inventory.ini.tmp.4242");
    fs::write(
        &leftover,
        "# Generated by `vm inventory merge`. Do not edit\n[web]\nweb-",
    )
    .unwrap();
    let project = project.fragment("b.ini", "[db]\ndb-1 ansible_host=10.0.0.2\n");
    project.run(&["inventory", "merge"]).success();
    assert!(!leftover.exists(), "{} is still there", leftover.display());
}

#[test]
fn merge_removes_a_temp_file_left_by_a_killed_merge_even_when_nothing_changed() {
    // A merge killed after writing its temp file, whose change was then undone (or already
    // merged by someone else): the next merge finds inventory.ini up to date. It must still
    // clear the litter, as the temp file is never read again by anyone.
    let project = Project::new().fragment("a.ini", "[web]\nweb-1 ansible_host=10.0.0.1\n");
    project.run(&["inventory", "merge"]).success();
    let before = project.read("ansible/inventory.ini").unwrap();
    let leftover = project.root().join("ansible/.inventory.ini.tmp.4242");
    fs::write(
        &leftover,
        "# Generated by `vm inventory merge`. Do not edit\n[web]\nweb-",
    )
    .unwrap();
    project.run(&["inventory", "merge"]).success();
    assert_eq!(project.read("ansible/inventory.ini").unwrap(), before);
    assert!(
        !leftover.exists(),
        "{} is still there after a merge that found inventory.ini up to date",
        leftover.display()
    );
}

#[test]
fn add_killed_at_random_moments_leaves_no_partial_fragment_and_the_old_or_new_inventory() {
    let seed = seed();
    eprintln!("crash_safety (add) seed: {seed} (replay with VM_CRASH_SEED={seed})");
    let mut rng = Rng::new(seed ^ 0xADD);
    let project = Project::new();
    let mut files: BTreeMap<String, Entry> = BTreeMap::new();
    for i in 0..FRAGMENTS {
        let name = format!("vm-{i:05}");
        write_fragment(&project, &mut files, &name, &fragment_text(&name, i, 0));
    }
    let mut durations = vec![merge_to_completion(&project)];
    let mut previous = project.read("ansible/inventory.ini").unwrap();
    let mut fragment_temps = 0;
    for round in 0..15 {
        let name = format!("new-{round:02}");
        let address = format!("10.9.0.{}", round + 1);
        let args = ["-q", "inventory", "add", &name, &address, "--group", "web"];
        let span = durations.iter().max().unwrap().as_micros() as usize;
        let delay = Duration::from_micros(rng.below(span + 1) as u64);
        let mut child = project.spawn(&args);
        std::thread::sleep(delay);
        child.kill().ok();
        child.wait().expect("reap the add");

        let fragment_after_kill = project.read(&format!("ansible/inventory.d/{name}.ini"));
        let inventory_after_kill = project.read("ansible/inventory.ini").unwrap();
        let mut on_disk = snapshot(&project.inventory_d());
        // A hidden temp of the killed add may be left in inventory.d (Ansible skips hidden
        // names); counted here, its cleanup is the business of the test below.
        let before = on_disk.len();
        on_disk.retain(|n, _| !(n.starts_with('.') && n.contains(".tmp.")));
        fragment_temps += before - on_disk.len();
        on_disk.remove(&format!("{name}.ini"));
        assert_eq!(
            on_disk, files,
            "round {round} (seed {seed}): other fragments changed"
        );

        let start = Instant::now();
        project.run(&args).success();
        durations.push(start.elapsed());
        let fragment = project
            .read(&format!("ansible/inventory.d/{name}.ini"))
            .unwrap();
        let new = project.read("ansible/inventory.ini").unwrap();
        assert!(
            fragment_after_kill.is_none() || fragment_after_kill.as_ref() == Some(&fragment),
            "round {round} (seed {seed}): the killed add left a partial fragment:\n{}",
            String::from_utf8_lossy(fragment_after_kill.as_deref().unwrap_or_default())
        );
        assert!(
            inventory_after_kill == previous || inventory_after_kill == new,
            "round {round} (seed {seed}): inventory.ini is neither the old nor the new file"
        );
        files.insert(format!("{name}.ini"), Entry::File(Ok(fragment)));
        previous = new;
    }
    eprintln!("crash_safety (add): 15 adds killed; {fragment_temps} fragment temp file(s) seen");
}

#[test]
fn a_batch_whose_leader_was_killed_after_answering_in_part_is_tidied_without_undoing_it() {
    // The leader had merged its batch and written the outcomes (the batch's commit point), then
    // was killed before linking the results and removing its journal. Its change stays merged;
    // the next writer only removes what is left.
    let project = Project::new().fragment("base.ini", "[web]\nweb-1 ansible_host=10.0.0.1\n");
    let id = format!("00000000000000000001-{}-internal-kept.ini", gone_pid());
    let text = "# vm-managed: backend=external connection=-\n[web]\nkept ansible_host=10.0.0.7\n";
    project.write("ansible/inventory.d/kept.ini", text);
    project.run(&["inventory", "merge"]).success();
    let batch = format!("ansible/.pending/batch-00000000000000000002-{}", gone_pid());
    project.write(
        &format!("{batch}.journal"),
        &serde_json::json!([{
            "id": id, "kind": "add", "fragment": "kept.ini", "previous": null, "text": text
        }])
        .to_string(),
    );
    project.write(
        &format!("{batch}.outcomes"),
        &serde_json::json!({ id.clone(): {
            "code": 0, "message": "", "existed": false,
            "counts": {"fragments": 2, "hosts": 2, "groups": 1}
        }})
        .to_string(),
    );

    // Only the new change is merged: the finished batch is not staged and merged again.
    let verbose: Vec<&str> = std::iter::once("-v")
        .chain(ADD_NEXT.iter().copied())
        .collect();
    project
        .run(&verbose)
        .success()
        .stderr_contains("merged 1 staged change(s) at once");
    assert_eq!(
        project.read("ansible/inventory.d/kept.ini").as_deref(),
        Some(text.as_bytes()),
        "the merged change was undone"
    );
    let merged = String::from_utf8(project.read("ansible/inventory.ini").unwrap()).unwrap();
    assert!(merged.contains("\nkept ansible_host=10.0.0.7"), "{merged}");
    assert!(merged.contains("\nnext ansible_host=10.0.0.2"), "{merged}");
    assert!(!project.root().join("ansible/.pending").exists());
}

#[test]
fn a_plain_merge_after_a_killed_leader_redoes_its_half_batch_as_a_batch_instead_of_publishing_it() {
    // The leader applied two staged changes, one of them invalid, and was killed before merging;
    // then `vm inventory merge` (not a writer) takes the lock. Publishing the folder as it is
    // would fail on the invalid fragment; redone as a batch, the invalid change is refused alone
    // and the valid one lands.
    let project = Project::new().fragment("base.ini", "[web]\nweb-1 ansible_host=10.0.0.1\n");
    project.run(&["inventory", "merge"]).success();
    let half = format!("00000000000000000001-{}-internal-half.ini", gone_pid());
    let broken = format!("00000000000000000002-{}-internal-broken.ini", gone_pid());
    let text = "# vm-managed: backend=external connection=-\n[web]\nhalf ansible_host=10.0.0.8\n";
    let invalid =
        "# vm-managed: backend=external connection=-\n[broken:vars]\nnot a variable line\n";
    project.write(
        &format!("ansible/.pending/batch-00000000000000000003-{}.journal", gone_pid()),
        &serde_json::json!([
            {"id": half, "kind": "add", "fragment": "half.ini", "previous": null, "text": text},
            {"id": broken, "kind": "add", "fragment": "broken.ini", "previous": null, "text": invalid}
        ])
        .to_string(),
    );
    project.write("ansible/inventory.d/half.ini", text);
    project.write("ansible/inventory.d/broken.ini", invalid);

    project.run(&["inventory", "merge"]).success();
    assert!(project.read("ansible/inventory.d/broken.ini").is_none());
    let merged = String::from_utf8(project.read("ansible/inventory.ini").unwrap()).unwrap();
    assert!(merged.contains("\nhalf ansible_host=10.0.0.8"), "{merged}");
    assert!(!merged.contains("broken"), "{merged}");
    assert!(!project.root().join("ansible/.pending").exists());
}

#[test]
fn staged_files_of_an_older_vm_whose_writers_are_gone_are_cleaned_by_the_next_batch() {
    let project = Project::new().fragment("base.ini", "[web]\nweb-1 ansible_host=10.0.0.1\n");
    let old = format!(
        "ansible/.pending/00000000000000000001-{}-old.ini",
        gone_pid()
    );
    for extension in ["json", "previous", "result"] {
        project.write(&format!("{old}.{extension}"), "{}");
    }
    project.run(ADD_NEXT).success();
    assert!(!project.root().join("ansible/.pending").exists());
}

#[test]
fn a_change_left_staged_by_a_killed_writer_is_applied_by_the_next_merge() {
    let project = Project::new().fragment("base.ini", "[web]\nweb-1 ansible_host=10.0.0.1\n");
    project.run(&["inventory", "merge"]).success();
    let text = "# vm-managed: backend=external connection=-\n[web]\nleft ansible_host=10.0.0.9\n";
    project.write(
        &format!(
            "ansible/.pending/00000000000000000001-{}-internal-left.ini.add",
            gone_pid()
        ),
        text,
    );
    project.run(&["inventory", "merge"]).success();
    assert_eq!(
        project.read("ansible/inventory.d/left.ini").as_deref(),
        Some(text.as_bytes())
    );
    let merged = String::from_utf8(project.read("ansible/inventory.ini").unwrap()).unwrap();
    assert!(merged.contains("\nleft ansible_host=10.0.0.9"), "{merged}");
    assert!(!project.root().join("ansible/.pending").exists());
}

/// The add the batch tests run after a leader was killed.
const ADD_NEXT: &[&str] = &[
    "inventory",
    "add",
    "next",
    "10.0.0.2",
    "--validate",
    "internal",
];

/// The pid of a process that has ended.
fn gone_pid() -> u32 {
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    pid
}

#[test]
fn merge_removes_fragment_temp_files_left_by_a_killed_add() {
    // `add` writes `.NAME.ini.tmp.PID` in inventory.d and renames it; killed in between, the
    // hidden file stays. Ansible skips it, but nothing else would ever delete it: the next merge
    // (under the lock, so no add is writing one) should.
    let project = Project::new().fragment("a.ini", "[web]\nweb-1 ansible_host=10.0.0.1\n");
    let leftover = project.inventory_d().join(".new.ini.tmp.4242");
    fs::write(&leftover, "# vm-managed: backend=external connection=-\nne").unwrap();
    project.run(&["inventory", "merge"]).success();
    assert!(
        !leftover.exists(),
        "{} is still there after a merge",
        leftover.display()
    );
}

#[test]
fn a_batch_whose_leader_was_killed_after_changing_a_fragment_is_finished_by_the_next_writer() {
    // A writer staged an invalid fragment and was killed; so was the leader, after it had
    // journalled the batch (the fragment's previous state: absent) and moved the staged text
    // into place, before merging.
    let project = Project::new().fragment("base.ini", "[web]\nweb-1 ansible_host=10.0.0.1\n");
    project.run(&["inventory", "merge"]).success();
    let before = project.read("ansible/inventory.ini").unwrap();
    let dead = gone_pid();
    let id = format!("00000000000000000001-{dead}-internal-dead.ini");
    let invalid =
        "# vm-managed: backend=external connection=-\n[broken:vars]\nnot a variable line\n";
    project.write(
        &format!(
            "ansible/.pending/batch-00000000000000000002-{}.journal",
            gone_pid()
        ),
        &serde_json::json!([{
            "id": id, "kind": "add", "fragment": "dead.ini", "previous": null, "text": invalid
        }])
        .to_string(),
    );
    project.write("ansible/inventory.d/dead.ini", invalid);

    project.run(ADD_NEXT).success();
    // The invalid change is undone from the journal, the valid one merged, nothing left over.
    assert!(project.read("ansible/inventory.d/dead.ini").is_none());
    let merged = String::from_utf8(project.read("ansible/inventory.ini").unwrap()).unwrap();
    assert!(merged.contains("\nnext ansible_host=10.0.0.2"), "{merged}");
    assert_ne!(project.read("ansible/inventory.ini").unwrap(), before);
    assert!(!project.root().join("ansible/.pending").exists());
    project.run(&["inventory", "check"]).success();
}

#[test]
fn batches_with_writers_killed_at_random_leave_whole_files_and_tell_every_survivor_the_truth() {
    let seed = seed();
    eprintln!("crash_safety (batches) seed: {seed} (replay with VM_CRASH_SEED={seed})");
    let mut rng = Rng::new(seed ^ 0xBA7C);
    // The template makes every `bad-*` host's fragment one Ansible refuses.
    let project = Project::new().refusing_hosts_where(r#"host is starting_with(pat="bad-")"#);
    let mut files = BTreeMap::new();
    for i in 0..1000 {
        let name = format!("vm-{i:05}");
        write_fragment(&project, &mut files, &name, &fragment_text(&name, i, 0));
    }
    let span = merge_to_completion(&project).as_micros() as usize * 2;
    let reader = Reader::start(&project.inventory_ini());
    let mut told_merged = Vec::new();
    let mut kills = 0;
    for round in 0..6 {
        let names: Vec<String> = (0..12)
            .map(|k| {
                if k % 6 == 5 {
                    format!("bad-{round}-{k}")
                } else {
                    format!("ok-{round}-{k}")
                }
            })
            .collect();
        let mut children: Vec<(String, std::process::Child)> = names
            .iter()
            .enumerate()
            .map(|(k, name)| {
                let address = format!("10.7.{round}.{}", k + 1);
                let args = [
                    "-q",
                    "inventory",
                    "add",
                    name,
                    &address,
                    "--validate",
                    "internal",
                ];
                (name.clone(), project.spawn(&args))
            })
            .collect();
        std::thread::sleep(Duration::from_micros(rng.below(span + 1) as u64));
        for (_, child) in children.iter_mut() {
            if rng.below(3) == 0 {
                child.kill().ok();
                kills += 1;
            }
        }
        for (name, mut child) in children {
            let status = child.wait().expect("reap an add");
            match status.code() {
                Some(0) => {
                    assert!(name.starts_with("ok-"), "round {round}: {name} was merged");
                    told_merged.push(name);
                }
                Some(3) => assert!(name.starts_with("bad-"), "round {round}: {name} refused"),
                None => {} // killed
                Some(code) => panic!("round {round} (seed {seed}): {name} exited {code}"),
            }
        }
    }
    // One more writer leads for whatever the killed ones left staged or half-done.
    project
        .run(&[
            "-q",
            "inventory",
            "add",
            "last",
            "10.7.9.9",
            "--validate",
            "internal",
        ])
        .success();
    std::thread::sleep(Duration::from_millis(50));
    let (reads, _) = reader.finish();
    eprintln!("crash_safety (batches): {kills} writers killed, {reads} whole reads");

    let merged = String::from_utf8(project.read("ansible/inventory.ini").unwrap()).unwrap();
    for name in &told_merged {
        assert!(
            merged.contains(&format!("\n{name} ansible_host=")),
            "seed {seed}: {name} was told it is merged but inventory.ini lacks it"
        );
    }
    let on_disk = snapshot(&project.inventory_d());
    for (file, entry) in &on_disk {
        assert!(
            !file.starts_with("bad-"),
            "seed {seed}: refused {file} left"
        );
        let Entry::File(Ok(bytes)) = entry else {
            panic!("seed {seed}: {file} is not a readable file");
        };
        let text = String::from_utf8_lossy(bytes);
        assert!(
            text.starts_with("# vm-managed: ") && text.ends_with('\n'),
            "seed {seed}: {file} is not whole:\n{text}"
        );
    }
    // Nothing staged is left, and inventory.ini means what the fragments mean.
    assert!(!project.root().join("ansible/.pending").exists());
    let before = project.read("ansible/inventory.ini").unwrap();
    project.run(&["-q", "inventory", "merge"]).success();
    assert_eq!(project.read("ansible/inventory.ini").unwrap(), before);
}
