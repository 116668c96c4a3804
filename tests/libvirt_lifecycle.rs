//! Lifecycle tests against a real `libvirtd`, which the setup starts (`scripts/start-libvirtd`:
//! packages, virtlogd, libvirtd, a `dir` pool). Guests are `type='qemu'` (TCG) on a tiny empty
//! base disk with user-mode networking, so all traffic stays on 127.0.0.1; nothing boots, which
//! is why these tests use `--no-wait` (real guests are issue 4's end-to-end test).
//!
//! Needs root, as CI has. Every test uses its own VM names and removes its VMs when it ends,
//! even when it fails; the pool and its base image are shared and kept for the next run.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::Project;
use common::libvirt::{Cleanup, POOL, URI, start_libvirtd, virsh};

/// Starts libvirtd and the pool once per test binary; returns the public key to use.
fn setup() -> &'static Path {
    static KEY: OnceLock<PathBuf> = OnceLock::new();
    KEY.get_or_init(|| {
        start_libvirtd();
        common::libvirt::ensure_base_image();
        let dir = std::env::temp_dir().join(format!("vm-lifecycle-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("id_ed25519");
        common::keygen(&key, "test");
        dir.join("id_ed25519.pub")
    })
}

fn domain_state(name: &str) -> Option<String> {
    let (ok, out) = virsh(&["domstate", name]);
    ok.then(|| out.trim().to_string())
}

fn pool_volumes() -> Vec<String> {
    virsh(&["pool-refresh", POOL]);
    let (_, out) = virsh(&["vol-list", POOL]);
    out.lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

fn provision_args<'a>(name: &'a str, key: &'a str) -> Vec<&'a str> {
    vec![
        "provision",
        name,
        "256",
        "1",
        "--connect",
        URI,
        "--pool",
        POOL,
        "--image",
        "base.qcow2",
        "--network",
        "user",
        "--domain-type",
        "qemu",
        "--no-wait",
        "--ssh-key",
        key,
        "--validate",
        "internal",
    ]
}

fn inventory(project: &Project) -> String {
    String::from_utf8(project.read("ansible/inventory.ini").unwrap_or_default()).unwrap()
}

#[test]
fn provision_with_user_networking_runs_the_domain_and_destroy_removes_every_trace() {
    let key = setup().display().to_string();
    let _cleanup = Cleanup(vec!["lc-web".into()]);
    let project = Project::new();
    let mut args = provision_args("lc-web", &key);
    args.push("--json");
    let provisioned = project.run(&args);
    provisioned
        .success()
        .stderr_contains("provisioned lc-web at 127.0.0.1:");
    // --json: one typed row on stdout, nothing else.
    let row = provisioned.json();
    assert_eq!(row["name"], "lc-web");
    assert_eq!(row["backend"], "libvirt");
    assert_eq!(row["connection"], URI);
    assert_eq!(row["address"], "127.0.0.1");
    assert_eq!(row["host_key"], "pinned");
    assert_eq!(row["user"], "debian");
    assert!(row["port"].as_u64().is_some() && row["seconds"].as_f64().is_some());
    assert_eq!(domain_state("lc-web").as_deref(), Some("running"));
    let merged = inventory(&project);
    let line = merged
        .lines()
        .find(|l| l.starts_with("lc-web "))
        .unwrap_or_else(|| panic!("no lc-web in\n{merged}"));
    assert!(line.contains("ansible_host=127.0.0.1") && line.contains("ansible_user=debian"));
    let port: u16 = line
        .split_whitespace()
        .find_map(|t| t.strip_prefix("ansible_port="))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line}"));
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "nothing listens on the forwarded port {port}"
    );
    let fragment =
        String::from_utf8(project.read("ansible/inventory.d/lc-web.ini").unwrap()).unwrap();
    assert!(fragment.starts_with("# vm-managed: backend=libvirt connection=qemu:///system"));
    // The host key vm made is recorded, and the fragment makes Ansible check it strictly.
    assert!(
        fragment.contains("StrictHostKeyChecking=yes") && fragment.contains("HostKeyAlias=lc-web")
    );
    let known = String::from_utf8(project.read("ansible/known_hosts").unwrap()).unwrap();
    assert!(
        known
            .lines()
            .any(|l| l.starts_with("lc-web ssh-ed25519 AAAA")),
        "{known}"
    );
    let row = project
        .run(&["--json", "list", "--connect", URI])
        .success()
        .json_row("lc-web");
    assert_eq!(row["state"], "running");
    assert_eq!(row["fragment"], "current");
    assert_eq!(row["address"], format!("127.0.0.1:{port}"));
    assert_eq!(row["backend"], "libvirt");
    assert_eq!(row["host_key"], "pinned");
    assert_eq!(row["memory_mib"], 256);
    assert!(pool_volumes().contains(&"lc-web.qcow2".to_string()));
    // The seed holds the VM's private host key: readable by nobody else.
    use std::os::unix::fs::PermissionsExt;
    let seed = Path::new(common::libvirt::POOL_DIR).join("lc-web-seed.img");
    let mode = std::fs::metadata(&seed).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{} is {mode:o}", seed.display());

    let destroyed = project.run(&["--json", "destroy", "lc-web", "--yes"]);
    destroyed.success();
    let row = destroyed.json();
    assert_eq!(row["existed"], true);
    assert_eq!(row["fragment_removed"], true);
    assert_eq!(row["volumes"].as_array().map(Vec::len), Some(2), "{row}");
    assert_eq!(domain_state("lc-web"), None);
    let volumes = pool_volumes();
    assert!(
        !volumes.iter().any(|v| v.starts_with("lc-web")),
        "volumes left: {volumes:?}"
    );
    assert!(project.read("ansible/inventory.d/lc-web.ini").is_none());
    assert!(!inventory(&project).contains("lc-web"));
    assert!(!Path::new("/var/log/libvirt/qemu/lc-web-serial.log").exists());
    let known = String::from_utf8(project.read("ansible/known_hosts").unwrap_or_default()).unwrap();
    assert!(!known.contains("lc-web"), "{known}");
}

