//! Support for the tests that use a real libvirtd: root check, `virsh`, and removing a test's
//! VMs (domain, volumes, logs) however the test ends.

use std::path::Path;
use std::process::Command;

/// The libvirt the tests use.
pub const URI: &str = "qemu:///system";
/// The pool the tests use, created by `scripts/start-libvirtd`.
pub const POOL: &str = "vm-tests";
/// Where that pool keeps its volumes.
pub const POOL_DIR: &str = "/var/tmp/vm-tests-pool";

/// Whether the tests run as root, which a real libvirtd needs.
pub fn is_root() -> bool {
    unsafe extern "C" {
        fn geteuid() -> u32;
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { geteuid() == 0 }
}

/// Runs `scripts/<name>` with bash.
pub fn script(name: &str) -> Command {
    let mut command = Command::new("bash");
    command.arg(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scripts")
            .join(name),
    );
    command
}

/// Starts libvirtd and the test pool (idempotent); panics with what to do when it cannot.
pub fn start_libvirtd() {
    assert!(
        is_root(),
        "the libvirt tests need root (CI runs them as root): run scripts/test as root"
    );
    let status = script("start-libvirtd")
        .env("VM_TEST_POOL", POOL)
        .env("VM_TEST_POOL_DIR", POOL_DIR)
        .status()
        .expect("run scripts/start-libvirtd");
    assert!(status.success(), "scripts/start-libvirtd failed");
}

/// The empty 64 MiB base image (`base.qcow2` in the test pool) that test VMs, which boot
/// nothing from disk, are made on; created once and kept for the next run.
pub const BASE_IMAGE: &str = "base.qcow2";

/// Creates [`BASE_IMAGE`] in the test pool unless it is there.
pub fn ensure_base_image() {
    ensure_base_image_at(URI, POOL);
}

/// Creates [`BASE_IMAGE`] (an empty 64 MiB qcow2) in `pool` of the libvirtd at `uri` unless it
/// is there.
pub fn ensure_base_image_at(uri: &str, pool: &str) {
    if !virsh_at(uri, &["vol-info", "--pool", pool, BASE_IMAGE]).0 {
        let (ok, out) = virsh_at(
            uri,
            &[
                "vol-create-as",
                pool,
                BASE_IMAGE,
                "64M",
                "--format",
                "qcow2",
            ],
        );
        assert!(ok, "cannot create the base image: {out}");
    }
}

/// `virsh -q -c URI ARGS` against the test libvirtd: whether it succeeded, and its output.
pub fn virsh(args: &[&str]) -> (bool, String) {
    virsh_at(URI, args)
}

/// `virsh -q -c URI ARGS`: whether it succeeded, and its output.
pub fn virsh_at(uri: &str, args: &[&str]) -> (bool, String) {
    let output = Command::new("virsh")
        .args(["-q", "-c", uri])
        .args(args)
        .output()
        .expect("run virsh");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

/// Removes the named VMs (domain, the volumes `vm` makes, logs) when dropped.
pub struct Cleanup(pub Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for name in &self.0 {
            virsh(&["destroy", name]);
            virsh(&["undefine", name, "--nvram"]);
            for volume in [format!("{name}.qcow2"), format!("{name}-seed.img")] {
                virsh(&["vol-delete", "--pool", POOL, &volume]);
            }
            for log in [format!("{name}.log"), format!("{name}-serial.log")] {
                let _ = std::fs::remove_file(Path::new("/var/log/libvirt/qemu").join(log));
            }
        }
    }
}

/// `vm console NAME` on a real terminal (script(1) gives virsh one): sends each of `keys` after
/// its pause, then Ctrl+] to leave; returns whether it ended well and what the terminal showed.
pub fn console_session(
    project: &super::Project,
    name: &str,
    keys: &[(std::time::Duration, &[u8])],
) -> (bool, String) {
    use std::io::Write;
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c"])
        .arg(format!(
            "{} --project {} console {name}",
            super::vm_bin().display(),
            project.root().display()
        ))
        .arg("/dev/null")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run script (bsdutils)");
    let mut stdin = child.stdin.take().expect("piped stdin");
    for (pause, bytes) in keys
        .iter()
        .copied()
        .chain([(std::time::Duration::from_secs(2), &b"\x1d"[..])])
    {
        std::thread::sleep(pause);
        stdin.write_all(bytes).expect("type into the console");
    }
    let out = child.wait_with_output().expect("wait for vm console");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}
