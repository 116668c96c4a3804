//! `--validate`: the real `ansible-inventory` as a second opinion before the rename, chosen by
//! flag or by `vm.toml`, and what happens when it refuses.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::{Project, ansible_bin};

const OLD: &str = "# old inventory\n[old]\nold-host\n";

fn fragments() -> Project {
    Project::new()
        .fragment("web.ini", "[web]\nweb-1 ansible_host=10.0.0.5 x='1'\n")
        .fragment("db.ini", "[db]\ndb-1:2222 y=True\n[all:vars]\nz=1e3\n")
}

/// A stand-in `ansible-inventory` that refuses everything, as Ansible does an unparsable file.
fn refusing_ansible(project: &Project) -> String {
    let path = project.root().join("refuse-ansible-inventory");
    fs::write(
        &path,
        "#!/bin/sh\necho 'ERROR! stand-in refusal' >&2\nexit 1\n",
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

#[test]
fn merge_with_validate_ansible_passes_when_ansible_reads_what_vm_read() {
    let real = ansible_bin().join("ansible-inventory");
    let project = fragments().file(
        "vm.toml",
        &format!("ansible_inventory = {:?}\n", real.display().to_string()),
    );
    project
        .run(&["inventory", "merge", "--validate", "ansible"])
        .success();
    let merged = String::from_utf8(project.read("ansible/inventory.ini").unwrap()).unwrap();
    assert!(merged.contains("web-1 ansible_host=10.0.0.5"), "{merged}");
}

#[test]
fn auto_validation_uses_the_configured_ansible_and_keeps_the_old_inventory_when_it_refuses() {
    let project = fragments().file("ansible/inventory.ini", OLD);
    let fake = refusing_ansible(&project);
    project.write("vm.toml", &format!("ansible_inventory = {fake:?}\n"));
    project
        .run(&["inventory", "merge"])
        .code(3)
        .stderr_contains("ansible-inventory refused the merged inventory")
        .stderr_contains("stand-in refusal");
    assert_eq!(
        project.read("ansible/inventory.ini").unwrap(),
        OLD.as_bytes()
    );
    assert_eq!(project.temp_files(), Vec::<String>::new());
}

#[test]
fn validate_internal_in_vm_toml_skips_ansible_and_the_flag_overrides_it_even_when_unchanged() {
    let project = fragments();
    let fake = refusing_ansible(&project);
    project.write(
        "vm.toml",
        &format!("ansible_inventory = {fake:?}\nvalidate = \"internal\"\n"),
    );
    project.run(&["inventory", "merge"]).success();
    let merged = project.read("ansible/inventory.ini").unwrap();
    project
        .run(&["inventory", "merge", "--validate", "ansible"])
        .code(3)
        .stderr_contains("stand-in refusal");
    assert_eq!(project.read("ansible/inventory.ini").unwrap(), merged);
}

#[test]
fn an_unknown_key_in_vm_toml_is_refused_with_the_file_named() {
    let project = fragments().file("vm.toml", "validate = \"internal\"\nlock_timout = 5\n");
    project
        .run(&["inventory", "merge"])
        .code(1)
        .stderr_contains("vm.toml")
        .stderr_contains("lock_timout");
    assert!(project.read("ansible/inventory.ini").is_none());
}
