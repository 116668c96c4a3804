//! DNS records for VMs against a real BIND 9 started by the test (tests/common/bind.rs): RFC 2136
//! updates signed with TSIG, checked by real queries (`dig`). VMs come from the Terraform backend
//! (`terraform_data`, fast); their addresses are only written to DNS, never contacted.

mod common;

use std::path::PathBuf;

use common::Project;
use common::bind::Bind;

/// A module whose address is `ip` (default: one of 192.168.122.0/24 from the name).
const MODULE: &str = r#"
variable "vm_name" { type = string }
variable "memory" { type = number }
variable "vcpus" { type = number }
variable "ip" {
  type    = string
  default = ""
}
resource "terraform_data" "vm" { input = var.vm_name }
output "vm_ip" { value = var.ip != "" ? var.ip : "192.168.122.${10 + parseint(substr(md5(var.vm_name), 0, 2), 16) % 200}" }
"#;

fn project(bind: &Bind, dns_extra: &str, key: Option<PathBuf>) -> Project {
    let project = Project::new();
    let module = project.root().join("tf");
    std::fs::create_dir_all(&module).unwrap();
    std::fs::write(module.join("main.tf"), MODULE).unwrap();
    project.write(
        "vm.toml",
        &format!(
            "backend = \"terraform\"\nterraform_dir = {:?}\nvalidate = \"internal\"\n\n\
             [dns]\nserver = {:?}\nzone = \"home.lab\"\nkey_file = {:?}\nttl = 120\n{dns_extra}\n",
            module.display().to_string(),
            bind.server(),
            key.unwrap_or_else(|| bind.key_file()).display().to_string()
        ),
    );
    project
}

fn provision(project: &Project, name: &str, extra: &[&str]) -> common::Run {
    let mut args = vec!["provision", name, "512", "1", "--no-wait"];
    args.extend_from_slice(extra);
    project.run(&args)
}

fn fragment(project: &Project, name: &str) -> Option<String> {
    project
        .read(&format!("ansible/inventory.d/{name}.ini"))
        .map(|b| String::from_utf8(b).unwrap())
}

#[test]
fn provision_adds_the_record_and_destroy_removes_it() {
    let bind = Bind::start();
    let project = project(&bind, "", None);
    let made = provision(
        &project,
        "web01",
        &["--json", "--tf-var", "ip=192.168.122.21"],
    );
    made.success();
    assert_eq!(made.json()["dns"], "web01.home.lab");
    assert_eq!(bind.dig("web01.home.lab", "A"), "192.168.122.21");
    let text = fragment(&project, "web01").unwrap();
    assert!(
        text.lines()
            .next()
            .unwrap()
            .ends_with(" dns=web01.home.lab"),
        "{text}"
    );
    // ansible_host stays the address.
    assert!(text.contains("ansible_host=192.168.122.21"), "{text}");
    project.run(&["inventory", "check"]).success();
    project
        .run(&["destroy", "web01", "--yes"])
        .success()
        .stderr_contains("removed the DNS record web01.home.lab");
    assert_eq!(bind.dig("web01.home.lab", "A"), "");
}

#[test]
fn three_at_once_get_three_records_and_apply_of_three_too() {
    let bind = Bind::start();
    let project = project(&bind, "", None);
    std::thread::scope(|scope| {
        let runs: Vec<_> = ["par1", "par2", "par3"]
            .iter()
            .map(|name| {
                let project = &project;
                scope.spawn(move || provision(project, name, &[]))
            })
            .collect();
        for run in runs {
            run.join().unwrap().success();
        }
    });
    for name in ["par1", "par2", "par3"] {
        let answer = bind.dig(&format!("{name}.home.lab"), "A");
        assert!(answer.starts_with("192.168.122."), "{name}: {answer:?}");
    }
    project.write(
        "vms.toml",
        "[vms.app1]\n[vms.app2]\n[vms.app3]\ntf_vars = { ip = \"192.168.122.99\" }\n",
    );
    project
        .run(&["apply", "--parallel", "3", "--no-wait"])
        .success();
    for name in ["app1", "app2"] {
        assert!(
            bind.dig(&format!("{name}.home.lab"), "A")
                .starts_with("192.168.122.")
        );
    }
    assert_eq!(bind.dig("app3.home.lab", "A"), "192.168.122.99");
}

#[test]
fn a_stale_record_is_replaced_not_added_to() {
    let bind = Bind::start();
    bind.nsupdate("update add old.home.lab 300 A 192.168.122.200\nupdate add old.home.lab 300 AAAA 2001:db8::1");
    assert_eq!(bind.dig("old.home.lab", "A"), "192.168.122.200");
    let project = project(&bind, "", None);
    provision(&project, "old", &["--tf-var", "ip=192.168.122.30"]).success();
    assert_eq!(bind.dig("old.home.lab", "A"), "192.168.122.30");
    assert_eq!(
        bind.dig("old.home.lab", "AAAA"),
        "",
        "the old AAAA set stayed"
    );
}

