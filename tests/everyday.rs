//! The everyday commands: `vm ssh` against a real sshd on 127.0.0.1 (the inventory's address,
//! port, user and pinned host key, checked strictly), `vm completions` loaded by a real bash,
//! `vm start|stop|reboot` through a Terraform module's `running` input. (libvirt's and Proxmox's
//! power changes and `vm console` are in libvirt_lifecycle.rs and proxmox.rs.)

mod common;

use std::process::Command;

use common::Project;
use common::sshd::Sshd;

/// A project whose inventory has host `h` at the sshd, pinned to `pinned` in its own
/// known_hosts, with the client key as a group variable in another fragment.
fn ssh_project(sshd: &Sshd, pinned: &str) -> Project {
    let project = Project::new();
    let known = project.root().join("ansible/known_hosts");
    std::fs::create_dir_all(known.parent().unwrap()).unwrap();
    std::fs::write(&known, format!("h {pinned}\n")).unwrap();
    project
        .fragment(
            "h.ini",
            &format!(
                "[lab]\nh ansible_host=127.0.0.1 ansible_port={} ansible_user=root \
                 ansible_ssh_common_args='-o UserKnownHostsFile={} -o StrictHostKeyChecking=yes \
                 -o HostKeyAlias=h -o BatchMode=yes'\n",
                sshd.port,
                known.display()
            ),
        )
        .fragment(
            "lab.ini",
            &format!(
                "[lab:vars]\nansible_user=nobody\nansible_ssh_private_key_file={}\n",
                sshd.client_key.display()
            ),
        )
}

#[test]
fn ssh_logs_in_as_ansible_would_and_refuses_a_host_whose_key_is_not_the_pinned_one() {
    let scratch = tempfile::tempdir().unwrap();
    let sshd = Sshd::start(&scratch.path().join("sshd"));

    let project = ssh_project(&sshd, &sshd.host_key);
    let run = project.run(&["-v", "ssh", "h", "--", "echo", "hello", "from", "$(id -un)"]);
    run.success();
    // The host's own ansible_user beats the group's; the group's key is used; the words run
    // in the remote shell, as ssh runs them.
    assert_eq!(run.stdout.trim(), "hello from root");
    run.stderr_contains("StrictHostKeyChecking=yes");

    // Another key pinned for h: ssh refuses, as it would for Ansible.
    let other = scratch.path().join("other");
    common::keygen(&other, "test");
    let other_key = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let project = ssh_project(&sshd, other_key.trim());
    let run = project.run(&["ssh", "h", "--", "true"]);
    run.code(255)
        .stderr_contains("Host key verification failed");

    // A host the inventory does not have.
    project
        .run(&["ssh", "nosuch"])
        .code(1)
        .stderr_contains("no host nosuch in the inventory");
}

#[test]
fn completions_load_into_a_real_bash_and_name_every_command() {
    let scratch = tempfile::tempdir().unwrap();
    let bash = Command::new(common::vm_bin())
        .args(["completions", "bash"])
        .current_dir(scratch.path())
        .output()
        .unwrap();
    assert!(
        bash.status.success(),
        "{}",
        String::from_utf8_lossy(&bash.stderr)
    );
    let script = scratch.path().join("vm.bash");
    std::fs::write(&script, &bash.stdout).unwrap();
    // bash completes `vm re` with the commands that start so.
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=(vm re); COMP_CWORD=1; COMP_LINE='vm re'; COMP_POINT=5; \
             _vm vm re vm; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let words = String::from_utf8_lossy(&out.stdout);
    assert_eq!(words.split_whitespace().collect::<Vec<_>>(), ["reboot"]);
    for (shell, mark) in [("zsh", "#compdef vm"), ("fish", "complete -c vm")] {
        let out = Command::new(common::vm_bin())
            .args(["completions", shell])
            .current_dir(scratch.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains(mark),
            "{shell}: {text}"
        );
        for command in [
            "provision",
            "apply",
            "ssh",
            "console",
            "start",
            "stop",
            "reboot",
        ] {
            assert!(text.contains(command), "{shell} completion lacks {command}");
        }
    }
}

/// A module with the optional `running` input: its VM's power state is a file the module
/// writes whenever `running` changes.
const POWERED: &str = r#"
variable "vm_name" { type = string }
variable "memory" { type = number }
variable "vcpus" { type = number }
variable "running" {
  type    = bool
  default = true
}
resource "terraform_data" "vm" {
  input            = var.vm_name
  triggers_replace = [var.running]
  provisioner "local-exec" {
    command = "printf '%s\n' ${var.running} >> ${path.module}/power-${var.vm_name}"
  }
}
output "vm_ip" { value = "10.9.0.7" }
"#;

#[test]
fn terraform_vms_start_and_stop_through_the_modules_running_input() {
    let project = Project::new();
    project.write("tf/main.tf", POWERED);
    project.write(
        "vm.toml",
        "backend = \"terraform\"\nterraform_dir = \"tf\"\nvalidate = \"internal\"\n",
    );
    project
        .run(&["provision", "t1", "512", "1", "--no-wait"])
        .success();
    let power = || std::fs::read_to_string(project.root().join("tf/power-t1")).unwrap();
    assert_eq!(power(), "true\n");
    project.run(&["stop", "t1"]).success();
    assert_eq!(power(), "true\nfalse\n");
    // Terraform's address is the module's: nothing to wait for after --no-wait.
    project.run(&["start", "t1", "--no-wait"]).success();
    assert_eq!(power(), "true\nfalse\ntrue\n");
    project.run(&["reboot", "t1", "--no-wait"]).success();
    assert_eq!(power(), "true\nfalse\ntrue\nfalse\ntrue\n");
    project.run(&["destroy", "t1", "--yes"]).success();

    // A module without the input: refused, saying what to declare; nothing applied.
    project.write(
        "tf/main.tf",
        &POWERED.replace("var.running", "true").replace(
            "variable \"running\" {\n  type    = bool\n  default = true\n}\n",
            "",
        ),
    );
    project
        .run(&["provision", "t2", "512", "1", "--no-wait"])
        .success();
    project
        .run(&["stop", "t2"])
        .code(1)
        .stderr_contains("declares no `running` input");
    project.run(&["destroy", "t2", "--yes"]).success();
}

#[test]
fn vm_tomls_ssh_key_may_start_with_a_tilde_and_ssh_uses_its_private_half() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join("keys")).unwrap();
    let key = home.path().join("keys/id_ed25519");
    common::keygen(&key, "tilde");
    let port = common::free_port();
    let project = Project::new()
        .file("vm.toml", "ssh_key = \"~/keys/id_ed25519.pub\"\n")
        .fragment(
            "h.ini",
            &format!("h ansible_host=127.0.0.1 ansible_port={port} ansible_ssh_extra_args='-o BatchMode=yes -o ConnectTimeout=2'\n"),
        );
    let home_env = format!("HOME={}", home.path().display());
    // Nothing listens there: ssh fails, after vm printed the command it ran (-v).
    let run = project.run_under(&["env", &home_env], &["-v", "ssh", "h", "--", "true"]);
    run.code(255)
        .stderr_contains(&format!("IdentityFile={}", key.display()));
}
