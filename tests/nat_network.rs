//! A real guest on a libvirt NAT network with DHCP, the way most users attach VMs (like libvirt's
//! `default`): `vm` finds the guest's address in dnsmasq's lease, waits for SSH and cloud-init
//! there, writes it to the inventory, and Ansible reaches the guest with its host key checked.
//!
//! The network lives in a second libvirtd inside a network namespace this test makes
//! (`common::netns`): `vm` and `ansible-playbook` run inside it (`ip netns exec`), the only place
//! the guest's private address can be reached; the namespace has no way out.

mod common;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;

use common::netns::{DHCP_RANGE, NETWORK, NatLibvirtd, POOL};
use common::{Project, ansible_bin, guest};

const NAME: &str = "nat-guest";
/// A project whose vm.toml boots the guest image (imported into the namespaced daemon's pool)
/// through BIOS firmware from its own disk, on the NAT network; and the user's private key.
fn nat_guest_project(nat: &NatLibvirtd) -> (Project, PathBuf) {
    let imported = guest::import_into(&nat.uri, POOL);
    guest::project_booting(&nat.uri, POOL, &imported, NETWORK, guest::Boot::Bios)
}

/// The address and MAC of each lease dnsmasq gave on the network, as `virsh net-dhcp-leases`
/// shows them.
fn leases(nat: &NatLibvirtd) -> Vec<(IpAddr, String)> {
    let (ok, out) = nat.virsh(&["net-dhcp-leases", NETWORK]);
    assert!(ok, "virsh net-dhcp-leases {NETWORK}: {out}");
    out.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let mac = fields
                .iter()
                .find(|f| f.len() == 17 && f.matches(':').count() == 5)?;
            let address = fields
                .iter()
                .find_map(|f| f.split_once('/')?.0.parse::<IpAddr>().ok())?;
            Some((address, mac.to_string()))
        })
        .collect()
}

/// What ansible-core makes of the merged inventory's `ansible_host` for `host`.
fn ansible_host(project: &Project, host: &str) -> Option<String> {
    let output = Command::new(ansible_bin().join("ansible-inventory"))
        .arg("-i")
        .arg(project.inventory_ini())
        .args(["--host", host])
        .output()
        .expect("run ansible-inventory");
    if !output.status.success() {
        return None;
    }
    let vars: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    vars["ansible_host"].as_str().map(str::to_string)
}

#[test]
fn guest_on_a_nat_network_is_found_by_its_dhcp_lease_and_answers_ansible_with_a_verified_host_key()
{
    // Stops the daemon, its guests and dnsmasq and deletes the namespace however the test ends.
    let nat = NatLibvirtd::start();
    let (project, key) = nat_guest_project(&nat);

    let started = std::time::Instant::now();
    project
        .run_under(&nat.wrapper(), &["provision", NAME, "1024", "1"])
        .success();
    println!("guest ready in {:?}", started.elapsed());
    nat.assert_no_uplink();

    // The inventory holds the address dnsmasq leased to this guest's interface.
    let leases = leases(&nat);
    let (_, domiflist) = nat.virsh(&["domiflist", NAME]);
    let ours: Vec<&IpAddr> = leases
        .iter()
        .filter(|(_, mac)| domiflist.contains(mac.as_str()))
        .map(|(address, _)| address)
        .collect();
    let [leased] = ours[..] else {
        panic!("not one lease for {NAME}'s interface: {leases:?}\n{domiflist}")
    };
    let IpAddr::V4(leased_v4) = leased else {
        panic!("lease {leased} is not IPv4")
    };
    assert!(
        DHCP_RANGE.contains(leased_v4),
        "{leased} outside {DHCP_RANGE:?}"
    );
    assert_eq!(
        ansible_host(&project, NAME).as_deref(),
        Some(leased.to_string().as_str()),
        "{}",
        String::from_utf8_lossy(&project.read("ansible/inventory.ini").unwrap())
    );

    // `vm list`, from the host (the daemon's socket is reachable there), shows that address.
    let listed = project.run(&["--json", "list"]);
    listed.success();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&listed.stdout)
        .unwrap_or_else(|e| panic!("not a JSON array ({e})\n{}", listed.describe()));
    let row = rows
        .iter()
        .find(|r| r["name"] == NAME)
        .unwrap_or_else(|| panic!("{NAME} not listed\n{}", listed.describe()));
    assert_eq!(row["address"], leased.to_string(), "{}", listed.describe());
    assert_eq!(row["state"], "running", "{}", listed.describe());
    assert_eq!(row["fragment"], "current", "{}", listed.describe());
    assert_eq!(row["host_key"], "pinned", "{}", listed.describe());

    // Ansible, inside the namespace, reaches the guest at that address with its host key pinned.
    let (ok, out) = guest::playbook_under(
        &nat.wrapper(),
        &project,
        &key,
        None,
        "    - ansible.builtin.debug:\n        msg: \"{{ inventory_hostname }} is \
         {{ ansible_facts['hostname'] }} at {{ ansible_facts['default_ipv4']['address'] }}\"\n",
    );
    assert!(ok, "ansible-playbook failed:\n{out}");
    assert!(
        out.contains(&format!("{NAME} is {NAME} at {leased}")),
        "{out}"
    );

    // vm ssh, inside the namespace: the inventory's address, user and pinned key, checked
    // strictly; a reboot waits for the guest to go down and answer again; the serial console
    // shows the guest's login prompt.
    let boot_id = || {
        let run = project.run_under(
            &nat.wrapper(),
            &["ssh", NAME, "--", "cat", "/proc/sys/kernel/random/boot_id"],
        );
        run.success();
        run.stdout.trim().to_string()
    };
    let before = boot_id();
    assert_eq!(before.len(), 36, "{before}");
    let rebooted = project.run_under(&nat.wrapper(), &["--json", "reboot", NAME]);
    rebooted.success();
    assert_eq!(rebooted.json()["address"], leased.to_string());
    assert_ne!(boot_id(), before, "the guest did not reboot");
    let (ok, text) = common::libvirt::console_session(
        &project,
        NAME,
        &[(std::time::Duration::from_secs(2), b"\r")],
    );
    assert!(ok && text.contains("login:"), "{text}");

    // Destroy: domain, its volumes and its fragment gone; the leased address out of the inventory.
    project.run(&["destroy", NAME, "--yes"]).success();
    let (_, domains) = nat.virsh(&["list", "--all", "--name"]);
    assert!(!domains.contains(NAME), "{domains}");
    let (_, volumes) = nat.virsh(&["vol-list", POOL]);
    assert!(!volumes.contains(NAME), "{volumes}");
    assert!(
        project
            .read(&format!("ansible/inventory.d/{NAME}.ini"))
            .is_none()
    );
    let inventory = String::from_utf8(project.read("ansible/inventory.ini").unwrap()).unwrap();
    assert!(
        !inventory.contains(NAME) && !inventory.contains(&leased.to_string()),
        "{inventory}"
    );
    assert_eq!(ansible_host(&project, NAME), None);
}
