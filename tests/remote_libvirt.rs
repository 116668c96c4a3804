//! `vm` against a remote libvirt host over `qemu+ssh://`, for real: the test starts its own
//! OpenSSH server on 127.0.0.1 (its own config, host key, authorized key and pid file; nothing
//! of the system's ssh configuration is read or written). libvirt's `ssh` transport runs the
//! program named by the URI's `command=` parameter: here a wrapper that runs `ssh -F CONFIG`,
//! whose config verifies the host key against the test's own known_hosts file with
//! `StrictHostKeyChecking yes`.
//!
//! The remote host's libvirtd is a second libvirtd in a network namespace the test makes
//! (`common::netns`, as in `tests/nat_network.rs`), with its NAT network `vm-nat`: the URI's
//! `socket=` names that daemon's socket, which libvirt's ssh transport reaches on the far side
//! of the ssh hop with `nc -U SOCKET` (a `socket=` makes libvirt 9 use netcat, not
//! virt-ssh-helper, which would open the shared daemon's socket instead). So the ssh traffic
//! stays on the host's loopback, and the guest's only traffic stays in the namespace.
//!
//! Guests boot nothing from disk: the domain template of the test project boots from the
//! network, so QEMU's iPXE firmware asks the namespace's dnsmasq for a DHCP lease, which is how
//! `vm` learns the address (from libvirt's API, over ssh), as it would of a real guest on a remote
//! host. `--no-wait` skips SSH to the guest: nothing on the host sends it a packet.
//!
//! Needs root (the namespace, sshd) and what `scripts/start-libvirtd` installs (libvirt, QEMU,
//! netcat-openbsd).

mod common;

use std::ops::Deref;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use common::Project;
use common::libvirt::{BASE_IMAGE, Cleanup, start_libvirtd, virsh};
use common::netns::{DHCP_RANGE, NETWORK, NatLibvirtd, POOL};
use common::sshd::Sshd;

/// The libvirt network, and the guests on it, that earlier versions of this test made on the
/// shared libvirtd (the host's network namespace). Removed when found, so that machines which
/// ran those versions end clean.
const OLD_NETWORK: &str = "vm-rmt-net";
const OLD_GUESTS: [&str; 4] = ["rmt-web", "rmt-user", "rmt-mitm", "rmt-gone"];

/// Removes what earlier versions of this test may have left on the shared libvirtd, once per
/// test binary.
fn remove_old_network() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        start_libvirtd();
        drop(Cleanup(OLD_GUESTS.map(String::from).to_vec()));
        if virsh(&["net-info", OLD_NETWORK]).0 {
            virsh(&["net-destroy", OLD_NETWORK]);
            virsh(&["net-undefine", OLD_NETWORK]);
        }
        let (exists, out) = virsh(&["net-info", OLD_NETWORK]);
        assert!(
            !exists,
            "cannot remove the network {OLD_NETWORK} an earlier version of this test left: {out}"
        );
    });
}

/// The remote host's libvirtd, shared by this binary's tests while any of them runs: the last
/// one to drop its handle stops the daemon (its guests, dnsmasq, the namespace) and removes its
/// folder; a test starting after that gets a new one.
struct RemoteLibvirtd(Option<Arc<NatLibvirtd>>);

static RUNNING: Mutex<Weak<NatLibvirtd>> = Mutex::new(Weak::new());

impl RemoteLibvirtd {
    fn get() -> RemoteLibvirtd {
        remove_old_network();
        let mut running = RUNNING.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(nat) = running.upgrade() {
            return RemoteLibvirtd(Some(nat));
        }
        let nat = NatLibvirtd::start();
        // The empty disk the guests are made on (they boot from the network).
        common::libvirt::ensure_base_image_at(&nat.uri, POOL);
        let nat = Arc::new(nat);
        *running = Arc::downgrade(&nat);
        RemoteLibvirtd(Some(nat))
    }

    /// The daemon's socket, as the far side of the ssh hop names it.
    fn socket(&self) -> PathBuf {
        self.dir().join("run/libvirt-sock")
    }
}

