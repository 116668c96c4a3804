//! The Terraform backend with the real `terraform` binary and test modules built only from the
//! built-in `terraform_data` resource (no provider can be downloaded here).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Project;

/// The inputs the module contract gives every module; [`module`] starts each test module with
/// them.
const INPUTS: &str = r#"
variable "vm_name" { type = string }
variable "memory" { type = number }
variable "vcpus" { type = number }
"#;

/// A module honouring the contract: the inputs; an address per VM.
const BASIC: &str = r#"
variable "flavour" {
  type    = string
  default = "plain"
}
resource "terraform_data" "vm" {
  input = { name = var.vm_name, memory = var.memory, vcpus = var.vcpus, flavour = var.flavour }
}
output "vm_ip" { value = "10.9.${parseint(substr(md5(var.vm_name), 0, 2), 16)}.${parseint(substr(md5(var.vm_name), 2, 2), 16)}" }
output "ansible_user" { value = "tfuser" }
output "flavour" { value = terraform_data.vm.output.flavour }
"#;

/// A module whose precondition fails.
const FAILING: &str = r#"
resource "terraform_data" "vm" {
  input = var.vm_name
  lifecycle {
    precondition {
      condition     = var.memory >= 1000000
      error_message = "This module needs at least 1000000 MiB."
    }
  }
}
output "vm_ip" { value = "10.9.0.1" }
"#;

/// A module whose address appears only once a file exists (as a DHCP lease would, later).
const SLOW: &str = r#"
resource "terraform_data" "vm" {
  input = var.vm_name
}
locals {
  lease = "${path.module}/lease-${var.vm_name}"
}
output "vm_ip" { value = fileexists(local.lease) ? trimspace(file(local.lease)) : "" }
"#;

/// Writes the module `<project>/<name>/main.tf`: the contract's [`INPUTS`], then `body`.
fn module(project: &Project, name: &str, body: &str) -> PathBuf {
    project.write(&format!("{name}/main.tf"), &format!("{INPUTS}{body}"));
    project.root().join(name)
}

/// A project with the test module `tf/` made of `body`: the project, the module's folder, and
/// that folder as `--terraform-dir` takes it.
fn project_with_module(body: &str) -> (Project, PathBuf, String) {
    let project = Project::new();
    let dir = module(&project, "tf", body);
    let dir_text = dir.display().to_string();
    (project, dir, dir_text)
}

fn provision<'a>(name: &'a str, dir: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "provision",
        name,
        "512",
        "1",
        "--backend",
        "terraform",
        "--terraform-dir",
        dir,
        "--no-wait",
        "--validate",
        "internal",
    ];
    args.extend_from_slice(extra);
    args
}

fn workspaces(dir: &Path) -> Vec<String> {
    let output = Command::new("terraform")
        .arg(format!("-chdir={}", dir.display()))
        .args(["workspace", "list"])
        .env_remove("TF_WORKSPACE")
        .output()
        .expect("run terraform");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| l.trim_start_matches('*').trim().to_string())
        .filter(|w| !w.is_empty() && w != "default")
        .collect()
}

fn read(project: &Project, path: &str) -> String {
    String::from_utf8(project.read(path).unwrap_or_default()).unwrap()
}

#[test]
fn provision_makes_a_workspace_and_destroy_removes_it_without_asking_for_variables() {
    let (project, dir, dir_text) = project_with_module(BASIC);
    project
        .run(&provision(
            "tf-web",
            &dir_text,
            &["--group", "web", "--tf-var", "flavour=large"],
        ))
        .success();
    assert_eq!(workspaces(&dir), ["tf-web"]);
    let fragment = read(&project, "ansible/inventory.d/tf-web.ini");
    assert!(
        fragment.starts_with(&format!(
            "# vm-managed: backend=terraform connection={dir_text}"
        )),
        "{fragment}"
    );
    assert!(fragment.contains("ansible_host=10.9.") && fragment.contains("ansible_user=tfuser"));
    assert!(read(&project, "ansible/inventory.ini").contains("[web]\ntf-web "));
    let vars = project.root().join(".vm/terraform/tf-web.tfvars.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&vars).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        std::fs::read_to_string(&vars)
            .unwrap()
            .contains("\"flavour\":\"large\"")
    );

    let row = project
        .run(&["--json", "list"])
        .success()
        .json_row("tf-web");
    assert_eq!(row["memory_mib"], 512);
    assert_eq!(row["fragment"], "current");

    project.run(&["destroy", "tf-web", "--yes"]).success();
    assert_eq!(workspaces(&dir), Vec::<String>::new());
    assert!(project.read("ansible/inventory.d/tf-web.ini").is_none());
    assert!(!read(&project, "ansible/inventory.ini").contains("tf-web"));
    assert!(!vars.exists());
}

#[test]
fn four_parallel_provisions_make_four_workspaces_with_one_init() {
    let (project, dir, dir_text) = project_with_module(BASIC);
    let names = ["tf-a", "tf-b", "tf-c", "tf-d"];
    std::thread::scope(|scope| {
        let runs: Vec<_> = names
            .iter()
            .map(|name| {
                let (project, dir_text) = (&project, &dir_text);
                scope.spawn(move || project.run(&provision(name, dir_text, &[])))
            })
            .collect();
        for run in runs {
            run.join().unwrap().success();
        }
    });
    let mut found = workspaces(&dir);
    found.sort();
    assert_eq!(found, names);
    let log = std::fs::read_to_string(project.root().join(".vm/terraform/terraform.log")).unwrap();
    assert_eq!(
        log.matches(" init -input=false").count(),
        1,
        "init ran more than once"
    );
    let inventory = read(&project, "ansible/inventory.ini");
    for name in names {
        assert!(
            inventory.contains(&format!("\n{name} ansible_host=10.9.")),
            "{inventory}"
        );
    }
    project.run(&["inventory", "check"]).success();
}