#[test]
fn four_parallel_provisions_get_four_ports_and_one_valid_inventory() {
    let key = setup().display().to_string();
    let names: Vec<String> = (1..=4).map(|i| format!("lc-par{i}")).collect();
    let _cleanup = Cleanup(names.clone());
    let project = Project::new();
    std::thread::scope(|scope| {
        let runs: Vec<_> = names
            .iter()
            .map(|name| {
                let (project, key) = (&project, &key);
                scope.spawn(move || project.run(&provision_args(name, key)))
            })
            .collect();
        for run in runs {
            run.join().unwrap().success();
        }
    });
    let merged = inventory(&project);
    let mut ports: Vec<&str> = merged
        .lines()
        .filter(|l| l.starts_with("lc-par"))
        .filter_map(|l| {
            l.split_whitespace()
                .find_map(|t| t.strip_prefix("ansible_port="))
        })
        .collect();
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 4, "ports not distinct:\n{merged}");
    for name in &names {
        assert_eq!(domain_state(name).as_deref(), Some("running"), "{name}");
    }
    project.run(&["inventory", "check"]).success();
}

#[test]
fn a_domain_undefined_behind_the_tools_back_is_found_by_check_and_pruned() {
    let key = setup().display().to_string();
    let _cleanup = Cleanup(vec!["lc-orphan".into(), "lc-orphan2".into()]);
    let project = Project::new();
    project.run(&provision_args("lc-orphan", &key)).success();
    virsh(&["destroy", "lc-orphan"]);
    virsh(&["undefine", "lc-orphan"]);
    project
        .run(&["inventory", "check"])
        .code(4)
        .stdout_contains("orphan:")
        .stdout_contains("lc-orphan.ini");
    // The next provision warns: the stale fragment would make its first playbook fail.
    project
        .run(&provision_args("lc-orphan2", &key))
        .success()
        .stderr_contains("lc-orphan.ini names a VM that no longer exists");
    project.run(&["inventory", "prune"]).success();
    assert!(project.read("ansible/inventory.d/lc-orphan.ini").is_none());
    assert!(project.read("ansible/inventory.d/lc-orphan2.ini").is_some());
    project.run(&["inventory", "check"]).success();
    // The other way round: a VM of this project whose fragment is gone. Found on the connection
    // vm.toml names (an implicit default is never contacted by `check`).
    std::fs::remove_file(project.root().join("ansible/inventory.d/lc-orphan2.ini")).unwrap();
    project.write("vm.toml", &format!("connect = {URI:?}\n"));
    project
        .run(&["inventory", "check"])
        .code(4)
        .stdout_contains("no fragment: VM lc-orphan2");
    assert!(
        !inventory(&project)
            .lines()
            .any(|l| l.starts_with("lc-orphan "))
    );
}