impl Deref for RemoteLibvirtd {
    type Target = NatLibvirtd;
    fn deref(&self) -> &NatLibvirtd {
        self.0.as_ref().unwrap()
    }
}

impl Drop for RemoteLibvirtd {
    fn drop(&mut self) {
        // Under the lock: a test starting meanwhile waits for the stop, then starts its own
        // (the namespace is named after this process, so there is one at a time).
        let _running = RUNNING.lock().unwrap_or_else(PoisonError::into_inner);
        self.0.take();
    }
}

/// The "remote host": an sshd on 127.0.0.1 that lets in one key the test made
/// (`common::sshd`, stopped when this is dropped), and the client side that reaches it
/// (known_hosts, ssh config, the wrapper the URI names).
struct RemoteHost {
    sshd: Sshd,
    dir: tempfile::TempDir,
    port: u16,
}

impl RemoteHost {
    fn start() -> RemoteHost {
        let dir = tempfile::Builder::new()
            .prefix("vm-remote-")
            .tempdir()
            .unwrap();
        let d = dir.path().to_path_buf();
        let sshd = Sshd::start(&d.join("sshd"));
        // Client side: only these files, never ~/.ssh or /etc/ssh/ssh_config (-F replaces both).
        let ssh_config = format!(
            "UserKnownHostsFile {d}/known_hosts\nGlobalKnownHostsFile /dev/null\n\
             StrictHostKeyChecking yes\nIdentityFile {}\nIdentitiesOnly yes\n\
             BatchMode yes\n",
            sshd.client_key.display(),
            d = d.display()
        );
        write(&d.join("ssh_config"), &ssh_config, 0o600);
        write(
            &d.join("ssh"),
            &format!(
                "#!/bin/sh\nexec ssh -F '{}/ssh_config' \"$@\"\n",
                d.display()
            ),
            0o755,
        );
        let port = sshd.port;
        let host = RemoteHost { sshd, dir, port };
        host.trust(&host.sshd.host_key.clone());
        host
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The URI `vm` is given: libvirt's ssh transport through the wrapper, to the daemon
    /// whose socket on this host is `socket`.
    fn uri(&self, socket: &Path) -> String {
        format!(
            "qemu+ssh://root@127.0.0.1:{}/system?socket={}&command={}/ssh",
            self.port,
            socket.display(),
            self.dir().display()
        )
    }

    /// Makes known_hosts hold `key` (`type base64`, a comment ignored) for this host, and
    /// nothing else.
    fn trust(&self, key: &str) {
        let key: Vec<&str> = key.split_whitespace().take(2).collect();
        write(
            &self.dir().join("known_hosts"),
            &format!("[127.0.0.1]:{} {}\n", self.port, key.join(" ")),
            0o600,
        );
    }
}

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A project whose vm.toml names the remote host, and whose domain template boots from the
/// network (the built-in one with `<boot dev='network'/>` for `<boot dev='hd'/>`).
fn project(uri: &str) -> (Project, PathBuf) {
    let project = Project::new();
    let builtin = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/domain.xml.tera"),
    )
    .unwrap();
    assert!(builtin.contains("<boot dev='hd'/>"), "the template changed");
    project.write(
        "templates/domain.xml.tera",
        &builtin.replace("<boot dev='hd'/>", "<boot dev='network'/>"),
    );
    project.write(
        "vm.toml",
        &format!(
            "connect = {uri:?}\npool = {POOL:?}\nimage = {BASE_IMAGE:?}\nnetwork = {NETWORK:?}\n\
             domain_type = \"qemu\"\nvalidate = \"internal\"\n"
        ),
    );
    let key = project.root().join("id_ed25519");
    common::keygen(&key, "test");
    (project, key.with_extension("pub"))
}

fn provision<'a>(name: &'a str, key: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "provision",
        name,
        "256",
        "1",
        "--no-wait",
        "--timeout",
        "300",
        "--ssh-key",
        key,
    ];
    args.extend_from_slice(extra);
    args
}

