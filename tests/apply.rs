//! `vm apply` with the real `terraform` and `terraform_data` modules whose `local-exec` stamps
//! when each VM's creation started and ended, so stagger and parallelism are proven by
//! timestamps, not by timing the test.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::Project;

/// Stamps start and end (seconds since the epoch) of each VM's creation, which takes 2 s; a VM
/// asking for 999999 MiB fails its precondition.
const MODULE: &str = r#"
variable "vm_name" { type = string }
variable "memory" { type = number }
variable "vcpus" { type = number }
resource "terraform_data" "vm" {
  input = var.vm_name
  lifecycle {
    precondition {
      condition     = var.memory < 999999
      error_message = "This module cannot give 999999 MiB."
    }
  }
  provisioner "local-exec" {
    command = "date +%s.%N > '${path.module}/start-${var.vm_name}'; sleep 2; date +%s.%N > '${path.module}/end-${var.vm_name}'"
  }
}
output "vm_ip" { value = "10.9.0.${parseint(substr(md5(var.vm_name), 0, 2), 16)}" }
"#;

fn project() -> (Project, PathBuf) {
    let project = Project::new();
    let module = project.root().join("tf");
    std::fs::create_dir_all(&module).unwrap();
    std::fs::write(module.join("main.tf"), MODULE).unwrap();
    project.write(
        "vm.toml",
        &format!(
            "backend = \"terraform\"\nterraform_dir = {:?}\nvalidate = \"internal\"\n",
            module.display().to_string()
        ),
    );
    (project, module)
}

fn vms(project: &Project, text: &str) {
    project.write("vms.toml", text);
}

const THREE: &str = r#"
[defaults]
memory = 512
vcpus = 1
groups = ["lab"]

[vms.web01]
name = "web-server-01"
groups = ["web"]

[vms.web02]
name = "web-server-02"
groups = ["web"]

[vms.db01]
memory = 1024
vars = { role = "primary db" }
"#;

fn stamp(module: &Path, what: &str, name: &str) -> f64 {
    std::fs::read_to_string(module.join(format!("{what}-{name}")))
        .unwrap_or_else(|e| panic!("no {what} stamp for {name}: {e}"))
        .trim()
        .parse()
        .unwrap()
}

fn workspaces(module: &Path) -> Vec<String> {
    let dir = module.join("terraform.tfstate.d");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Every fragment and the merged inventory, byte for byte.
fn inventory_files(project: &Project) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(project.inventory_d()).unwrap().flatten() {
        files.insert(
            entry.file_name().to_string_lossy().into_owned(),
            std::fs::read(entry.path()).unwrap(),
        );
    }
    files.insert(
        "inventory.ini".into(),
        std::fs::read(project.inventory_ini()).unwrap(),
    );
    files
}

#[test]
fn a_dry_run_plans_and_makes_nothing() {
    let (project, module) = project();
    vms(&project, THREE);
    let plan = project.run(&["--json", "apply", "--dry-run"]);
    plan.success();
    let rows = plan.json_lines();
    let actions: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [
            ("db01", "create"),
            ("web-server-01", "create"),
            ("web-server-02", "create")
        ]
    );
    assert!(workspaces(&module).is_empty());
    assert_eq!(std::fs::read_dir(project.inventory_d()).unwrap().count(), 0);
}

#[test]
fn apply_makes_all_in_parallel_with_a_stagger_and_again_changes_nothing() {
    let (project, module) = project();
    vms(&project, THREE);
    let applied = project.run(&[
        "--json",
        "apply",
        "--parallel",
        "3",
        "--stagger",
        "0.7",
        "--no-wait",
    ]);
    applied.success();
    assert_eq!(
        workspaces(&module),
        ["db01", "web-server-01", "web-server-02"]
    );
    // Staggered: vm's own progress events (JSON lines) start each VM at least 0.7 s after the
    // previous one.
    applied.assert_staggered_starts(3, 0.69);
    let lines = applied.json_lines();
    // In parallel: the module's own stamps show each creation starting before the one started
    // before it ended (each takes 2 s).
    let mut stamps: Vec<(f64, f64)> = ["db01", "web-server-01", "web-server-02"]
        .iter()
        .map(|n| (stamp(&module, "start", n), stamp(&module, "end", n)))
        .collect();
    stamps.sort_by(|a, b| a.0.total_cmp(&b.0));
    for pair in stamps.windows(2) {
        assert!(pair[1].0 < pair[0].1, "not in parallel: {stamps:?}");
    }
    // The closing rows: one per VM, created.
    let outcomes: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["result"].is_string()).collect();
    assert_eq!(outcomes.len(), 3);
    assert!(
        outcomes
            .iter()
            .all(|o| o["action"] == "create" && o["result"] == "ok")
    );
    let inventory = String::from_utf8(std::fs::read(project.inventory_ini()).unwrap()).unwrap();
    assert!(inventory.contains("[web]\nweb-server-01 "), "{inventory}");
    assert!(
        inventory.contains("db01 ansible_host=10.9.0."),
        "{inventory}"
    );
    let fragment = String::from_utf8(
        project
            .read("ansible/inventory.d/web-server-01.ini")
            .unwrap(),
    )
    .unwrap();
    assert!(
        fragment.contains("apply_key=web01 apply_file=vms.toml"),
        "{fragment}"
    );

    let before = inventory_files(&project);
    let again = project.run(&["apply", "--no-wait"]);
    again.success().stderr_contains("nothing to do");
    assert_eq!(
        inventory_files(&project),
        before,
        "a re-apply changed files"
    );
    assert_eq!(workspaces(&module).len(), 3);
}