#[test]
fn a_failing_module_leaves_nothing_behind_and_says_why() {
    let (project, dir, dir_text) = project_with_module(FAILING);
    project
        .run(&provision("tf-bad", &dir_text, &[]))
        .code(1)
        .stderr_contains("This module needs at least 1000000 MiB")
        .stderr_contains("terraform.log");
    assert_eq!(workspaces(&dir), Vec::<String>::new());
    assert!(project.read("ansible/inventory.d/tf-bad.ini").is_none());
    assert!(
        !project
            .root()
            .join(".vm/terraform/tf-bad.tfvars.json")
            .exists()
    );
}

#[test]
fn an_address_that_appears_later_is_waited_for_and_one_that_never_does_times_out() {
    let (project, dir, dir_text) = project_with_module(SLOW);
    let lease = dir.join("lease-tf-slow");
    let writer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(3));
        std::fs::write(lease, "10.9.8.7\n").unwrap();
    });
    project
        .run(&provision("tf-slow", &dir_text, &["--timeout", "60"]))
        .success();
    writer.join().unwrap();
    assert!(read(&project, "ansible/inventory.ini").contains("tf-slow ansible_host=10.9.8.7"));

    project
        .run(&provision("tf-never", &dir_text, &["--timeout", "3"]))
        .code(5)
        .stderr_contains("timed out")
        .stderr_contains("vm_ip");
    assert_eq!(workspaces(&dir), ["tf-slow"]);
    assert!(project.read("ansible/inventory.d/tf-never.ini").is_none());
}

#[test]
fn missing_terraform_or_module_is_refused_before_anything_runs() {
    let project = Project::new();
    let empty = project.root().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let empty_text = empty.display().to_string();
    project
        .run(&provision("tf-x", &empty_text, &[]))
        .code(1)
        .stderr_contains("no Terraform module");
    let dir = module(&project, "tf", BASIC);
    let dir_text = dir.display().to_string();
    project
        .run(&provision(
            "tf-x",
            &dir_text,
            &["--terraform-bin", "/nonexistent/terraform"],
        ))
        .code(1)
        .stderr_contains("not found");
    assert!(!dir.join(".terraform").exists() && !dir.join("terraform.tfstate.d").exists());
    assert!(project.read("ansible/inventory.d/tf-x.ini").is_none());
}

#[test]
fn a_workspace_deleted_behind_the_tools_back_is_an_orphan_that_prune_removes() {
    let (project, _, dir_text) = project_with_module(BASIC);
    project.run(&provision("tf-gone", &dir_text, &[])).success();
    let status = Command::new("terraform")
        .arg(format!("-chdir={dir_text}"))
        .args(["workspace", "delete", "-force", "tf-gone"])
        .env_remove("TF_WORKSPACE")
        .output()
        .unwrap();
    assert!(status.status.success());
    project
        .run(&["inventory", "check"])
        .code(4)
        .stdout_contains("orphan:")
        .stdout_contains("tf-gone.ini");
    project.run(&["inventory", "prune"]).success();
    assert!(project.read("ansible/inventory.d/tf-gone.ini").is_none());
    // The other way round: a workspace whose fragment was deleted by hand.
    project.run(&provision("tf-lost", &dir_text, &[])).success();
    std::fs::remove_file(project.root().join("ansible/inventory.d/tf-lost.ini")).unwrap();
    project.write(
        "vm.toml",
        &format!("backend = \"terraform\"\nterraform_dir = {dir_text:?}\n"),
    );
    project
        .run(&["inventory", "check"])
        .code(4)
        .stdout_contains("no fragment: VM tf-lost");
}

#[test]
fn destroy_keeps_the_fragment_gone_when_another_fragment_makes_the_merge_refuse() {
    let (project, dir, dir_text) = project_with_module(BASIC);
    project
        .run(&provision("tf-gone", &dir_text, &["--group", "web"]))
        .success();
    let before = project.read("ansible/inventory.ini").unwrap();
    project.write(
        "ansible/inventory.d/broken.ini",
        "[broken:vars]\nnot a variable line\n",
    );
    project
        .run(&["destroy", "tf-gone", "--yes"])
        .code(3)
        .stderr_contains("tf-gone's fragment is removed but inventory.ini was not rebuilt");
    // The VM is gone, so is its fragment (the merge's refusal does not bring it back), and
    // inventory.ini stays what it was until the broken fragment is fixed.
    assert_eq!(workspaces(&dir), Vec::<String>::new());
    assert!(project.read("ansible/inventory.d/tf-gone.ini").is_none());
    assert_eq!(project.read("ansible/inventory.ini").unwrap(), before);
    assert!(!project.root().join("ansible/.pending").exists());
    std::fs::remove_file(project.root().join("ansible/inventory.d/broken.ini")).unwrap();
    project.run(&["inventory", "merge"]).success();
    assert!(!read(&project, "ansible/inventory.ini").contains("tf-gone"));
}