#[test]
fn bad_input_is_refused_before_anything_is_created() {
    let key = setup().display().to_string();
    let _cleanup = Cleanup(vec!["lc-bad".into(), "lc-taken".into()]);
    let project = Project::new();
    let before = pool_volumes();
    let with = |changes: &[(&str, &str)]| -> Vec<String> {
        let mut args: Vec<String> = provision_args("lc-bad", &key)
            .into_iter()
            .map(str::to_string)
            .collect();
        for (flag, value) in changes {
            let at = args.iter().position(|a| a == flag).unwrap();
            args[at + 1] = value.to_string();
        }
        args
    };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        project.run(&refs)
    };
    run(with(&[("--image", "nope.qcow2")]))
        .code(1)
        .stderr_contains("unknown image");
    run(with(&[("--pool", "no-such-pool")]))
        .code(1)
        .stderr_contains("no storage pool");
    run(with(&[(
        "--connect",
        "qemu+unix:///system?socket=/nonexistent/libvirt-sock",
    )]))
    .code(1)
    .stderr_contains("cannot connect to libvirt");
    run(with(&[("--ssh-key", "/nonexistent.pub")]))
        .code(2)
        .stderr_contains("cannot read SSH public key");
    let mut zero = with(&[]);
    zero[2] = "0".into();
    run(zero).code(2).stderr_contains("out of range");
    let mut huge = with(&[]);
    huge[2] = "4000000".into();
    run(huge).code(1).stderr_contains("MiB of memory asked");
    let mut bad_name = with(&[]);
    bad_name[1] = "../x".into();
    run(bad_name).code(2).stderr_contains("invalid name");
    let mut efi = with(&[]);
    efi.extend(["--firmware".into(), "efi".into()]);
    run(efi)
        .code(2)
        .stderr_contains("invalid value 'efi' for '--firmware <FIRMWARE>'")
        .stderr_contains("[possible values: bios, uefi]");
    // A bad vm.toml is exit 1, as for any of its keys.
    project.write("vm.toml", "firmware = \"efi\"\n");
    run(with(&[]))
        .code(1)
        .stderr_contains("vm.toml")
        .stderr_contains("unknown variant `efi`, expected `bios` or `uefi`");
    std::fs::remove_file(project.root().join("vm.toml")).unwrap();
    // A name that is already a domain.
    project.run(&provision_args("lc-taken", &key)).success();
    let other = Project::new();
    let refs = provision_args("lc-taken", &key);
    other.run(&refs).code(1).stderr_contains("already exists");
    assert!(other.read("ansible/inventory.d/lc-taken.ini").is_none());
    // Other tests create volumes meanwhile; none of this one's may appear.
    assert!(!before.iter().any(|v| v.starts_with("lc-bad")));
    let after: Vec<String> = pool_volumes()
        .into_iter()
        .filter(|v| v.starts_with("lc-bad"))
        .collect();
    assert_eq!(after, Vec::<String>::new(), "bad input created volumes");
    assert!(project.read("ansible/inventory.d/lc-bad.ini").is_none());
}

