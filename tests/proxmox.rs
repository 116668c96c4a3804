//! The Proxmox VE backend against `fakepve` (PyPI), a third-party fake of the PVE 9 API that
//! validates parameters with PVE's wording and models tasks, locks, tokens and the guest agent.
//! No real cluster can run here: what the fake does not model is said in the README. Every
//! test starts its own fake on 127.0.0.1 (tests/fakepve/launch.py) with its own certificate.
//! Provisions use `--no-wait`: the guest agent's addresses are documentation addresses that
//! nothing may be sent to.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use common::{Project, Run};
use serde_json::{Value, json};

/// The comment of the user's key: spaces, ':' and '+', which PVE's double encoding must keep.
const KEY_COMMENT: &str = "me: laptop+work@host";

/// A fresh ed25519 public key line with `comment`, made by ssh-keygen.
fn make_key(comment: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(&key)
        .status()
        .expect("run ssh-keygen (openssh-client)");
    assert!(status.success());
    std::fs::read_to_string(key.with_extension("pub"))
        .unwrap()
        .trim()
        .to_string()
}

/// A running fakepve.
struct Fake {
    child: Child,
    info: Value,
    /// What its guest agent reports as every VM's host key.
    host_key: String,
    /// The user's public key the projects give.
    user_key: String,
    dir: tempfile::TempDir,
}

impl Fake {
    fn start(config: Value) -> Fake {
        Fake::start_with_host_key(config, &make_key("root@guest"))
    }

