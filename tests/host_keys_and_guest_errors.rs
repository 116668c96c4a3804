//! The provision pipeline's end, for real: host-key pinning through the Terraform module
//! contract, and each way a guest can fail to become ready told apart. The "guest" is a real
//! OpenSSH server on 127.0.0.1 that a `terraform_data` module starts with the host key vm passes
//! it (as a real module puts it into cloud-init), and whose forced command plays
//! `cloud-init status --wait`.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::Project;

/// The module: starts sshd with the host key vm gave it (or another key, `other_key`), and
/// says where it listens; echoes the host key it installed unless `echo_key` is "no".
const MODULE: &str = r#"
variable "vm_name" { type = string }
variable "memory" { type = number }
variable "vcpus" { type = number }
variable "ssh_host_key" {
  type      = string
  default   = ""
  sensitive = true
}
variable "ssh_host_public_key" {
  type    = string
  default = ""
}
variable "port" { type = string }
variable "guest" { type = string }
variable "other_key" {
  type    = string
  default = ""
}
variable "echo_key" {
  type    = string
  default = "yes"
}
variable "start" {
  type    = string
  default = "yes"
}
resource "terraform_data" "guest" {
  input = { name = var.vm_name, guest = var.guest }
  provisioner "local-exec" {
    command = "${var.guest}/start-sshd"
    environment = {
      HOST_KEY  = var.ssh_host_key
      OTHER_KEY = var.other_key
      PORT      = var.port
      NAME      = var.vm_name
      START     = var.start
    }
  }
  provisioner "local-exec" {
    when    = destroy
    command = "${self.input.guest}/on-destroy"
  }
}
output "vm_ip" { value = "127.0.0.1" }
output "ansible_port" { value = var.port }
output "ansible_user" { value = "root" }
output "ssh_host_public_key" { value = var.echo_key == "yes" ? var.ssh_host_public_key : "" }
"#;

const START_SSHD: &str = r#"#!/bin/bash
set -euo pipefail
dir="$(dirname "$0")"
[ "$START" = yes ] || exit 0
key="$dir/host-$NAME"
if [ -n "$OTHER_KEY" ]; then cp "$OTHER_KEY" "$key"; else printf '%s\n' "$HOST_KEY" >"$key"; fi
chmod 600 "$key"
mkdir -p /run/sshd
/usr/sbin/sshd -f "$dir/sshd_config" -h "$key" -p "$PORT" -o "PidFile=$dir/sshd-$NAME.pid"
"#;

/// A guest: the folder the module's scripts live in, its sshd config, and the sshds it started
/// (stopped when dropped).
struct Guest {
    dir: PathBuf,
    port: u16,
}

impl Guest {
    /// `cloud_init`: what the forced command prints and its exit status (`cloud-init status`).
    /// `authorized`: the public key sshd lets in (`None`: nobody).
    fn new(project: &Project, cloud_init: (&str, i32), authorized: Option<&str>) -> Guest {
        let dir = project.root().join("guest");
        std::fs::create_dir_all(&dir).unwrap();
        let port = common::free_port();
        let write = |name: &str, text: &str, mode: u32| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        write("start-sshd", START_SSHD, 0o755);
        write("on-destroy", "#!/bin/sh\nexit 0\n", 0o755);
        write(
            "cloud-init-status",
            &format!(
                "#!/bin/sh\necho 'status: {}'\nexit {}\n",
                cloud_init.0, cloud_init.1
            ),
            0o755,
        );
        write("authorized_keys", authorized.unwrap_or(""), 0o644);
        write(
            "sshd_config",
            &format!(
                "ListenAddress 127.0.0.1\nAuthorizedKeysFile {dir}/authorized_keys\nStrictModes no\n\
                 PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nUsePAM no\nForceCommand {dir}/cloud-init-status\n",
                dir = dir.display()
            ),
            0o644,
        );
        Guest { dir, port }
    }

    fn tf_vars(&self, extra: &[(&str, &str)]) -> Vec<String> {
        let mut vars = vec![
            format!("port={}", self.port),
            format!("guest={}", self.dir.display()),
        ];
        vars.extend(extra.iter().map(|(k, v)| format!("{k}={v}")));
        vars
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        for entry in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("sshd-")
                && name.ends_with(".pid")
                && let Ok(pid) = std::fs::read_to_string(entry.path())
            {
                // The sshd this test started; gone already is fine.
                let _ = Command::new("kill").arg(pid.trim()).status();
            }
        }
    }
}

/// The user's key pair, made with ssh-keygen in the project: (public key path, public key text).
fn user_key(project: &Project) -> (PathBuf, String) {
    let key = project.root().join("id_ed25519");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "tester", "-f"])
        .arg(&key)
        .status()
        .expect("run ssh-keygen (openssh-client)");
    assert!(status.success());
    let public = key.with_extension("pub");
    let text = std::fs::read_to_string(&public).unwrap();
    (public, text)
}

fn module(project: &Project) -> PathBuf {
    let dir = project.root().join("tf");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("main.tf"), MODULE).unwrap();
    dir
}