#[test]
fn a_removed_key_stays_without_prune_and_goes_with_it() {
    let (project, module) = project();
    vms(&project, THREE);
    project
        .run(&["apply", "--parallel", "3", "--no-wait"])
        .success();
    vms(
        &project,
        &THREE.replace(
            "[vms.web02]\nname = \"web-server-02\"\ngroups = [\"web\"]\n",
            "",
        ),
    );
    let plan = project.run(&["apply", "--dry-run"]);
    plan.success();
    let line = plan
        .stdout
        .lines()
        .find(|l| l.contains("web-server-02"))
        .unwrap();
    assert!(line.contains("keep"), "{}", plan.stdout);
    project.run(&["apply", "--no-wait"]).success();
    assert!(workspaces(&module).contains(&"web-server-02".to_string()));
    // --prune off a terminal needs --yes, and does nothing without it.
    project.run(&["apply", "--prune", "--no-wait"]).code(2);
    assert!(workspaces(&module).contains(&"web-server-02".to_string()));
    project
        .run(&["apply", "--prune", "--yes", "--no-wait"])
        .success()
        .stdout_contains("destroy");
    assert_eq!(workspaces(&module), ["db01", "web-server-01"]);
    assert!(
        project
            .read("ansible/inventory.d/web-server-02.ini")
            .is_none()
    );
}

#[test]
fn one_failing_vm_does_not_stop_the_others_and_is_rolled_back() {
    let (project, module) = project();
    vms(&project, &format!("{THREE}\n[vms.huge]\nmemory = 999999\n"));
    let run = project.run(&["apply", "--parallel", "2", "--no-wait"]);
    run.code(1)
        .stderr_contains("huge")
        .stderr_contains("This module cannot give 999999 MiB")
        .stderr_contains("1 of 4 VMs");
    assert_eq!(
        workspaces(&module),
        ["db01", "web-server-01", "web-server-02"]
    );
    assert!(project.read("ansible/inventory.d/huge.ini").is_none());
}

#[test]
fn changes_are_planned_as_updates_and_groups_and_vars_rewrite_the_fragment() {
    let (project, _module) = project();
    vms(&project, THREE);
    project
        .run(&["apply", "--parallel", "3", "--no-wait"])
        .success();
    let changed = THREE
        .replace("[vms.db01]\nmemory = 1024", "[vms.db01]\nmemory = 2048")
        .replace(
            "name = \"web-server-02\"\ngroups = [\"web\"]",
            "name = \"web-server-02\"\ngroups = [\"web\", \"edge\"]",
        );
    vms(&project, &changed);
    let plan = project.run(&["apply", "--dry-run"]);
    plan.success();
    let db = plan.stdout.lines().find(|l| l.contains("db01")).unwrap();
    assert!(
        db.contains("update") && db.contains("memory 1024 MiB -> 2048 MiB"),
        "{db}"
    );
    let web = plan
        .stdout
        .lines()
        .find(|l| l.contains("web-server-02"))
        .unwrap();
    assert!(
        web.contains("update") && web.contains("groups [web] -> [web, edge]"),
        "{web}"
    );
    let one = plan
        .stdout
        .lines()
        .find(|l| l.contains("web-server-01"))
        .unwrap();
    assert!(one.contains("no-op"), "{one}");
    project
        .run(&["apply", "--no-wait"])
        .success()
        .stdout_contains("update");
    // The module was applied again with the new size.
    let vars = String::from_utf8(project.read(".vm/terraform/db01.tfvars.json").unwrap()).unwrap();
    assert!(vars.contains("\"memory\":2048"), "{vars}");
    let plan = project.run(&["apply", "--dry-run"]);
    assert!(!plan.stdout.contains("update"), "{}", plan.stdout);
    let inventory = String::from_utf8(std::fs::read(project.inventory_ini()).unwrap()).unwrap();
    assert!(inventory.contains("[edge]\nweb-server-02"), "{inventory}");
    let fragment = String::from_utf8(
        project
            .read("ansible/inventory.d/web-server-02.ini")
            .unwrap(),
    )
    .unwrap();
    assert!(fragment.contains("StrictHostKeyChecking="), "{fragment}");
    assert!(fragment.contains("apply_key=web02"), "{fragment}");
}

#[test]
fn a_same_named_vm_this_file_did_not_make_is_a_conflict() {
    let (project, module) = project();
    project
        .run(&["inventory", "add", "db01", "10.1.1.1"])
        .success();
    vms(&project, THREE);
    project
        .run(&["apply", "--parallel", "3", "--no-wait"])
        .code(1)
        .stdout_contains("conflict")
        .stderr_contains("this file did not make it");
    // The others are made; the conflicting one is left alone.
    assert_eq!(workspaces(&module), ["web-server-01", "web-server-02"]);
    let fragment =
        String::from_utf8(project.read("ansible/inventory.d/db01.ini").unwrap()).unwrap();
    assert!(fragment.contains("backend=external"));
}

#[test]
fn destroy_all_removes_every_vm_the_file_made() {
    let (project, module) = project();
    vms(&project, THREE);
    project
        .run(&["apply", "--parallel", "3", "--no-wait"])
        .success();
    project
        .run(&["inventory", "add", "other", "10.1.1.2"])
        .success();
    project.run(&["destroy", "--all", "--yes"]).success();
    assert!(workspaces(&module).is_empty());
    let left: Vec<String> = std::fs::read_dir(project.inventory_d())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["other.ini"]);
}