#[test]
fn a_vm_that_never_answers_ssh_times_out_with_exit_5_and_is_rolled_back() {
    let key = setup().display().to_string();
    let _cleanup = Cleanup(vec!["lc-slow".into()]);
    let project = Project::new();
    let mut args = provision_args("lc-slow", &key);
    args.retain(|a| *a != "--no-wait");
    args.extend(["--timeout", "3"]);
    project
        .run(&args)
        .code(5)
        .stderr_contains("timed out")
        .stderr_contains("SSH of lc-slow")
        .stderr_contains("serial console");
    assert_eq!(
        domain_state("lc-slow"),
        None,
        "the domain was not rolled back"
    );
    assert!(!pool_volumes().iter().any(|v| v.starts_with("lc-slow")));
    assert!(project.read("ansible/inventory.d/lc-slow.ini").is_none());
    // --keep-on-failure keeps it for diagnosis.
    args.push("--keep-on-failure");
    project.run(&args).code(5);
    assert_eq!(domain_state("lc-slow").as_deref(), Some("running"));
    assert!(project.read("ansible/inventory.d/lc-slow.ini").is_none());
}

#[test]
fn apply_makes_four_reapply_changes_nothing_and_an_edit_creates_one_and_prunes_one() {
    let key = setup().display().to_string();
    let names = ["la-1", "la-2", "la-3", "la-4", "la-5"];
    let _cleanup = Cleanup(names.iter().map(|n| n.to_string()).collect());
    let project = Project::new();
    project.write(
        "vm.toml",
        &format!(
            "connect = {URI:?}\npool = {POOL:?}\nimage = \"base.qcow2\"\nnetwork = \"user\"\n\
             domain_type = \"qemu\"\nssh_key = {key:?}\nvalidate = \"internal\"\n"
        ),
    );
    let four =
        "[defaults]\nmemory = 256\nvcpus = 1\n\n[vms.la-1]\n[vms.la-2]\n[vms.la-3]\n[vms.la-4]\n";
    project.write("vms.toml", four);
    project
        .run(&["apply", "--parallel", "4", "--no-wait"])
        .success();
    for name in &names[..4] {
        assert_eq!(domain_state(name).as_deref(), Some("running"), "{name}");
    }
    let before = inventory(&project);
    assert_eq!(
        before.matches("ansible_host=127.0.0.1").count(),
        4,
        "{before}"
    );
    project
        .run(&["apply", "--no-wait"])
        .success()
        .stderr_contains("nothing to do");
    assert_eq!(inventory(&project), before);

    // la-4 leaves the file, la-5 joins it.
    project.write("vms.toml", &four.replace("[vms.la-4]\n", "[vms.la-5]\n"));
    let plan = project.run(&["apply", "--dry-run", "--prune"]);
    plan.success();
    let action = |name: &str| {
        plan.stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .and_then(|l| l.split_whitespace().nth(2))
            .map(str::to_string)
    };
    assert_eq!(action("la-5").as_deref(), Some("create"), "{}", plan.stdout);
    assert_eq!(
        action("la-4").as_deref(),
        Some("destroy"),
        "{}",
        plan.stdout
    );
    assert_eq!(action("la-1").as_deref(), Some("no-op"), "{}", plan.stdout);
    project
        .run(&["apply", "--prune", "--yes", "--no-wait"])
        .success();
    assert_eq!(domain_state("la-4"), None);
    assert_eq!(domain_state("la-5").as_deref(), Some("running"));
    let after = inventory(&project);
    assert!(
        !after.contains("la-4") && after.contains("la-5 "),
        "{after}"
    );
    project.run(&["destroy", "--all", "--yes"]).success();
    for name in names {
        assert_eq!(domain_state(name), None, "{name}");
    }
}