fn require_sshd() {
    assert!(
        Path::new("/usr/sbin/sshd").is_file(),
        "these tests need a real OpenSSH server: apt-get install openssh-server (.ci/run does)"
    );
}

/// `vm provision NAME 512 1 --backend terraform` with the guest's variables.
fn provision(
    project: &Project,
    name: &str,
    module: &Path,
    key: &Path,
    vars: &[String],
    extra: &[&str],
) -> common::Run {
    let module = module.display().to_string();
    let key = key.display().to_string();
    let mut args = vec![
        "provision",
        name,
        "512",
        "1",
        "--backend",
        "terraform",
        "--terraform-dir",
        &module,
        "--ssh-key",
        &key,
        "--validate",
        "internal",
    ];
    for var in vars {
        args.extend(["--tf-var", var]);
    }
    args.extend_from_slice(extra);
    project.run(&args)
}

fn known_hosts(project: &Project) -> String {
    String::from_utf8(project.read("ansible/known_hosts").unwrap_or_default()).unwrap()
}

fn fragment(project: &Project, name: &str) -> Option<String> {
    project
        .read(&format!("ansible/inventory.d/{name}.ini"))
        .map(|b| String::from_utf8(b).unwrap())
}

/// What ssh makes of the fragment's own options: connects only when the pinned key matches.
fn ssh_with_fragment_options(project: &Project, name: &str, port: u16, key: &Path) -> bool {
    let known = project.root().join("ansible/known_hosts");
    Command::new("ssh")
        .arg("-i")
        .arg(key.with_extension(""))
        .args(["-p", &port.to_string(), "-o", "BatchMode=yes"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", known.display()))
        .args(["-o", "StrictHostKeyChecking=yes"])
        .arg("-o")
        .arg(format!("HostKeyAlias={name}"))
        .arg("root@127.0.0.1")
        .arg("true")
        .status()
        .unwrap()
        .success()
}

#[test]
fn the_host_key_vm_passes_the_module_is_pinned_before_the_first_connection() {
    require_sshd();
    let project = Project::new();
    let (key, public) = user_key(&project);
    let guest = Guest::new(&project, ("done", 0), Some(&public));
    let dir = module(&project);
    let run = provision(
        &project,
        "tf-pinned",
        &dir,
        &key,
        &guest.tf_vars(&[]),
        &["--json"],
    );
    run.success();
    let row = run.json();
    assert_eq!(row["host_key"], "pinned", "{}", run.describe());
    assert_eq!(row["port"], guest.port);
    assert_eq!(row["backend"], "terraform");
    // The key in known_hosts is the one sshd was started with: the one vm made and passed.
    let served = std::fs::read_to_string(guest.dir.join("host-tf-pinned")).unwrap();
    let derived = Command::new("ssh-keygen")
        .args(["-y", "-f"])
        .arg(guest.dir.join("host-tf-pinned"))
        .output()
        .unwrap();
    assert!(served.contains("OPENSSH PRIVATE KEY"));
    let public_host = String::from_utf8(derived.stdout).unwrap();
    let public_host = public_host
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        known_hosts(&project).contains(&format!("tf-pinned {public_host}")),
        "{}",
        known_hosts(&project)
    );
    let text = fragment(&project, "tf-pinned").unwrap();
    assert!(text.contains("StrictHostKeyChecking=yes"), "{text}");
    assert!(text.contains("HostKeyAlias=tf-pinned"), "{text}");
    assert!(
        !text.contains("accept-new") && !text.contains("=no"),
        "{text}"
    );
    assert!(ssh_with_fragment_options(
        &project,
        "tf-pinned",
        guest.port,
        &key
    ));
    // The private host key went to the module through its environment only: vm wrote it to
    // none of its own files.
    for file in [
        ".vm/terraform/tf-pinned.tfvars.json",
        ".vm/terraform/terraform.log",
    ] {
        let text = String::from_utf8(project.read(file).unwrap_or_default()).unwrap();
        assert!(
            !text.contains("PRIVATE KEY"),
            "{file} holds the private key"
        );
    }
    let list = project.run(&["--json", "list"]);
    list.success();
    let rows = list.json();
    let listed = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "tf-pinned");
    assert_eq!(listed.unwrap()["host_key"], "pinned", "{}", list.describe());

    // A known_hosts line that is not the guest's makes the fragment's options refuse.
    std::fs::write(
        project.root().join("ansible/known_hosts"),
        format!(
            "tf-pinned {}\n",
            public
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        ),
    )
    .unwrap();
    assert!(!ssh_with_fragment_options(
        &project,
        "tf-pinned",
        guest.port,
        &key
    ));
    project.run(&["destroy", "tf-pinned", "--yes"]).success();
    assert!(!known_hosts(&project).contains("tf-pinned"));
}

