//! End to end on real guests: the Debian image built here (`scripts/build-guest-image`, cached),
//! booted as `type='qemu'` with user-mode networking on a real libvirtd, cloud-init, SSH with
//! the host keys `vm` made, and the real `ansible-playbook` against the merged inventory.
//!
//! One test, in steps, because the guests are slow to boot under software emulation and the
//! steps build on each other; a guard removes every VM it made however the test ends.

mod common;

use std::path::Path;
use std::process::Command;

use common::libvirt::{Cleanup, POOL, URI, script, start_libvirtd, virsh};
use common::{Project, ansible_bin};

const BOOT_DIR: &str = "/var/tmp/vm-tests-boot";
const NAMES: [&str; 2] = ["e2e-web", "e2e-db"];

/// Counts playbook runs, for one control path folder each.
static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Runs `ansible-playbook` on the project's merged inventory.
fn playbook(project: &Project, key: &Path, limit: Option<&str>) -> (bool, String) {
    let playbook = project.root().join("facts.yml");
    std::fs::write(
        &playbook,
        "- hosts: all\n  gather_facts: true\n  tasks:\n    - ansible.builtin.debug:\n        \
         msg: \"{{ inventory_hostname }} is {{ ansible_facts['hostname'] }}\"\n",
    )
    .unwrap();
    let config = project.root().join("ansible-test.cfg");
    std::fs::write(&config, "[defaults]\nretry_files_enabled = False\n").unwrap();
    let mut command = Command::new(ansible_bin().join("ansible-playbook"));
    command
        .arg("-i")
        .arg(project.inventory_ini())
        .arg(&playbook)
        .arg("--private-key")
        .arg(key)
        .env("ANSIBLE_HOST_KEY_CHECKING", "True")
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_CONFIG", &config)
        // A fresh control path per run: a persistent connection of an earlier run would skip the
        // host key check this test is about.
        .env(
            "ANSIBLE_SSH_CONTROL_PATH_DIR",
            project.root().join(format!(
                "cp-{}",
                RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            )),
        )
        .env("ANSIBLE_PYTHON_INTERPRETER", "auto_silent");
    if let Some(limit) = limit {
        command.args(["--limit", limit]);
    }
    let output = command.output().expect("run ansible-playbook");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

/// Real guests are slow under software emulation on 2 cores: the tests of this file take
/// turns rather than boot five guests at once.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// libvirtd, the imported guest image, and a project whose vm.toml boots it; returns the
/// project and the user's private key.
fn guest_project() -> (Project, std::path::PathBuf) {
    start_libvirtd();
    let imported = script("import-guest-image")
        .args([POOL, BOOT_DIR])
        .output()
        .expect("run scripts/import-guest-image");
    assert!(
        imported.status.success(),
        "scripts/import-guest-image failed:\n{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let line = String::from_utf8(imported.stdout).unwrap();
    let field = |name: &str| -> String {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in {line:?}"))
            .to_string()
    };
    let (image, kernel, initrd) = (field("image"), field("kernel"), field("initrd"));
    let project = Project::new();
    let key = project.root().join("id_ed25519");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    project.write(
        "vm.toml",
        &format!(
            "connect = {URI:?}\npool = {POOL:?}\nimage = {image:?}\nkernel = {kernel:?}\n\
             initrd = {initrd:?}\ncmdline = \"root=/dev/vda rw console=ttyS0\"\n\
             network = \"user\"\ndomain_type = \"qemu\"\nssh_key = {:?}\ntimeout = 900\n\
             validate = \"internal\"\n",
            key.with_extension("pub").display().to_string()
        ),
    );
    (project, key)
}

#[test]
fn two_guests_boot_run_cloud_init_and_answer_ansible_with_verified_host_keys() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _cleanup = Cleanup(NAMES.iter().map(|n| n.to_string()).collect());
    let (project, key) = guest_project();

    // Two at once: both reach SSH and cloud-init done (provision waits for both).
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        let web =
            scope.spawn(|| project.run(&["provision", "e2e-web", "1024", "1", "--group", "web"]));
        let db =
            scope.spawn(|| project.run(&["provision", "e2e-db", "1024", "1", "--group", "db"]));
        web.join().unwrap().success();
        db.join().unwrap().success();
    });
    println!("two guests ready in {:?}", started.elapsed());

    // Facts from both, host keys checked strictly against ansible/known_hosts.
    let (ok, out) = playbook(&project, &key, None);
    assert!(ok, "ansible-playbook failed:\n{out}");
    assert!(
        out.contains("e2e-web is e2e-web") && out.contains("e2e-db is e2e-db"),
        "{out}"
    );

    // Hosts are keyed by name, so --limit works.
    let (ok, out) = playbook(&project, &key, Some("e2e-db"));
    assert!(ok, "{out}");
    assert!(
        out.contains("e2e-db is e2e-db") && !out.contains("e2e-web is"),
        "{out}"
    );

    // A wrong host key in known_hosts makes Ansible refuse the host.
    let known_hosts = project.root().join("ansible/known_hosts");
    let original = std::fs::read_to_string(&known_hosts).unwrap();
    let other = project.root().join("other");
    Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .unwrap();
    let other_public = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let other_public: Vec<&str> = other_public.split_whitespace().take(2).collect();
    let tampered: String = original
        .lines()
        .map(|l| {
            if l.starts_with("e2e-web ") {
                format!("e2e-web {}\n", other_public.join(" "))
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&known_hosts, tampered).unwrap();
    let (ok, out) = playbook(&project, &key, Some("e2e-web"));
    assert!(!ok, "Ansible accepted a wrong host key:\n{out}");
    assert!(
        out.contains("Host key verification failed")
            || out.contains("HOST IDENTIFICATION HAS CHANGED"),
        "{out}"
    );
    std::fs::write(&known_hosts, &original).unwrap();

    // Destroy one: only the other is left in the inventory and known_hosts, no volume of it.
    project.run(&["destroy", "e2e-web", "--yes"]).success();
    let inventory = std::fs::read_to_string(project.inventory_ini()).unwrap();
    assert!(
        !inventory.contains("e2e-web") && inventory.contains("e2e-db"),
        "{inventory}"
    );
    let known = std::fs::read_to_string(&known_hosts).unwrap();
    assert!(
        !known.contains("e2e-web") && known.contains("e2e-db"),
        "{known}"
    );
    let (_, volumes) = virsh(&["vol-list", POOL]);
    assert!(!volumes.contains("e2e-web"), "{volumes}");

    project.run(&["destroy", "e2e-db", "--yes"]).success();
    let (_, domains) = virsh(&["list", "--all", "--name"]);
    assert!(!domains.contains("e2e-"), "{domains}");
}

#[test]
fn three_guests_applied_with_a_stagger_answer_ansible_with_verified_host_keys() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let names = ["e2e-app-1", "e2e-app-2", "e2e-app-3"];
    let _cleanup = Cleanup(names.iter().map(|n| n.to_string()).collect());
    let (project, key) = guest_project();
    // With [dns]: user-mode guests are reached through loopback forwards, which get no record.
    let bind = common::bind::Bind::start();
    let vm_toml = String::from_utf8(project.read("vm.toml").unwrap()).unwrap();
    project.write(
        "vm.toml",
        &format!(
            "{vm_toml}\n[dns]\nserver = {:?}\nzone = \"home.lab\"\nkey_file = {:?}\n",
            bind.server(),
            bind.key_file().display().to_string()
        ),
    );
    project.write(
        "vms.toml",
        "[defaults]\nmemory = 768\nvcpus = 1\ngroups = [\"app\"]\n\n\
         [vms.app1]\nname = \"e2e-app-1\"\n[vms.app2]\nname = \"e2e-app-2\"\n\
         [vms.app3]\nname = \"e2e-app-3\"\n",
    );
    let started = std::time::Instant::now();
    let applied = project.run(&["apply", "--parallel", "3", "--stagger", "5"]);
    applied.success();
    println!("three guests applied in {:?}", started.elapsed());
    for name in names {
        assert!(applied.stdout.contains(name), "{}", applied.describe());
        assert!(
            applied
                .stderr
                .contains(&format!("no DNS record for {name}.home.lab")),
            "{}",
            applied.describe()
        );
        assert_eq!(bind.dig(&format!("{name}.home.lab"), "A"), "");
    }
    let (ok, out) = playbook(&project, &key, Some("app"));
    assert!(ok, "ansible-playbook failed:\n{out}");
    for name in names {
        assert!(out.contains(&format!("{name} is {name}")), "{out}");
    }
    let inventory = std::fs::read_to_string(project.inventory_ini()).unwrap();
    assert!(
        inventory.contains("StrictHostKeyChecking=yes"),
        "{inventory}"
    );
    project.run(&["destroy", "--all", "--yes"]).success();
    let (_, domains) = virsh(&["list", "--all", "--name"]);
    assert!(!domains.contains("e2e-app"), "{domains}");
}
