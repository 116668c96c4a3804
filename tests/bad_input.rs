//! Bad input is refused before anything is touched: every refusal has its exit code and a
//! message that says what is wrong, where, and what to do, and leaves the project exactly as it
//! was (no fragment written or deleted, `inventory.ini` byte-identical, no temp file).
//!
//! Tests run as root in CI, where `chmod 000` does not stop reads: the unreadable-fragment test
//! then runs `vm` without the capabilities that bypass file permissions (`setpriv`), and a
//! dangling symlink and a symlink loop stand in as fragments no one can read. A read-only folder
//! is `chmod a-w` where that binds, else `chattr +i`, else a read-only bind mount (both of which
//! also bind root), proven by a file that cannot be created. None of them passes without
//! testing: where no way works, the test fails and says why.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::tree::{Entry, changed};
use common::{Project, Run};

/// A project with one host added and merged, so `inventory.ini` and the lock file exist.
fn merged_project() -> Project {
    let project = Project::new();
    project
        .run(&["inventory", "add", "base", "10.0.0.1", "--group", "web"])
        .success();
    assert!(project.inventory_ini().exists());
    project
}

/// Runs `args`, expects exit `code` and every word of `words` in stderr (case-insensitive), and
/// proves the project did not change.
fn assert_refused(project: &Project, args: &[&str], code: i32, words: &[&str]) -> Run {
    let before = project.snapshot();
    let run = project.run(args);
    assert_refused_run(project, &before, &run, code, words);
    run
}

fn assert_refused_run(
    project: &Project,
    before: &BTreeMap<String, Entry>,
    run: &Run,
    code: i32,
    words: &[&str],
) {
    run.code(code);
    let after = project.snapshot();
    if after != *before {
        panic!(
            "a refused command changed the project: {:?}\n{}",
            changed(before, &after),
            run.describe()
        );
    }
    let stderr = run.stderr.to_lowercase();
    for word in words {
        assert!(
            stderr.contains(&word.to_lowercase()),
            "the message lacks {word:?} (exit code and no side effect are right)\n{}",
            run.describe()
        );
    }
}

/// Where [`assert_each_refused`] puts each value in the arguments.
const VALUE: &str = "<value>";

/// Every `(value, why)` of `cases`, put in `args` at [`VALUE`], is refused with exit 2 and no
/// side effect, with the value quoted, `why` and each of `words` in the message.
fn assert_each_refused(project: &Project, args: &[&str], cases: &[(&str, &str)], words: &[&str]) {
    for (value, why) in cases {
        let args: Vec<&str> = args
            .iter()
            .map(|&arg| if arg == VALUE { *value } else { arg })
            .collect();
        let quoted = format!("{value:?}");
        let mut expected = vec![quoted.as_str(), why];
        expected.extend_from_slice(words);
        assert_refused(project, &args, 2, &expected);
    }
}

#[test]
fn add_refuses_hostile_names_with_exit_2_and_changes_nothing() {
    let project = merged_project();
    let long = "a".repeat(64);
    let cases: &[(&str, &str)] = &[
        ("../x", "'..'"),
        ("a/b", "'/'"),
        ("-rf", "start with a letter or digit"),
        (".hidden", "start with a letter or digit"),
        (&long, "longer than 63"),
        ("", "empty"),
        ("a b", "white space"),
        ("all", "reserved"),
        ("localhost", "reserved"),
        ("wëb", "character other than"),
        ("web\u{1F600}", "character other than"),
        ("x-", "end with a letter or digit"),
        ("a;b", "character other than"),
    ];
    assert_each_refused(
        &project,
        &["inventory", "add", "--", VALUE, "10.0.0.2"],
        cases,
        &["invalid name", "use 1 to 63 letters"],
    );
}

#[test]
fn a_name_that_looks_like_a_flag_is_a_usage_error_without_double_dash() {
    let project = merged_project();
    assert_refused(
        &project,
        &["inventory", "add", "-rf", "10.0.0.2"],
        2,
        &["unexpected argument", "--"],
    );
}