#[test]
fn a_module_that_does_not_output_the_key_is_pinned_on_first_use_and_listed_as_such() {
    require_sshd();
    let project = Project::new();
    let (key, public) = user_key(&project);
    let guest = Guest::new(&project, ("done", 0), Some(&public));
    let dir = module(&project);
    let vars = guest.tf_vars(&[("echo_key", "no")]);
    provision(&project, "tf-tofu", &dir, &key, &vars, &[])
        .success()
        .stderr_contains("first connection pins it")
        .stderr_contains("accept-new");
    let text = fragment(&project, "tf-tofu").unwrap();
    assert!(text.contains("StrictHostKeyChecking=accept-new"), "{text}");
    // vm's own first connection (the cloud-init wait) learned the key and recorded it.
    assert!(known_hosts(&project).starts_with("tf-tofu ssh-ed25519 "));
    assert!(ssh_with_fragment_options(
        &project, "tf-tofu", guest.port, &key
    ));
    let list = project.run(&["list"]);
    list.success();
    let line = list
        .stdout
        .lines()
        .find(|l| l.starts_with("tf-tofu"))
        .unwrap();
    assert!(line.contains("first-use"), "{}", list.describe());
}

#[test]
fn a_guest_presenting_another_host_key_fails_with_exit_1_and_is_rolled_back() {
    require_sshd();
    let project = Project::new();
    let (key, public) = user_key(&project);
    let guest = Guest::new(&project, ("done", 0), Some(&public));
    let other = project.root().join("other-host-key");
    Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .unwrap();
    let dir = module(&project);
    let vars = guest.tf_vars(&[("other_key", &other.display().to_string())]);
    provision(&project, "tf-mitm", &dir, &key, &vars, &["--timeout", "30"])
        .code(1)
        .stderr_contains("presented a host key that is not the one vm pinned")
        .stderr_contains("find out who answers");
    assert!(fragment(&project, "tf-mitm").is_none());
    assert!(!known_hosts(&project).contains("tf-mitm"));
    assert!(
        !project
            .root()
            .join("tf/terraform.tfstate.d/tf-mitm")
            .exists()
    );
}

#[test]
fn a_cloud_init_failure_is_exit_1_with_its_report_not_a_timeout() {
    require_sshd();
    let project = Project::new();
    let (key, public) = user_key(&project);
    let guest = Guest::new(&project, ("error", 1), Some(&public));
    let dir = module(&project);
    let run = provision(
        &project,
        "tf-ci",
        &dir,
        &key,
        &guest.tf_vars(&[]),
        &["--timeout", "30"],
    );
    run.code(1)
        .stderr_contains("cloud-init failed on tf-ci (status 1)")
        .stderr_contains("status: error");
    assert!(!run.stderr.contains("timed out"), "{}", run.describe());
    assert!(fragment(&project, "tf-ci").is_none());
    assert!(!project.root().join("tf/terraform.tfstate.d/tf-ci").exists());
}

#[test]
fn a_login_refused_until_the_timeout_is_exit_1_naming_the_user_and_key() {
    require_sshd();
    let project = Project::new();
    let (key, _) = user_key(&project);
    let guest = Guest::new(&project, ("done", 0), None);
    let dir = module(&project);
    provision(
        &project,
        "tf-deny",
        &dir,
        &key,
        &guest.tf_vars(&[]),
        &["--timeout", "6"],
    )
    .code(1)
    .stderr_contains("refused SSH logins as root")
    .stderr_contains(&key.with_extension("").display().to_string())
    .stderr_contains("Permission denied");
    assert!(fragment(&project, "tf-deny").is_none());
}

#[test]
fn ssh_that_never_answers_is_a_timeout_exit_5_in_human_units() {
    require_sshd();
    let project = Project::new();
    let (key, public) = user_key(&project);
    let guest = Guest::new(&project, ("done", 0), Some(&public));
    let dir = module(&project);
    let vars = guest.tf_vars(&[("start", "no")]);
    let run = provision(&project, "tf-quiet", &dir, &key, &vars, &["--timeout", "3"]);
    run.code(5)
        .stderr_contains("timed out after 3.")
        .stderr_contains(" s waiting for SSH of tf-quiet")
        .stderr_contains("Terraform log");
    assert!(!run.stderr.contains("waited: "), "{}", run.describe());
    assert!(fragment(&project, "tf-quiet").is_none());
}

#[test]
fn a_rollback_that_fails_says_what_is_left_and_the_command_that_removes_it() {
    require_sshd();
    let project = Project::new();
    let (key, public) = user_key(&project);
    let guest = Guest::new(&project, ("done", 0), Some(&public));
    // The module's destroy fails: the rollback after the SSH timeout cannot remove it.
    std::fs::write(
        guest.dir.join("on-destroy"),
        "#!/bin/sh\necho cannot destroy >&2\nexit 1\n",
    )
    .unwrap();
    let dir = module(&project);
    let vars = guest.tf_vars(&[("start", "no")]);
    let run = provision(&project, "tf-stuck", &dir, &key, &vars, &["--timeout", "2"]);
    run.code(5)
        .stderr_contains("timed out")
        .stderr_contains("rolling back failed: tf-stuck at Terraform module")
        .stderr_contains("TF_WORKSPACE=tf-stuck")
        .stderr_contains("workspace delete tf-stuck");
    assert!(fragment(&project, "tf-stuck").is_none());
    // It is really left, as said.
    assert!(
        project
            .root()
            .join("tf/terraform.tfstate.d/tf-stuck")
            .exists()
    );
}
