//! End to end on real guests: the Debian image built here (`scripts/build-guest-image`, cached;
//! a GPT disk laid out like Debian's genericcloud images), booted as `type='qemu'` with
//! user-mode networking on a real libvirtd, cloud-init, SSH with the host keys `vm` made, and
//! the real `ansible-playbook` against the merged inventory. The guests boot the three ways vm
//! offers: through BIOS firmware from the disk's GRUB (the two-guest test, and two of the three
//! applied), through UEFI firmware from the disk's ESP (the UEFI test, on a bigger disk that
//! cloud-init grows into), and by direct kernel boot (the third applied guest).
//!
//! Each test runs in steps, because the guests are slow to boot under software emulation and the
//! steps build on each other; a guard removes every VM it made however the test ends.

mod common;

use std::process::Command;

use common::guest::{Boot, guest_project, playbook, playbook_tasks};
use common::libvirt::{Cleanup, POOL, virsh};

const NAMES: [&str; 2] = ["e2e-web", "e2e-db"];

/// Real guests are slow under software emulation on 2 cores: the tests of this file take
/// turns rather than boot five guests at once.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The serial console of `name` as libvirt logged it (kernel messages included).
fn serial_log(name: &str) -> String {
    let path = format!("/var/log/libvirt/qemu/{name}-serial.log");
    String::from_utf8_lossy(&std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .into_owned()
}

/// The text of `<tag>` in `xml` (the first one), for the little read here from `virsh dumpxml`.
fn element_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = xml.find(&format!("<{tag}"))?;
    let start = open + xml[open..].find('>')? + 1;
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(&xml[start..end])
}

#[test]
fn two_guests_boot_run_cloud_init_and_answer_ansible_with_verified_host_keys() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _cleanup = Cleanup(NAMES.iter().map(|n| n.to_string()).collect());
    let (project, key) = guest_project("user", Boot::Bios);

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
    // SeaBIOS ran the disk's GRUB (only GRUB passes BOOT_IMAGE), which ran its grub.cfg.
    for name in NAMES {
        let log = serial_log(name);
        assert!(
            log.contains("Command line: BOOT_IMAGE=/boot/vmlinuz root=PARTUUID="),
            "{name} was not booted by the disk's GRUB:\n{log}"
        );
    }

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
    let (project, key) = guest_project("user", Boot::Bios);
    // The third boots its kernel directly (apply's per-VM settings carry kernel and initrd).
    let imported = common::guest::import();
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
        &format!(
            "[defaults]\nmemory = 768\nvcpus = 1\ngroups = [\"app\"]\n\n\
             [vms.app1]\nname = \"e2e-app-1\"\n[vms.app2]\nname = \"e2e-app-2\"\n\
             [vms.app3]\nname = \"e2e-app-3\"\nkernel = {:?}\ninitrd = {:?}\n",
            imported.kernel, imported.initrd
        ),
    );
    let started = std::time::Instant::now();
    let applied = project.run(&["apply", "--parallel", "3", "--stagger", "5"]);
    applied.success();
    println!("three guests applied in {:?}", started.elapsed());
    assert!(serial_log("e2e-app-1").contains("Command line: BOOT_IMAGE=/boot/vmlinuz"));
    // No boot loader: QEMU loaded the kernel, with vm's default command line.
    let log = serial_log("e2e-app-3");
    assert!(
        log.contains("Command line: root=/dev/vda1 rw console=ttyS0"),
        "e2e-app-3 was not booted directly:\n{log}"
    );
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

#[test]
fn a_uefi_guest_boots_its_esp_grows_its_root_to_the_disk_and_destroy_removes_its_nvram() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let name = "e2e-uefi";
    let _cleanup = Cleanup(vec![name.to_string()]);
    // vm.toml says bios; the flag wins. The disk is 6 GiB, the image 4 GiB.
    let (project, key) = guest_project("user", Boot::Bios);
    let started = std::time::Instant::now();
    project
        .run(&[
            "provision",
            name,
            "1024",
            "1",
            "--firmware",
            "uefi",
            "--disk",
            "6G",
        ])
        .success();
    println!("UEFI guest ready in {:?}", started.elapsed());

    // libvirt picked OVMF without secure boot and made this VM an NVRAM file of its own.
    let (ok, xml) = virsh(&["dumpxml", name]);
    assert!(ok, "{xml}");
    let loader = element_text(&xml, "loader").expect("a <loader> after firmware autoselection");
    assert!(loader.contains("OVMF"), "{xml}");
    assert!(!xml.contains("secure='yes'"), "{xml}");
    let nvram = element_text(&xml, "nvram")
        .expect("an <nvram> file")
        .to_string();
    assert!(std::path::Path::new(&nvram).is_file(), "{nvram} missing");
    // OVMF ran the ESP's removable-media GRUB, which booted the root partition's kernel.
    let log = serial_log(name);
    assert!(
        log.contains("Command line: BOOT_IMAGE=/boot/vmlinuz root=PARTUUID="),
        "{name} was not booted by the ESP's GRUB:\n{log}"
    );

    // Ansible (host key checked) reads the sizes: cloud-init's growpart grew the last partition
    // to the disk's end and resizefs grew the file system with it.
    let (ok, out) = playbook_tasks(
        &project,
        &key,
        Some(name),
        "    - ansible.builtin.command: lsblk -bdno SIZE /dev/vda /dev/vda1\n      \
         register: lsblk\n      changed_when: false\n    \
         - ansible.builtin.command: df -B1 --output=size /\n      register: df\n      \
         changed_when: false\n    \
         - ansible.builtin.debug:\n        \
         msg: \"sizes {{ lsblk.stdout_lines | join(' ') }} {{ df.stdout_lines[-1] | trim }} end\"\n",
    );
    assert!(ok, "ansible-playbook failed:\n{out}");
    let sizes: Vec<u64> = out
        .split("sizes ")
        .nth(1)
        .and_then(|rest| rest.split(" end").next())
        .unwrap_or_else(|| panic!("no sizes in:\n{out}"))
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    let [disk, root_partition, root_fs] = sizes[..] else {
        panic!("three sizes expected: {sizes:?}\n{out}");
    };
    assert_eq!(disk, 6 << 30, "{out}");
    // Partition 1 starts at 128 MiB and now ends before the backup GPT (1 MiB alignment).
    assert!(root_partition >= disk - (129 << 20), "{sizes:?}");
    // The file system (less its own overhead) is bigger than the whole 4 GiB image was.
    assert!(root_fs > 5 << 30, "{sizes:?}");

    // Destroy: no domain, no volume, no NVRAM file left.
    project.run(&["destroy", name, "--yes"]).success();
    let (_, domains) = virsh(&["list", "--all", "--name"]);
    assert!(!domains.contains(name), "{domains}");
    let (_, volumes) = virsh(&["vol-list", POOL]);
    assert!(!volumes.contains(name), "{volumes}");
    assert!(
        !std::path::Path::new(&nvram).exists(),
        "{nvram} left behind"
    );
}