#[test]
fn remove_refuses_hostile_names_with_exit_2_and_changes_nothing() {
    let project = merged_project();
    for name in ["../base", "a/b", "", ".hidden", "all"] {
        assert_refused(
            &project,
            &["inventory", "remove", "--", name],
            2,
            &["invalid name", &format!("{name:?}")],
        );
    }
}

#[test]
fn add_refuses_bad_addresses_and_ports_with_exit_2_and_changes_nothing() {
    let project = merged_project();
    let cases = [
        ("10.0.0.1:0", "from 1 to 65535"),
        ("10.0.0.1:70000", "from 1 to 65535"),
        (":70000", "from 1 to 65535"),
        ("10.0.0.1:ssh", "from 1 to 65535"),
        ("a b", "not an ip address or a dns host name"),
        ("", "not an ip address"),
        ("-x", "not an ip address"),
        ("[10.0.0.1]:22", "only an ipv6 address goes in brackets"),
    ];
    assert_each_refused(
        &project,
        &["inventory", "add", "h", "--", VALUE],
        &cases,
        &["invalid address", "10.0.0.5:2222"],
    );
}

#[test]
fn add_refuses_bad_groups_with_exit_2_and_changes_nothing() {
    let project = merged_project();
    let cases = [
        ("1abc", "not a valid ansible group name"),
        ("a-b", "not a valid ansible group name"),
        ("a b", "not a valid ansible group name"),
        ("", "not a valid ansible group name"),
        ("all", "built into ansible"),
        ("ungrouped", "built into ansible"),
        ("h", "host's own name"),
    ];
    assert_each_refused(
        &project,
        &[
            "inventory",
            "add",
            "h",
            "10.0.0.2",
            "--group",
            "web",
            "--group",
            VALUE,
        ],
        &cases,
        &["invalid group", "use letters, digits and '_'"],
    );
}

#[test]
fn add_refuses_bad_vars_and_users_with_exit_2_and_changes_nothing() {
    let project = merged_project();
    let cases = [
        ("novalue", "key=value"),
        ("=x", "not a valid variable name"),
        ("1x=2", "not a valid variable name"),
        ("a-b=2", "not a valid variable name"),
        ("a b=2", "not a valid variable name"),
        ("ansible_host=x", "its own argument"),
        ("ansible_port=2222", "its own argument"),
        ("ansible_user=root", "its own argument"),
    ];
    assert_each_refused(
        &project,
        &[
            "inventory",
            "add",
            "h",
            "10.0.0.2",
            "--var",
            "ok=1",
            "--var",
            VALUE,
        ],
        &cases,
        &["invalid variable"],
    );
    for user in ["", "a b", "root\n"] {
        assert_refused(
            &project,
            &["inventory", "add", "h", "10.0.0.2", "--user", user],
            2,
            &["user", "must not be empty or contain spaces"],
        );
    }
}

#[test]
fn add_with_an_invalid_existing_fragment_exits_3_and_writes_no_fragment() {
    let project = merged_project().fragment("bad.ini", "[web]\nweb-9 ansible_host\n");
    let run = assert_refused(
        &project,
        &["inventory", "add", "new", "10.0.0.2"],
        3,
        &[
            "inventory.d/bad.ini:2",
            "expected key=value host variable assignment",
            "inventory.ini left unchanged",
        ],
    );
    assert!(!run.stderr.contains("new.ini"), "{}", run.describe());
}

#[test]
fn merge_refuses_a_fragment_that_is_a_dangling_symlink_and_names_it() {
    let project = merged_project().fragment("ok.ini", "[db]\ndb-1\n");
    std::os::unix::fs::symlink(
        "/nonexistent/shared/x.ini",
        project.inventory_d().join("x.ini"),
    )
    .unwrap();
    assert_refused(
        &project,
        &["inventory", "merge"],
        3,
        &[
            "inventory.d/x.ini",
            "cannot read",
            "no such file",
            "left unchanged",
        ],
    );
}