fn domain_exists(libvirtd: &NatLibvirtd, name: &str) -> bool {
    libvirtd.virsh(&["domstate", name]).0
}

fn volumes_of(libvirtd: &NatLibvirtd, name: &str) -> Vec<String> {
    let (ok, out) = libvirtd.virsh(&["pool-refresh", POOL]);
    assert!(ok, "virsh pool-refresh {POOL}: {out}");
    let (_, out) = libvirtd.virsh(&["vol-list", POOL]);
    out.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|v| v.starts_with(&format!("{name}.")) || v.starts_with(&format!("{name}-")))
        .map(str::to_string)
        .collect()
}

/// Nothing of `name` anywhere: no domain, no volume, no fragment.
fn assert_nothing_made(libvirtd: &NatLibvirtd, project: &Project, name: &str) {
    assert!(!domain_exists(libvirtd, name), "domain {name} was made");
    assert_eq!(volumes_of(libvirtd, name), Vec::<String>::new());
    assert!(
        project
            .read(&format!("ansible/inventory.d/{name}.ini"))
            .is_none()
    );
}

#[test]
fn a_vm_on_a_remote_host_over_ssh_is_provisioned_listed_checked_and_destroyed() {
    let libvirtd = RemoteLibvirtd::get();
    let root_ssh_existed = Path::new("/root/.ssh").exists();
    let host = RemoteHost::start();
    let uri = host.uri(&libvirtd.socket());
    let (project, key) = project(&uri);
    let key = key.display().to_string();

    let mut args = provision("rmt-web", &key, &[]);
    args.push("--json");
    let provisioned = project.run(&args);
    provisioned.success();
    let row = provisioned.json();
    assert_eq!(row["connection"], uri.as_str());
    let address = row["address"].as_str().unwrap().to_string();
    assert!(
        address
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|address| DHCP_RANGE.contains(&address)),
        "the address is a lease of the remote host's network, in {DHCP_RANGE:?}: {row}"
    );
    assert_eq!(row["port"], serde_json::Value::Null);
    // The remote host's daemon has the domain, with both volumes, and dnsmasq leased that
    // address to its interface.
    assert!(domain_exists(&libvirtd, "rmt-web"));
    assert_eq!(volumes_of(&libvirtd, "rmt-web").len(), 2);
    let (_, interfaces) = libvirtd.virsh(&["domiflist", "rmt-web"]);
    let mac = interfaces
        .split_whitespace()
        .find(|f| f.len() == 17 && f.matches(':').count() == 5)
        .unwrap_or_else(|| panic!("no MAC address in {interfaces}"));
    let (ok, leases) = libvirtd.virsh(&["net-dhcp-leases", NETWORK, "--mac", mac]);
    assert!(ok, "virsh net-dhcp-leases {NETWORK}: {leases}");
    let leases: Vec<&str> = leases.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        matches!(leases[..], [lease] if lease.contains(&format!(" {address}/"))),
        "{address} is not the one lease of {mac}: {leases:?}"
    );
    libvirtd.assert_no_uplink();

    let fragment =
        String::from_utf8(project.read("ansible/inventory.d/rmt-web.ini").unwrap()).unwrap();
    let marker = fragment.lines().next().unwrap();
    assert_eq!(
        marker,
        format!("# vm-managed: backend=libvirt connection={uri}"),
        "{fragment}"
    );
    assert!(
        fragment.contains(&format!("ansible_host={address}")),
        "{fragment}"
    );

    let listed = project.run(&["--json", "list"]);
    let row = listed.success().json_row("rmt-web");
    assert_eq!(row["connection"], uri.as_str());
    assert_eq!(row["address"], address.as_str());
    assert_eq!(row["fragment"], "current");
    assert_eq!(row["state"], "running");

    project
        .run(&["inventory", "check"])
        .success()
        .stderr_contains("no problems");

    let destroyed = project.run(&["--json", "destroy", "rmt-web", "--yes"]);
    let row = destroyed.success().json();
    assert_eq!(row["existed"], true);
    assert_eq!(row["fragment_removed"], true);
    assert_eq!(row["volumes"].as_array().map(Vec::len), Some(2), "{row}");
    assert_nothing_made(&libvirtd, &project, "rmt-web");
    assert_eq!(
        Path::new("/root/.ssh").exists(),
        root_ssh_existed,
        "ssh must not touch the passwd home's ~/.ssh"
    );
}