    /// A fake whose guest agent returns `host_key` as the host key file's content.
    fn start_with_host_key(config: Value, host_key: &str) -> Fake {
        let python = std::env::var("VM_FAKEPVE_PYTHON").unwrap_or_else(|_| {
            panic!(
                "VM_FAKEPVE_PYTHON is not set: run the tests through scripts/test, which creates \
                 the fakepve virtualenv (scripts/setup-fakepve) and sets it"
            )
        });
        let dir = tempfile::tempdir().unwrap();
        let config_file = dir.path().join("fake.json");
        std::fs::write(&config_file, config.to_string()).unwrap();
        let host_key = host_key.to_string();
        let mut child = Command::new(python)
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fakepve/launch.py"))
            .arg("--config")
            .arg(&config_file)
            .arg("--dir")
            .arg(dir.path().join("pki"))
            .args(["--ssh-host-key", &host_key])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tests/fakepve/launch.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let info: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("fakepve did not start ({e}): {line:?}"));
        Fake {
            child,
            info,
            host_key,
            user_key: make_key(KEY_COMMENT),
            dir,
        }
    }

    /// A CA certificate (PEM) that signed nothing this fake serves.
    fn other_ca(&self) -> PathBuf {
        let path = self.dir.path().join("other-ca.pem");
        let script = "import datetime, sys\n\
            from cryptography import x509\n\
            from cryptography.hazmat.primitives import hashes, serialization\n\
            from cryptography.hazmat.primitives.asymmetric import ec\n\
            key = ec.generate_private_key(ec.SECP256R1())\n\
            name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, 'other CA')])\n\
            now = datetime.datetime.now(datetime.timezone.utc)\n\
            cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)\n\
                .public_key(key.public_key()).serial_number(x509.random_serial_number())\n\
                .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))\n\
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)\n\
                .sign(key, hashes.SHA256()))\n\
            open(sys.argv[1], 'wb').write(cert.public_bytes(serialization.Encoding.PEM))\n";
        let status = Command::new(std::env::var("VM_FAKEPVE_PYTHON").unwrap())
            .args(["-c", script])
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success());
        path
    }

    fn text(&self, key: &str) -> String {
        self.info[key].as_str().unwrap().to_string()
    }

    /// `vm.toml` for this fake, trusting its CA, with `extra` lines in `[proxmox]`.
    fn vm_toml(&self, extra: &str) -> String {
        format!(
            "backend = \"proxmox\"\nvalidate = \"internal\"\n[proxmox]\nurl = {:?}\n\
             template = \"debian-12-tmpl\"\nca_file = {:?}\n{extra}\n",
            self.text("url"),
            self.text("ca_cert")
        )
    }

    /// `GET /api2/json/<path>` as the full token, from Python (the fake's own client side).
    fn get(&self, path: &str) -> Value {
        self.request("GET", path)
    }

    /// `METHOD /api2/json/<path>` as the full token, from Python.
    fn request(&self, method: &str, path: &str) -> Value {
        let script = "import json, ssl, sys, urllib.request, urllib.error\n\
            url, ca, auth, method = sys.argv[1:5]\n\
            req = urllib.request.Request(url, headers={'Authorization': auth}, method=method)\n\
            try:\n    body = urllib.request.urlopen(req, context=ssl.create_default_context(cafile=ca)).read()\n\
            except urllib.error.HTTPError as e:\n    body = json.dumps({'error': e.code}).encode()\n\
            sys.stdout.write(body.decode())\n";
        let output = Command::new(std::env::var("VM_FAKEPVE_PYTHON").unwrap())
            .args(["-c", script])
            .arg(format!("{}/api2/json{path}", self.text("url")))
            .arg(self.text("ca_cert"))
            .arg(self.text("token_header"))
            .arg(method)
            .output()
            .unwrap();
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "{method} {path}: {e}: {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    /// The VMs whose name is `name`.
    fn vms_named(&self, name: &str) -> Vec<Value> {
        self.get("/cluster/resources?type=vm")["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["name"] == name)
            .cloned()
            .collect()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        // SIGTERM: the launcher stops cleanly; gone already is fine.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// A project for `fake` whose SSH public key is the fake's user key.
fn project(fake: &Fake, extra: &str) -> Project {
    project_with(fake, &fake.vm_toml(extra))
}

fn project_with(fake: &Fake, vm_toml: &str) -> Project {
    Project::new()
        .file("vm.toml", vm_toml)
        .file("id_test.pub", &format!("{}\n", fake.user_key))
}

/// `vm ARGS` with the fake's full token in the environment.
fn run(project: &Project, fake: &Fake, args: &[&str]) -> Run {
    run_with_token(project, &fake.text("token"), args)
}

fn run_with_token(project: &Project, token: &str, args: &[&str]) -> Run {
    let env = format!("VM_PROXMOX_TOKEN={token}");
    project.run_under(&["env", &env], args)
}

fn provision_args<'a>(project: &'a Project, name: &'a str) -> Vec<String> {
    vec![
        "provision".into(),
        name.into(),
        "2048".into(),
        "2".into(),
        "--no-wait".into(),
        "--ssh-key".into(),
        project.root().join("id_test.pub").display().to_string(),
    ]
}

fn provision(project: &Project, fake: &Fake, name: &str, extra: &[&str]) -> Run {
    let mut args = provision_args(project, name);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(project, fake, &args)
}

fn fragment(project: &Project, name: &str) -> Option<String> {
    project
        .read(&format!("ansible/inventory.d/{name}.ini"))
        .map(|b| String::from_utf8(b).unwrap())
}

#[test]
fn provision_clones_configures_and_pins_the_agents_host_key_and_destroy_purges() {
    let fake = Fake::start(json!({}));
    let project = project(&fake, "");
    let made = provision(&project, &fake, "web01", &["--json", "--group", "web"]);
    made.success();
    let row = made.json();
    assert_eq!(row["backend"], "proxmox");
    assert_eq!(row["host_key"], "pinned");
    let vms = fake.vms_named("web01");
    assert_eq!(vms.len(), 1, "{vms:?}");
    let (node, vmid) = (
        vms[0]["node"].as_str().unwrap(),
        vms[0]["vmid"].as_u64().unwrap(),
    );
    // Placed on the template's node (its disks are on local storage), the one with the template.
    assert_eq!(node, "pve1");
    let config = &fake.get(&format!("/nodes/{node}/qemu/{vmid}/config"))["data"];
    assert_eq!(config["memory"].to_string().trim_matches('"'), "2048");
    assert_eq!(config["cores"].to_string().trim_matches('"'), "2");
    assert_eq!(config["ciuser"], "debian");
    assert_eq!(config["ipconfig0"], "ip=dhcp");
    assert_eq!(config["agent"].to_string().trim_matches('"'), "1");
    // PVE returns sshkeys URL-encoded: decoded, it is exactly the key given.
    let sshkeys = config["sshkeys"].as_str().unwrap();
    let decoded = Command::new(std::env::var("VM_FAKEPVE_PYTHON").unwrap())
        .args([
            "-c",
            "import sys, urllib.parse; sys.stdout.write(urllib.parse.unquote(sys.argv[1]))",
            sshkeys,
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(decoded.stdout).unwrap(), fake.user_key);
    assert!(fake.user_key.ends_with(KEY_COMMENT));
    let tags = config["tags"].as_str().unwrap();
    assert!(tags.contains("vm-managed"), "{tags}");

    // The fragment: the agent's address on net0 (not lo, docker0 or link-local), the marker
    // with node and VMID, the host key read through the agent pinned strictly.
    let text = fragment(&project, "web01").unwrap();
    let marker = text.lines().next().unwrap();
    assert_eq!(
        marker,
        format!(
            "# vm-managed: backend=proxmox connection={} node={node} vmid={vmid}",
            fake.text("url")
        )
    );
    let expected_ip = format!("192.0.2.{}", 10 + vmid % 200);
    assert!(
        text.contains(&format!("ansible_host={expected_ip}")),
        "{text}"
    );
    assert!(text.contains("StrictHostKeyChecking=yes"), "{text}");
    let known = String::from_utf8(project.read("ansible/known_hosts").unwrap()).unwrap();
    let agent_key: String = fake
        .host_key
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(known, format!("web01 {agent_key}\n"));

    let list = run(&project, &fake, &["--json", "list"]);
    list.success();
    let row = list.json_row("web01");
    assert_eq!(row["backend"], "proxmox");
    assert_eq!(row["memory_mib"], 2048);
    assert_eq!(row["fragment"], "current");
    run(&project, &fake, &["inventory", "check"]).success();

    run(&project, &fake, &["destroy", "web01", "--yes"]).success();
    assert!(fake.vms_named("web01").is_empty());
    assert!(fragment(&project, "web01").is_none());
    let known = String::from_utf8(project.read("ansible/known_hosts").unwrap_or_default()).unwrap();
    assert!(!known.contains("web01"));
}

#[test]
fn eight_provisions_at_once_get_eight_vmids_and_one_inventory() {
    let fake = Fake::start(json!({}));
    let project = project(&fake, "");
    let names: Vec<String> = (1..=8).map(|i| format!("par{i}")).collect();
    std::thread::scope(|scope| {
        let runs: Vec<_> = names
            .iter()
            .map(|name| {
                let (project, fake) = (&project, &fake);
                scope.spawn(move || provision(project, fake, name, &[]))
            })
            .collect();
        for run in runs {
            run.join().unwrap().success();
        }
    });
    let mut vmids: Vec<u64> = names
        .iter()
        .map(|n| {
            let vms = fake.vms_named(n);
            assert_eq!(vms.len(), 1, "{n}: {vms:?}");
            vms[0]["vmid"].as_u64().unwrap()
        })
        .collect();
    vmids.sort();
    vmids.dedup();
    assert_eq!(vmids.len(), 8);
    let inventory = String::from_utf8(project.read("ansible/inventory.ini").unwrap()).unwrap();
    for name in &names {
        assert!(
            inventory.contains(&format!("\n{name} ansible_host=192.0.2.")),
            "{inventory}"
        );
    }
}

#[test]
fn a_vmid_range_is_honoured() {
    let fake = Fake::start(json!({}));
    let project = project(&fake, "vmid_range = [4100, 4199]");
    provision(&project, &fake, "ranged", &[]).success();
    assert_eq!(fake.vms_named("ranged")[0]["vmid"], 4100);
    assert!(fragment(&project, "ranged").unwrap().contains("vmid=4100"));
}

#[test]
fn bad_templates_tokens_and_certificates_are_refused_before_anything_is_made() {
    let fake = Fake::start(json!({}));
    let project = project(&fake, "");
    let key = project.root().join("id_test.pub").display().to_string();
    let base = [
        "provision",
        "bad1",
        "1024",
        "1",
        "--no-wait",
        "--ssh-key",
        &key,
    ];

    let mut args = base.to_vec();
    args.extend(["--template", "no-such-template"]);
    run(&project, &fake, &args)
        .code(1)
        .stderr_contains("no template \"no-such-template\"");

    let secret = "0000-not-the-secret";
    let wrong = format!("root@pam!ci={secret}");
    let refused = run_with_token(&project, &wrong, &base);
    refused
        .code(1)
        .stderr_contains("authentication failure")
        .stderr_contains("root@pam!ci");
    assert!(
        !refused.stderr.contains(secret),
        "the secret leaked: {}",
        refused.describe()
    );

    run_with_token(&project, &fake.text("limited_token"), &base)
        .code(1)
        .stderr_contains("lacks VM.Clone on /vms/9000")
        .stderr_contains("VM.Allocate on /vms")
        .stderr_contains("VM.GuestAgent.Audit");

    // A pinned fingerprint that is not the server's.
    let pinned = project_with(
        &fake,
        &fake.vm_toml("").replace(
            &format!("ca_file = {:?}", fake.text("ca_cert")),
            &format!("fingerprint = \"{}\"", "AB:".repeat(31) + "AB"),
        ),
    );
    run(&pinned, &fake, &base)
        .code(1)
        .stderr_contains("fingerprint mismatch")
        .stderr_contains(&fake.text("fingerprint"))
        .stderr_contains("pvenode cert info");
    // The right fingerprint works.
    let right = project_with(
        &fake,
        &fake.vm_toml("").replace(
            &format!("ca_file = {:?}", fake.text("ca_cert")),
            &format!("fingerprint = \"{}\"", fake.text("fingerprint")),
        ),
    );
    let mut args = base.to_vec();
    args[1] = "pinned1";
    run(&right, &fake, &args).success();
    // A CA that did not sign the server's certificate.
    let other_ca = fake.other_ca();
    let untrusted = project_with(
        &fake,
        &fake.vm_toml("").replace(
            &format!("ca_file = {:?}", fake.text("ca_cert")),
            &format!("ca_file = {:?}", other_ca.display().to_string()),
        ),
    );
    run(&untrusted, &fake, &base)
        .code(1)
        .stderr_contains("TLS certificate rejected");
    // A token file others can read.
    let token_file = project.root().join("token");
    std::fs::write(&token_file, fake.text("token")).unwrap();
    let with_file = project_with(
        &fake,
        &fake.vm_toml(&format!(
            "token_file = {:?}",
            token_file.display().to_string()
        )),
    );
    with_file
        .run(&base)
        .code(1)
        .stderr_contains("readable by others")
        .stderr_contains("chmod 600");

    assert!(fake.vms_named("bad1").is_empty());
    for p in [&project, &pinned, &untrusted, &with_file] {
        assert!(fragment(p, "bad1").is_none());
    }
}

#[test]
fn a_clone_task_that_fails_leaves_nothing_and_shows_the_task_log() {
    let fake = Fake::start(json!({"faults": {"clone_error": "disk copy exploded"}}));
    let project = project(&fake, "");
    provision(&project, &fake, "boom", &[])
        .code(1)
        .stderr_contains("clone failed: disk copy exploded")
        .stderr_contains("last lines of the task log")
        .stderr_contains("TASK ERROR");
    assert!(fake.vms_named("boom").is_empty());
    assert!(fragment(&project, "boom").is_none());
}

#[test]
fn a_config_lock_held_after_the_clone_is_waited_out() {
    let fake = Fake::start(json!({"faults": {"lock_clones_secs": 1.5}}));
    let project = project(&fake, "");
    provision(&project, &fake, "locked", &["-v"])
        .success()
        .stderr_contains("can't lock file")
        .stderr_contains("retrying");
    assert_eq!(fake.vms_named("locked").len(), 1);
}

#[test]
fn an_agent_that_never_answers_times_out_with_exit_5_and_the_vm_is_purged() {
    let fake = Fake::start(json!({"faults": {"agent": "never"}}));
    let project = project(&fake, "");
    provision(&project, &fake, "mute", &["--timeout", "3"])
        .code(5)
        .stderr_contains("an address from the QEMU guest agent")
        .stderr_contains("qemu-guest-agent");
    assert!(fake.vms_named("mute").is_empty());
    assert!(fragment(&project, "mute").is_none());
}

/// Stops and deletes VM `name` through the API, as someone else would.
fn remove_behind_vms_back(fake: &Fake, name: &str) {
    let vm = &fake.vms_named(name)[0];
    let path = format!(
        "/nodes/{}/qemu/{}",
        vm["node"].as_str().unwrap(),
        vm["vmid"]
    );
    fake.request("POST", &format!("{path}/status/stop"));
    fake.request("DELETE", &path);
    assert!(fake.vms_named(name).is_empty(), "{name} is still there");
}

#[test]
fn orphans_both_ways_are_found_and_a_vm_gone_behind_vms_back_is_cleaned_up() {
    let fake = Fake::start(json!({}));
    let project = project(&fake, "");
    provision(&project, &fake, "gone", &[]).success();
    provision(&project, &fake, "lost", &[]).success();
    // Remove "gone" behind vm's back, and "lost"'s fragment.
    remove_behind_vms_back(&fake, "gone");
    std::fs::remove_file(project.root().join("ansible/inventory.d/lost.ini")).unwrap();
    let check = run(&project, &fake, &["inventory", "check"]);
    check
        .code(4)
        .stdout_contains("orphan:")
        .stdout_contains("gone.ini")
        .stdout_contains("no fragment: VM lost");
    run(&project, &fake, &["inventory", "prune"]).success();
    assert!(fragment(&project, "gone").is_none());
    // Destroy of a VM already gone: its fragment only, with a note.
    provision(&project, &fake, "again", &[]).success();
    remove_behind_vms_back(&fake, "again");
    run(&project, &fake, &["destroy", "again", "--yes"])
        .success()
        .stderr_contains("already gone");
    assert!(fragment(&project, "again").is_none());
}

#[test]
fn a_node_can_be_chosen_a_linked_clone_stays_on_the_templates_and_warnings_are_no_failure() {
    let fake = Fake::start(json!({"faults": {"task_warnings": {"qmclone": 2}}}));
    let project = project(&fake, "");
    provision(&project, &fake, "on-two", &["--node", "pve2"])
        .success()
        .stderr_contains("WARNINGS: 2");
    assert_eq!(fake.vms_named("on-two")[0]["node"], "pve2");
    assert!(
        fragment(&project, "on-two")
            .unwrap()
            .contains(" node=pve2 ")
    );
    provision(&project, &fake, "nowhere", &["--node", "pve9"])
        .code(1)
        .stderr_contains("node pve9 is not an online node")
        .stderr_contains("pve1, pve2");
    let linked = project_with(&fake, &fake.vm_toml("clone = \"linked\""));
    provision(&linked, &fake, "linked1", &[]).success();
    assert_eq!(fake.vms_named("linked1")[0]["node"], "pve1");
    provision(&linked, &fake, "linked2", &["--node", "pve2"])
        .code(1)
        .stderr_contains("a linked clone of template 9000 must be on its node pve1");
    assert!(fake.vms_named("nowhere").is_empty() && fake.vms_named("linked2").is_empty());
}

#[test]
fn a_host_key_the_agent_never_delivers_is_pinned_on_first_use_and_said_so() {
    // The agent answers, but the key file never holds a key.
    let fake = Fake::start_with_host_key(json!({}), "not a key");
    let project = project(&fake, "");
    provision(&project, &fake, "tofu", &["--timeout", "3"])
        .success()
        .stderr_contains("its host key is pinned on first use")
        .stderr_contains("StrictHostKeyChecking=accept-new");
    let text = fragment(&project, "tofu").unwrap();
    assert!(text.contains("StrictHostKeyChecking=accept-new"), "{text}");
    let list = run(&project, &fake, &["--json", "list"]);
    assert_eq!(list.json_row("tofu")["host_key"], "first-use");
}

#[test]
fn apply_makes_four_with_a_stagger_and_a_new_size_takes_effect_on_restart() {
    let fake = Fake::start(json!({}));
    let project = project(&fake, "");
    let file = "[defaults]\nmemory = 1024\nvcpus = 1\nssh_key = \"id_test.pub\"\n\n\
                [vms.a]\n[vms.b]\n[vms.c]\n[vms.d]\nname = \"delta\"\n";
    project.write("vms.toml", file);
    let applied = run(
        &project,
        &fake,
        &[
            "--json",
            "apply",
            "--parallel",
            "4",
            "--stagger",
            "0.4",
            "--no-wait",
        ],
    );
    applied.success();
    applied.assert_staggered_starts(4, 0.39);
    for name in ["a", "b", "c", "delta"] {
        assert_eq!(fake.vms_named(name).len(), 1, "{name}");
    }
    run(&project, &fake, &["apply", "--no-wait"])
        .success()
        .stderr_contains("nothing to do");

    // A new size: in the configuration at once, in effect after a restart.
    project.write(
        "vms.toml",
        &file.replace("[vms.b]\n", "[vms.b]\nmemory = 2048\n"),
    );
    run(&project, &fake, &["apply", "--no-wait"])
        .success()
        .stderr_contains(
            "memory 1024 MiB -> 2048 MiB: in its configuration, in effect after a restart",
        );
    let vm = &fake.vms_named("b")[0];
    let base = format!(
        "/nodes/{}/qemu/{}",
        vm["node"].as_str().unwrap(),
        vm["vmid"]
    );
    let pending = fake.get(&format!("{base}/pending"))["data"].clone();
    let memory = pending
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "memory")
        .cloned()
        .unwrap();
    assert_eq!(
        memory["pending"].to_string().trim_matches('"'),
        "2048",
        "{pending}"
    );
    run(&project, &fake, &["apply", "--no-wait", "--restart"])
        .success()
        .stderr_contains("restarted");
    let config = &fake.get(&format!("{base}/config"))["data"];
    assert_eq!(config["memory"].to_string().trim_matches('"'), "2048");
    run(&project, &fake, &["apply", "--no-wait"])
        .success()
        .stderr_contains("nothing to do");
}

#[test]
fn stop_start_and_reboot_are_pve_tasks_and_a_guest_ignoring_acpi_times_out_with_exit_5() {
    let status = |fake: &Fake, name: &str| fake.vms_named(name)[0]["status"].clone();
    let fake = Fake::start(json!({}));
    let project = project(&fake, "");
    provision(&project, &fake, "pw", &[]).success();
    assert_eq!(status(&fake, "pw"), "running");
    run(&project, &fake, &["stop", "pw"])
        .success()
        .stderr_contains("stopped pw");
    assert_eq!(status(&fake, "pw"), "stopped");
    run(&project, &fake, &["stop", "pw"])
        .success()
        .stderr_contains("already off");
    run(&project, &fake, &["reboot", "pw"])
        .code(1)
        .stderr_contains("`vm start pw`");
    // The fake's agent addresses are documentation addresses nothing may be sent to: no waits.
    run(&project, &fake, &["start", "pw", "--no-wait"])
        .success()
        .stderr_contains("started pw");
    assert_eq!(status(&fake, "pw"), "running");
    let rebooted = run(&project, &fake, &["--json", "reboot", "pw", "--no-wait"]);
    rebooted.success();
    assert_eq!(rebooted.json()["action"], "reboot");
    assert_eq!(status(&fake, "pw"), "running");
    run(&project, &fake, &["stop", "--force", "pw"]).success();
    assert_eq!(status(&fake, "pw"), "stopped");
    run(&project, &fake, &["console", "pw"])
        .code(1)
        .stderr_contains("qm terminal");

    // A guest that ignores the power button: PVE's shutdown task gives up at vm's timeout.
    let fake = Fake::start(json!({"faults": {"shutdown_secs": 600}}));
    let deaf = project_with(&fake, &fake.vm_toml(""));
    provision(&deaf, &fake, "deaf", &[]).success();
    run(&deaf, &fake, &["stop", "deaf", "--timeout", "5"])
        .code(5)
        .stderr_contains("`vm stop --force deaf`");
    assert_eq!(status(&fake, "deaf"), "running");
    run(&deaf, &fake, &["stop", "deaf", "--force"]).success();
    assert_eq!(status(&fake, "deaf"), "stopped");
}