#[test]
fn a_record_deleted_behind_vms_back_is_found_by_check_and_prune_removes_orphans_records() {
    let bind = Bind::start();
    let project = project(&bind, "", None);
    provision(&project, "lost", &["--tf-var", "ip=192.168.122.40"]).success();
    bind.nsupdate("update delete lost.home.lab A");
    project
        .run(&["inventory", "check"])
        .code(4)
        .stdout_contains("dns: lost.home.lab has no address record")
        .stdout_contains("192.168.122.40");
    // Pointing elsewhere is found too.
    bind.nsupdate("update add lost.home.lab 300 A 192.168.122.41");
    project
        .run(&["inventory", "check"])
        .code(4)
        .stdout_contains("dns: lost.home.lab answers 192.168.122.41");
    // The VM goes behind vm's back: prune removes its fragment and its record.
    provision(&project, "orphan", &["--tf-var", "ip=192.168.122.42"]).success();
    let status = std::process::Command::new("terraform")
        .arg(format!("-chdir={}", project.root().join("tf").display()))
        .args(["workspace", "delete", "-force", "orphan"])
        .env_remove("TF_WORKSPACE")
        .output()
        .unwrap();
    assert!(status.status.success());
    project
        .run(&["inventory", "prune"])
        .success()
        .stderr_contains("deleted the DNS record orphan.home.lab");
    assert_eq!(bind.dig("orphan.home.lab", "A"), "");
    assert!(fragment(&project, "orphan").is_none());
}

#[test]
fn a_wrong_secret_is_badsig_and_leaves_nothing() {
    let bind = Bind::start();
    let project = project(&bind, "", Some(bind.wrong_secret_key_file()));
    let run = provision(&project, "badsig", &[]);
    run.code(1)
        .stderr_contains("BADSIG")
        .stderr_contains("secret");
    assert!(
        !run.stderr.contains("c2VjcmV0LXRoYXQt"),
        "the secret leaked"
    );
    assert!(fragment(&project, "badsig").is_none());
    assert!(
        !project
            .root()
            .join("tf/terraform.tfstate.d/badsig")
            .exists()
    );
    assert_eq!(bind.dig("badsig.home.lab", "A"), "");
}

#[test]
fn a_key_the_policy_does_not_grant_is_refused() {
    let bind = Bind::start();
    let project = project(&bind, "", Some(bind.other_key_file()));
    provision(&project, "norights", &[])
        .code(1)
        .stderr_contains("REFUSED")
        .stderr_contains("update-policy");
    assert!(fragment(&project, "norights").is_none());
}

#[test]
fn a_server_that_does_not_answer_is_a_timeout_exit_5() {
    let bind = Bind::start();
    let key = std::env::temp_dir().join(format!("vm-dns-key-{}", std::process::id()));
    std::fs::copy(bind.key_file(), &key).unwrap();
    let project = project(&bind, "timeout = 2", Some(key.clone()));
    drop(bind);
    provision(&project, "nobody", &[])
        .code(5)
        .stderr_contains("no answer from 127.0.0.1:");
    assert!(fragment(&project, "nobody").is_none());
    // Checked before anything was made.
    assert!(
        !project
            .root()
            .join("tf/terraform.tfstate.d/nobody")
            .exists()
    );
    std::fs::remove_file(key).unwrap();
}

#[test]
fn reverse_records_names_as_ansible_host_loopback_and_key_file_rules() {
    let bind = Bind::start();
    let project = project(&bind, "reverse = true\nansible_host = \"name\"", None);
    provision(&project, "rev", &["--tf-var", "ip=192.168.122.50"]).success();
    assert_eq!(
        bind.dig("50.122.168.192.in-addr.arpa", "PTR"),
        "rev.home.lab."
    );
    let text = fragment(&project, "rev").unwrap();
    assert!(text.contains("ansible_host=rev.home.lab"), "{text}");
    project.run(&["destroy", "rev", "--yes"]).success();
    assert_eq!(bind.dig("50.122.168.192.in-addr.arpa", "PTR"), "");

    // A loopback forward gets no record, with a note.
    provision(&project, "local", &["--tf-var", "ip=127.0.0.1"])
        .success()
        .stderr_contains("no DNS record for local.home.lab");
    assert_eq!(bind.dig("local.home.lab", "A"), "");

    // A key file others can read is refused before anything is made.
    use std::os::unix::fs::PermissionsExt;
    let open = project.root().join("open.key");
    std::fs::copy(bind.key_file(), &open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    let loose = self::project(&bind, "", Some(open));
    provision(&loose, "loose", &[])
        .code(1)
        .stderr_contains("readable by others")
        .stderr_contains("chmod 600");
    assert!(!loose.root().join("tf/terraform.tfstate.d/loose").exists());
}

#[test]
fn a_zone_the_server_does_not_serve_is_found_before_anything_is_made() {
    let bind = Bind::start();
    let project = project(&bind, "", None);
    let text = String::from_utf8(project.read("vm.toml").unwrap()).unwrap();
    project.write(
        "vm.toml",
        &text.replace("zone = \"home.lab\"", "zone = \"other.lab\""),
    );
    let run = provision(&project, "nozone", &[]);
    run.code(1)
        .stderr_contains("is not authoritative for other.lab")
        .stderr_contains("point [dns] server at the zone's primary");
    assert!(
        !project
            .root()
            .join("tf/terraform.tfstate.d/nozone")
            .exists()
    );
}
