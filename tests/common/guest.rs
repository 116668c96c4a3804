//! Real guests: a project whose vm.toml boots the Debian image of `scripts/build-guest-image`
//! (cached; imported into the test pool by `scripts/import-guest-image`) on the test libvirtd as
//! `type='qemu'` (TCG), and `ansible-playbook` against the project's merged inventory with
//! strict host key checking.
//!
//! ```ignore
//! let (project, key) = guest_project("user", Boot::Bios);
//! project.run(&["provision", "g-1", "1024", "1"]).success();
//! let (ok, out) = playbook(&project, &key, Some("g-1"));
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

use super::Project;
use super::libvirt::{POOL, URI, script, start_libvirtd};

/// Where `scripts/import-guest-image` puts the image's kernel and initrd for direct kernel boot.
pub const BOOT_DIR: &str = "/var/tmp/vm-tests-boot";

/// How a test guest boots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boot {
    /// SeaBIOS runs the disk's GRUB (MBR boot.img, core.img in the BIOS boot partition), as a
    /// downloaded cloud image boots: vm's default.
    Bios,
    /// OVMF (`firmware = "uefi"`) runs the ESP's `\EFI\BOOT\BOOTX64.EFI`.
    Uefi,
    /// Direct kernel boot: QEMU loads the image's kernel and initrd (`kernel`, `initrd` in
    /// vm.toml; vm's default cmdline, `root=/dev/vda1`), no boot loader.
    Kernel,
}

/// The guest image, imported into the test pool: its volume name, and its kernel and initrd
/// where QEMU can read them.
#[derive(Debug, Clone)]
pub struct Imported {
    /// Volume of the test pool (`image` in vm.toml).
    pub image: String,
    /// The image's kernel, for `kernel` (direct kernel boot).
    pub kernel: String,
    /// The image's initrd, for `initrd`.
    pub initrd: String,
}

/// Starts libvirtd and imports the guest image into the test pool (built first if it is not
/// cached; idempotent).
pub fn import() -> Imported {
    start_libvirtd();
    import_into(URI, POOL)
}

/// Imports the guest image into `pool` of the libvirtd at `uri` (another daemon than the test
/// one: the NAT network test's).
pub fn import_into(uri: &str, pool: &str) -> Imported {
    let imported = script("import-guest-image")
        .args([pool, BOOT_DIR])
        .env("VM_LIBVIRT_URI", uri)
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
    Imported {
        image: field("image"),
        kernel: field("kernel"),
        initrd: field("initrd"),
    }
}

/// libvirtd, the imported guest image, and a project whose vm.toml boots it on `network`
/// (`user`, or a libvirt network's name) the `boot` way, with a key pair made for the test;
/// returns the project and the private key.
pub fn guest_project(network: &str, boot: Boot) -> (Project, PathBuf) {
    let imported = import();
    project_booting(URI, POOL, &imported, network, boot)
}

/// A project whose vm.toml boots `imported` from `pool` of the libvirtd at `uri` on `network`,
/// the `boot` way, with a key pair made for the test; returns the project and the private key.
pub fn project_booting(
    uri: &str,
    pool: &str,
    imported: &Imported,
    network: &str,
    boot: Boot,
) -> (Project, PathBuf) {
    let project = Project::new();
    let key = project.root().join("id_ed25519");
    super::keygen(&key, "test");
    let boot = match boot {
        Boot::Bios => "firmware = \"bios\"\n".to_string(),
        Boot::Uefi => "firmware = \"uefi\"\n".to_string(),
        Boot::Kernel => format!(
            "kernel = {:?}\ninitrd = {:?}\n",
            imported.kernel, imported.initrd
        ),
    };
    project.write(
        "vm.toml",
        &format!(
            "connect = {uri:?}\npool = {pool:?}\nimage = {:?}\n{boot}network = {network:?}\n\
             domain_type = \"qemu\"\nssh_key = {:?}\ntimeout = 900\nvalidate = \"internal\"\n",
            imported.image,
            key.with_extension("pub").display().to_string()
        ),
    );
    (project, key)
}

/// Counts playbook runs, for one control path folder each.
static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Runs a playbook gathering facts and printing `<inventory name> is <guest's hostname>` for
/// every host (of `limit`), on the project's merged inventory; whether it passed, and its output.
pub fn playbook(project: &Project, key: &Path, limit: Option<&str>) -> (bool, String) {
    playbook_tasks(
        project,
        key,
        limit,
        "    - ansible.builtin.debug:\n        \
         msg: \"{{ inventory_hostname }} is {{ ansible_facts['hostname'] }}\"\n",
    )
}

/// Runs a playbook of `tasks` (YAML, indented 4) with facts gathered, for every host (of
/// `limit`) of the project's merged inventory, host keys checked strictly against the project's
/// `ansible/known_hosts` (through the inventory's SSH arguments); whether it passed, and its
/// output.
pub fn playbook_tasks(
    project: &Project,
    key: &Path,
    limit: Option<&str>,
    tasks: &str,
) -> (bool, String) {
    playbook_under(&[], project, key, limit, tasks)
}

/// [`playbook_tasks`], run through `wrapper` (`ip netns exec NS`: inside a network namespace).
pub fn playbook_under(
    wrapper: &[&str],
    project: &Project,
    key: &Path,
    limit: Option<&str>,
    tasks: &str,
) -> (bool, String) {
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let playbook = project.root().join(format!("playbook-{run}.yml"));
    std::fs::write(
        &playbook,
        format!("- hosts: all\n  gather_facts: true\n  tasks:\n{tasks}"),
    )
    .unwrap();
    let config = project.root().join("ansible-test.cfg");
    std::fs::write(&config, "[defaults]\nretry_files_enabled = False\n").unwrap();
    let program = super::ansible_bin().join("ansible-playbook");
    let mut command = match wrapper {
        [] => Command::new(&program),
        [first, rest @ ..] => {
            let mut command = Command::new(first);
            command.args(rest).arg(&program);
            command
        }
    };
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
        // host key check.
        .env(
            "ANSIBLE_SSH_CONTROL_PATH_DIR",
            project.root().join(format!("cp-{run}")),
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