#[test]
fn merge_refuses_a_fragment_that_is_a_symlink_loop_and_names_it() {
    let project = merged_project();
    std::os::unix::fs::symlink("loop.ini", project.inventory_d().join("loop.ini")).unwrap();
    assert_refused(
        &project,
        &["inventory", "merge"],
        3,
        &["inventory.d/loop.ini", "cannot read", "left unchanged"],
    );
}

#[test]
fn merge_refuses_a_fragment_without_read_permission_and_names_it() {
    let project = merged_project().fragment("secret.ini", "[db]\ndb-1\n");
    let path = project.inventory_d().join("secret.ini");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).unwrap();
    // As root (CI), permissions do not stop reads: vm runs without the capabilities that bypass
    // them. Where even that cannot make the file unreadable, the test fails: it cannot test.
    const WITHOUT_DAC: &[&str] = &[
        "setpriv",
        "--bounding-set",
        "-dac_override,-dac_read_search",
    ];
    let wrapper: &[&str] = if fs::read(&path).is_ok() {
        let probe = Command::new(WITHOUT_DAC[0])
            .args(&WITHOUT_DAC[1..])
            .arg("cat")
            .arg(&path)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "running as root, where chmod 000 does not stop reads, this test runs vm \
                     under `setpriv` (util-linux) without CAP_DAC_OVERRIDE, but setpriv cannot \
                     be started: {e}"
                )
            });
        let stderr = String::from_utf8_lossy(&probe.stderr);
        assert!(
            !probe.status.success() && stderr.contains("Permission denied"),
            "running as root, where chmod 000 does not stop reads, this test needs `{} cat` to \
             be refused a chmod 000 file, but it exited {:?} saying {stderr:?}: no way to make a \
             fragment unreadable here",
            WITHOUT_DAC.join(" "),
            probe.status.code()
        );
        WITHOUT_DAC
    } else {
        &[]
    };
    let before = project.snapshot();
    let run = project.run_under(wrapper, &["inventory", "merge"]);
    assert_refused_run(
        &project,
        &before,
        &run,
        3,
        &[
            "inventory.d/secret.ini",
            "cannot read",
            "permission denied",
            "left unchanged",
        ],
    );
}

#[test]
fn merge_refuses_a_non_utf8_fragment_with_exit_3_naming_it() {
    let project = merged_project().fragment_bytes("latin1.ini", b"[web]\nweb-2 owner=Jos\xe9\n");
    assert_refused(
        &project,
        &["inventory", "merge"],
        3,
        &[
            "inventory.d/latin1.ini:2",
            "not utf-8",
            "save",
            "left unchanged",
        ],
    );
}