#[test]
fn stop_start_reboot_and_console_act_on_the_domain_and_say_what_they_did() {
    let key = setup().display().to_string();
    let _cleanup = Cleanup(vec!["lc-power".into()]);
    let project = Project::new();
    project.run(&provision_args("lc-power", &key)).success();

    // Nothing in the guest acts on the ACPI button: a graceful stop times out (exit 5) and
    // says how to force it; the domain still runs.
    project
        .run(&["stop", "lc-power", "--timeout", "2"])
        .code(5)
        .stderr_contains("vm stop --force lc-power");
    assert_eq!(domain_state("lc-power").as_deref(), Some("running"));
    let stopped = project.run(&["--json", "stop", "--force", "lc-power"]);
    stopped.success();
    assert_eq!(stopped.json()["result"], "done");
    assert_eq!(domain_state("lc-power").as_deref(), Some("shut off"));
    project
        .run(&["stop", "--force", "lc-power"])
        .success()
        .stderr_contains("lc-power was already off");
    project
        .run(&["console", "lc-power"])
        .code(1)
        .stderr_contains("`vm start lc-power`");
    project
        .run(&["reboot", "lc-power"])
        .code(1)
        .stderr_contains("is not running");

    // The forwarded port is the address: nothing to discover, only SSH to wait for, which
    // this guest never answers: --no-wait.
    project
        .run(&["start", "lc-power", "--no-wait"])
        .success()
        .stderr_contains("started lc-power");
    assert_eq!(domain_state("lc-power").as_deref(), Some("running"));
    project
        .run(&["start", "lc-power"])
        .success()
        .stderr_contains("already running");
    project
        .run(&["reboot", "--force", "lc-power", "--no-wait"])
        .success()
        .stderr_contains("rebooted lc-power");
    assert_eq!(domain_state("lc-power").as_deref(), Some("running"));

    // The serial console, on a real terminal: attached, then left with Ctrl+].
    let (ok, text) = common::libvirt::console_session(&project, "lc-power", &[]);
    assert!(
        ok && text.contains("Connected to domain") && text.contains("lc-power"),
        "{text}"
    );
    project.run(&["destroy", "lc-power", "--yes"]).success();
}

/// The NVRAM file of a domain, from its XML (libvirt names it when the domain is defined).
fn nvram(name: &str) -> Option<PathBuf> {
    let (ok, xml) = virsh(&["dumpxml", name]);
    let start = xml.find("<nvram")?;
    let start = start + xml[start..].find('>')? + 1;
    let end = start + xml[start..].find("</nvram>")?;
    ok.then(|| PathBuf::from(&xml[start..end]))
}

#[test]
fn a_uefi_vm_gets_nvram_of_its_own_which_rollback_and_destroy_remove() {
    let key = setup().display().to_string();
    let name = "lc-uefi";
    let _cleanup = Cleanup(vec![name.into()]);
    // libvirt names the file after the domain; it is made from OVMF's template at the start.
    let file = Path::new("/var/lib/libvirt/qemu/nvram").join(format!("{name}_VARS.fd"));
    let project = Project::new();
    let mut args = provision_args(name, &key);
    args.retain(|a| *a != "--no-wait");
    args.extend(["--firmware", "uefi", "--timeout", "3"]);
    // Started (OVMF finds nothing to boot on the empty disk), no SSH: rolled back, NVRAM too.
    project.run(&args).code(5).stderr_contains("timed out");
    assert_eq!(domain_state(name), None, "the domain was not rolled back");
    assert!(!file.exists(), "rollback left {}", file.display());
    // The same, kept for diagnosis: the domain has that NVRAM file, and destroy removes it.
    args.push("--keep-on-failure");
    project.run(&args).code(5);
    assert_eq!(domain_state(name).as_deref(), Some("running"));
    assert_eq!(nvram(name).as_deref(), Some(file.as_path()));
    assert!(file.is_file(), "{} missing", file.display());
    project
        .run(&["destroy", name, "--yes", "--connect", URI])
        .success();
    assert_eq!(domain_state(name), None);
    assert!(!file.exists(), "destroy left {}", file.display());
    assert!(!pool_volumes().iter().any(|v| v.starts_with(name)));
}