#[test]
fn user_networking_on_a_remote_host_is_refused_before_anything_is_made() {
    let libvirtd = RemoteLibvirtd::get();
    let host = RemoteHost::start();
    let (project, key) = project(&host.uri(&libvirtd.socket()));
    let key = key.display().to_string();
    let refused = project.run(&provision("rmt-user", &key, &["--network", "user"]));
    refused
        .code(2)
        .stderr_contains("--network user cannot be used with the remote libvirt host")
        .stderr_contains("--network NAME");
    assert_nothing_made(&libvirtd, &project, "rmt-user");

    // vm apply refuses it while planning: --dry-run and a real apply alike.
    project.write(
        "vms.toml",
        &format!(
            "[defaults]\nmemory = 256\nvcpus = 1\nnetwork = \"user\"\nssh_key = {key:?}\n\
             [vms.rmt-user]\n"
        ),
    );
    for args in [
        &["apply", "--dry-run", "--no-wait"][..],
        &["apply", "--yes", "--no-wait"],
    ] {
        project
            .run(args)
            .code(2)
            .stderr_contains("vms.toml [vms.rmt-user]")
            .stderr_contains("--network user cannot be used");
    }
    assert_nothing_made(&libvirtd, &project, "rmt-user");
}

#[test]
fn a_remote_host_whose_key_is_not_the_known_one_is_refused_and_nothing_is_made() {
    let libvirtd = RemoteLibvirtd::get();
    let host = RemoteHost::start();
    let (project, key) = project(&host.uri(&libvirtd.socket()));
    let key = key.display().to_string();
    // known_hosts names another key for [127.0.0.1]:PORT: what ssh says of a man in the middle.
    let other = host.dir().join("other_key");
    common::keygen(&other, "test");
    host.trust(&std::fs::read_to_string(other.with_extension("pub")).unwrap());
    project
        .run(&provision("rmt-mitm", &key, &[]))
        .code(1)
        .stderr_contains("SSH host key of the libvirt host")
        .stderr_contains("did not verify")
        .stderr_contains("REMOTE HOST IDENTIFICATION HAS CHANGED");
    assert_nothing_made(&libvirtd, &project, "rmt-mitm");

    // No key at all for the host: refused as well, never accepted on first use.
    write(&host.dir().join("known_hosts"), "", 0o600);
    project
        .run(&provision("rmt-mitm", &key, &[]))
        .code(1)
        .stderr_contains("did not verify")
        .stderr_contains("No ED25519 host key is known");
    assert_nothing_made(&libvirtd, &project, "rmt-mitm");
    // list shows what it can reach and warns about the rest, as for any unreachable target.
    project
        .run(&["list"])
        .success()
        .stderr_contains("warning: the SSH host key of the libvirt host");
}

#[test]
fn an_unreachable_remote_host_is_a_connect_error_with_exit_1() {
    let libvirtd = RemoteLibvirtd::get();
    let host = RemoteHost::start();
    // A port nobody listens on (bound, then released).
    let closed = common::free_port();
    let uri = host
        .uri(&libvirtd.socket())
        .replace(&format!(":{}/", host.port), &format!(":{closed}/"));
    let (project, key) = project(&uri);
    let key = key.display().to_string();
    project
        .run(&provision("rmt-gone", &key, &[]))
        .code(1)
        .stderr_contains(&format!("cannot connect to libvirt at {uri}"))
        .stderr_contains("Connection refused");
    assert_nothing_made(&libvirtd, &project, "rmt-gone");
}