/// A fragment encrypted with `ansible-vault encrypt` (format 1.1), from the corpus, where
/// `tests/ansible_parity.rs` proves the real ansible-core refuses a folder holding it.
fn vault_encrypted_fragment() -> Vec<u8> {
    let path = common::corpus_dir().join("err-vault-encrypted-fragment/inventory.d/secret.ini");
    fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

const VAULT_REFUSAL: &str = "ansible-vault encrypted fragments cannot be merged; put secrets in \
     vault-encrypted group_vars/ or host_vars/ files (or `!vault` values there) and keep the \
     fragment plain";

#[test]
fn merge_refuses_an_ansible_vault_encrypted_fragment_with_exit_3_naming_it_and_where_secrets_go() {
    let project = merged_project().fragment_bytes("secret.ini", &vault_encrypted_fragment());
    assert_refused(
        &project,
        &["inventory", "merge"],
        3,
        &[
            &format!("inventory.d/secret.ini: {VAULT_REFUSAL}"),
            "inventory.ini left unchanged",
        ],
    );
}

#[test]
fn check_reports_an_ansible_vault_encrypted_fragment_as_invalid() {
    let project = merged_project().fragment_bytes("secret.ini", &vault_encrypted_fragment());
    let before = project.snapshot();
    let run = project.run(&["inventory", "check"]);
    run.code(4).stdout_contains(&format!(
        "invalid: {}: {VAULT_REFUSAL}",
        project.inventory_d().join("secret.ini").display()
    ));
    let json = project.run(&["--json", "inventory", "check"]);
    let problems = json.code(4).json()["problems"].clone();
    assert_eq!(
        problems,
        serde_json::json!([{
            "kind": "invalid",
            "path": project.inventory_d().join("secret.ini"),
            "line": null,
            "message": VAULT_REFUSAL,
        }]),
        "{}",
        json.describe()
    );
    assert_eq!(project.snapshot(), before, "check changed the project");
}

#[test]
fn merge_without_an_ansible_folder_exits_1_says_what_to_do_and_creates_nothing() {
    let project = Project::new();
    fs::remove_dir_all(project.root().join("ansible")).unwrap();
    assert_refused(
        &project,
        &["inventory", "merge"],
        1,
        &["ansible/", "vm inventory add"],
    );
    assert!(!project.root().join("ansible").exists());
}

#[test]
fn add_without_an_ansible_folder_creates_it_and_merges() {
    let project = Project::new();
    fs::remove_dir_all(project.root().join("ansible")).unwrap();
    project
        .run(&["inventory", "add", "web-1", "10.0.0.1"])
        .success();
    assert!(project.inventory_d().join("web-1.ini").is_file());
    let merged = String::from_utf8(project.read("ansible/inventory.ini").unwrap()).unwrap();
    assert!(merged.contains("web-1 ansible_host=10.0.0.1"), "{merged}");
}

/// Makes folders read-only until dropped, and proves it by failing to create a file in each:
/// `chmod a-w` where that binds (not root), else `chattr +i`, else a read-only bind mount (both
/// of which also bind root, as CI runs).
struct ReadOnly {
    undo: Vec<Vec<String>>,
}

impl ReadOnly {
    /// The folders made read-only, or every way tried and why it did not work.
    fn make(dirs: &[PathBuf]) -> Result<ReadOnly, String> {
        let paths: Vec<&str> = dirs
            .iter()
            .map(|d| d.to_str().expect("UTF-8 path"))
            .collect();
        let each = |make: &[&'static str], undo: &[&'static str]| -> Vec<Step> {
            paths
                .iter()
                .map(|dir| Step::new([make, &[dir]].concat(), Some([undo, &[dir]].concat())))
                .collect()
        };
        let ways = [
            each(&["chmod", "a-w"], &["chmod", "u+w"]),
            each(&["chattr", "+i"], &["chattr", "-i"]),
            // Only the outermost folder is bind-mounted: the mount covers what is inside it.
            vec![
                Step::new(
                    vec!["mount", "--bind", paths[0], paths[0]],
                    Some(vec!["umount", paths[0]]),
                ),
                Step::new(vec!["mount", "-o", "remount,bind,ro", paths[0]], None),
            ],
        ];
        let mut tried = Vec::new();
        for steps in ways {
            // Dropped, the guard undoes what was done when this way fails.
            let mut guard = ReadOnly { undo: Vec::new() };
            let made = steps.iter().try_for_each(|step| {
                run_command(&step.make)?;
                guard.undo.extend(step.undo.clone());
                Ok(())
            });
            match made.and_then(|()| dirs.iter().try_for_each(|dir| refuses_new_files(dir))) {
                Ok(()) => return Ok(guard),
                Err(why) => tried.push(format!("{}: {why}", steps[0].make[0])),
            }
        }
        Err(tried.join("; "))
    }
}

/// One command of a way to make folders read-only, and the command that undoes it.
struct Step {
    make: Vec<String>,
    undo: Option<Vec<String>>,
}

impl Step {
    fn new(make: Vec<&str>, undo: Option<Vec<&str>>) -> Step {
        let owned = |args: Vec<&str>| args.into_iter().map(str::to_string).collect();
        Step {
            make: owned(make),
            undo: undo.map(owned),
        }
    }
}

/// `Ok` when no file can be created in `dir`.
fn refuses_new_files(dir: &Path) -> Result<(), String> {
    let probe = dir.join(".read-only-probe");
    match fs::write(&probe, "") {
        Ok(()) => {
            fs::remove_file(&probe).expect("remove the probe file");
            Err(format!("{} still takes new files", dir.display()))
        }
        Err(_) => Ok(()),
    }
}

/// Runs a command; `Err` says what failed.
fn run_command(args: &[String]) -> Result<(), String> {
    let output = Command::new(&args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", args[0]))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        for args in self.undo.iter().rev() {
            if let Err(why) = run_command(args) {
                eprintln!("could not undo a read-only folder: {why}");
            }
        }
    }
}

