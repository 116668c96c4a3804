//! A second libvirtd in a network namespace of its own (`scripts/start-libvirtd-netns`), with a
//! NAT network with DHCP like libvirt's `default`: guests get private addresses that only
//! programs run inside the namespace can reach, and nothing there can reach outside it.

use std::net::Ipv4Addr;
use std::ops::RangeInclusive;
use std::path::Path;
use std::process::Command;

use tempfile::TempDir;

use super::libvirt::{is_root, script};

/// Start of the names of the tests' namespaces and state folders, followed by the test
/// process's id: two test runs at once get a namespace each, and a run killed before its guard
/// ran is recognised by its dead process and cleaned up by the next one.
const PREFIX: &str = "vm-nat-";
/// Where the state folders go (`/var/tmp`: QEMU, as libvirt-qemu, must reach the pool).
const STATE_ROOT: &str = "/var/tmp";
/// The NAT network the script defines, and its DHCP range.
pub const NETWORK: &str = "vm-nat";
pub const DHCP_RANGE: RangeInclusive<Ipv4Addr> =
    Ipv4Addr::new(192, 168, 150, 100)..=Ipv4Addr::new(192, 168, 150, 199);
/// The dir pool the script defines.
pub const POOL: &str = "vm-nat";

/// The running namespaced libvirtd; dropping it stops every process in the namespace and
/// deletes it, then removes the daemon's state folder, whatever happened in the test.
pub struct NatLibvirtd {
    /// `qemu:///system?socket=…`, reachable from the host and from the namespace.
    pub uri: String,
    /// The network namespace.
    pub namespace: String,
    dir: TempDir,
}

impl NatLibvirtd {
    /// Starts it (after stopping what a killed earlier run may have left); panics with the
    /// script's output when it cannot.
    pub fn start() -> NatLibvirtd {
        assert!(
            is_root(),
            "the namespaced libvirtd needs root (CI runs the tests as root): run scripts/test as root"
        );
        remove_stale();
        let namespace = format!("{PREFIX}{}", std::process::id());
        let dir = tempfile::Builder::new()
            .prefix(&format!("{namespace}-"))
            .tempdir_in(STATE_ROOT)
            .expect("create the namespaced libvirtd's folder");
        // From here on the guard stops whatever part of the start happened.
        let mut nat = NatLibvirtd {
            uri: String::new(),
            namespace,
            dir,
        };
        let output = script("start-libvirtd-netns")
            .arg(&nat.namespace)
            .arg(nat.dir.path())
            .output()
            .expect("run scripts/start-libvirtd-netns");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "scripts/start-libvirtd-netns failed:\n{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        nat.uri = format!(
            "qemu:///system?socket={}",
            nat.dir.path().join("run/libvirt-sock").display()
        );
        assert!(
            stdout.contains(&format!("uri='{}'", nat.uri)),
            "unexpected output of scripts/start-libvirtd-netns: {stdout}"
        );
        nat
    }

    /// The daemon's state folder (logs under `log/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The program and arguments that run a command inside the namespace.
    pub fn wrapper(&self) -> [&str; 4] {
        ["ip", "netns", "exec", &self.namespace]
    }

    /// `virsh -q -c URI ARGS` against this daemon: whether it succeeded, and its output.
    pub fn virsh(&self, args: &[&str]) -> (bool, String) {
        super::libvirt::virsh_at(&self.uri, args)
    }

    /// Panics unless the namespace still has no way out: no interface but lo, the network's
    /// bridge and guests' taps, and no default route.
    pub fn assert_no_uplink(&self) {
        let ip = |args: &[&str]| {
            let output = Command::new("ip")
                .args(["-n", &self.namespace])
                .args(args)
                .output()
                .expect("run ip");
            assert!(
                output.status.success(),
                "ip -n {} {args:?} failed",
                self.namespace
            );
            String::from_utf8(output.stdout).unwrap()
        };
        for line in ip(&["-o", "link", "show"]).lines() {
            let name = line
                .split(": ")
                .nth(1)
                .unwrap_or("")
                .split('@')
                .next()
                .unwrap();
            assert!(
                name == "lo" || name == "vmnat0" || name.starts_with("vnet"),
                "namespace {} has an interface {name} that could lead outside: {line}",
                self.namespace
            );
        }
        for family in ["-4", "-6"] {
            let routes = ip(&[family, "route", "show", "default"]);
            assert!(
                routes.trim().is_empty(),
                "a default route in {}: {routes}",
                self.namespace
            );
        }
    }
}

impl Drop for NatLibvirtd {
    fn drop(&mut self) {
        stop(&self.namespace);
        if std::thread::panicking() {
            self.print_logs();
        }
    }
}

impl NatLibvirtd {
    /// The ends of the daemon's and the guests' logs, which are in the daemon's state folder
    /// only (where `vm`, looking at `/var/log/libvirt/qemu`, does not find the console), before
    /// the folder goes.
    fn print_logs(&self) {
        let log = self.dir().join("log");
        let mut files = vec![log.join("libvirtd.log")];
        if let Ok(entries) = std::fs::read_dir(log.join("qemu")) {
            files.extend(entries.flatten().map(|e| e.path()));
        }
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(40)..].join("\n");
            eprintln!("--- {} (last 40 lines) ---\n{tail}", file.display());
        }
    }
}

/// Stops the namespaces, and removes the state folders, of test processes that are gone.
fn remove_stale() {
    let dead = |name: &str| {
        let pid = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next());
        pid.is_some_and(|pid| pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists())
    };
    let names = |folder: &str| -> Vec<String> {
        std::fs::read_dir(folder)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| dead(name))
            .collect()
    };
    for namespace in names("/run/netns") {
        stop(&namespace);
    }
    for folder in names(STATE_ROOT) {
        let path = Path::new(STATE_ROOT).join(folder);
        if let Err(e) = std::fs::remove_dir_all(&path) {
            eprintln!(
                "cannot remove {} left by an earlier run: {e}",
                path.display()
            );
        }
    }
}

/// Stops everything in `namespace` and deletes it; says so (cannot panic in a drop) on failure.
fn stop(namespace: &str) {
    match script("stop-libvirtd-netns").arg(namespace).status() {
        Ok(status) if status.success() => {}
        other => eprintln!("scripts/stop-libvirtd-netns {namespace} failed: {other:?}"),
    }
}