/// A merged project with a pending change in `ansible/inventory.d`, whose `ansible/` and
/// `ansible/inventory.d/` are then made read-only. Fails, with every way tried, where no folder
/// can be made read-only: such a run proves nothing about read-only folders.
fn read_only_project() -> (Project, ReadOnly) {
    let project = merged_project().fragment("db.ini", "[db]\ndb-1 ansible_host=10.0.0.9\n");
    match ReadOnly::make(&[project.root().join("ansible"), project.inventory_d()]) {
        Ok(guard) => (project, guard),
        Err(why) => panic!(
            "cannot make a folder read-only here, so this test cannot test: {why}. As root it \
             needs a file system that takes `chattr +i` or CAP_SYS_ADMIN for a read-only bind \
             mount"
        ),
    }
}

#[test]
fn merge_in_a_read_only_ansible_folder_exits_1_with_a_clear_error_and_changes_nothing() {
    let (project, _guard) = read_only_project();
    assert_refused(
        &project,
        &["inventory", "merge"],
        1,
        &["ansible/", "writable"],
    );
}

#[test]
fn add_in_a_read_only_ansible_folder_exits_1_with_a_clear_error_and_changes_nothing() {
    let (project, _guard) = read_only_project();
    assert_refused(
        &project,
        &["inventory", "add", "new", "10.0.0.2"],
        1,
        &["inventory.d/new.ini", "writable"],
    );
}

#[test]
fn remove_in_a_read_only_ansible_folder_exits_1_with_a_clear_error_and_changes_nothing() {
    let (project, _guard) = read_only_project();
    assert_refused(
        &project,
        &["inventory", "remove", "base"],
        1,
        &["inventory.d/base.ini", "writable"],
    );
}

#[test]
fn add_and_remove_refuse_a_hand_written_fragment_named_like_the_host() {
    let hand = "[web]\nhand ansible_host=192.0.2.7\n";
    let project = merged_project().fragment("hand.ini", hand);
    project.run(&["inventory", "merge"]).success();
    assert_refused(
        &project,
        &["inventory", "add", "hand", "10.0.0.5"],
        1,
        &[
            "inventory.d/hand.ini",
            "not written by vm",
            "edit or delete it yourself",
        ],
    );
    assert_refused(
        &project,
        &["inventory", "remove", "hand"],
        1,
        &[
            "inventory.d/hand.ini",
            "not written by vm",
            "edit or delete it yourself",
        ],
    );
    assert_eq!(
        project.read("ansible/inventory.d/hand.ini").unwrap(),
        hand.as_bytes()
    );
}

#[test]
fn remove_of_an_unknown_host_exits_1_and_points_to_the_list() {
    let project = merged_project();
    assert_refused(
        &project,
        &["inventory", "remove", "ghost"],
        1,
        &["ghost", "inventory.d/ghost.ini", "vm inventory list"],
    );
}
