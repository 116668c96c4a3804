//! In-process tests on libvirt's test driver: a fake host in this process only.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use virt::storage_vol::StorageVol;
use vm::backend::{Destroyed, DomainType, NetworkChoice};
use vm::guest::seed::Seed;

use super::xml::read_domain;
use super::*;

/// A test-driver host: 16 GiB, 8 CPUs, a `dir` pool `default` holding `base.qcow2` (2 GiB),
/// and a NAT network `default` with DHCP. Its state lives in this connection only.
fn host(dir: &Path) -> Libvirt {
    let fixture = dir.join("node.xml");
    std::fs::write(
        &fixture,
        format!(
            "<node><cpu><mhz>2000</mhz><model>i686</model><active>8</active><nodes>1</nodes>\
             <sockets>1</sockets><cores>4</cores><threads>2</threads></cpu>\
             <memory>16777216</memory>\
             <network><name>default</name><bridge name='virbr0'/><forward mode='nat'/>\
             <ip address='192.168.122.1' netmask='255.255.255.0'><dhcp>\
             <range start='192.168.122.2' end='192.168.122.254'/></dhcp></ip></network>\
             <pool type='dir'><name>default</name><capacity unit='GiB'>100</capacity>\
             <allocation>0</allocation><available unit='GiB'>100</available><source/>\
             <target><path>{0}</path></target><volume type='file'><name>base.qcow2</name>\
             <capacity unit='GiB'>2</capacity><target><path>{0}/base.qcow2</path>\
             <format type='qcow2'/></target></volume></pool></node>",
            dir.display()
        ),
    )
    .unwrap();
    Libvirt::connect(&format!("test://{}", fixture.display())).unwrap()
}

fn spec(name: &str, network: NetworkChoice) -> VmSpec {
    VmSpec {
        name: name.into(),
        memory_mib: 1024,
        vcpus: 1,
        image: "base.qcow2".into(),
        disk_bytes: Some(4 << 30),
        pool: "default".into(),
        network,
        user: "debian".into(),
        ssh_keys: vec![],
        domain_type: DomainType::Qemu,
        kernel: None,
        templates: PathBuf::from("/nonexistent"),
        project: "/projects/p".into(),
    }
}

fn seed(name: &str) -> Seed {
    Seed {
        hostname: name.into(),
        user: "debian".into(),
        ssh_authorized_keys: vec![],
        instance_id: format!("{name}-1"),
        host_key: None,
    }
}

fn volumes(libvirt: &Libvirt) -> Vec<String> {
    let mut names = libvirt.pool("default").unwrap().list_volumes().unwrap();
    names.sort();
    names
}

#[test]
fn domain_xml_escapes_values_and_carries_metadata_and_the_port_forward() {
    let dir = tempfile::tempdir().unwrap();
    let libvirt = host(dir.path());
    let mut s = spec("web-vm", NetworkChoice::User { port: 2222 });
    s.user = "a'b<c>&\"d".into();
    let xml = libvirt
        .domain_xml(
            &s,
            "/p/web-vm.qcow2",
            "/p/web-vm-seed.img",
            "2026-11-22T00:00:00Z",
        )
        .unwrap();
    let doc = read_domain(&xml).expect("well-formed XML");
    let meta = doc.metadata.unwrap();
    assert_eq!(meta.user.as_deref(), Some("a'b<c>&\"d"));
    assert_eq!(meta.ssh_port, Some(2222));
    assert_eq!(meta.fragment.as_deref(), Some("web-vm.ini"));
    assert_eq!(doc.disk_files, ["/p/web-vm.qcow2", "/p/web-vm-seed.img"]);
    assert!(xml.contains("hostfwd=tcp:127.0.0.1:2222-:22"), "{xml}");
    assert!(xml.contains("<domain type='qemu'"));
    // A libvirt network instead: no forward, an interface on the network.
    let xml = libvirt
        .domain_xml(
            &spec("db", NetworkChoice::Named("default".into())),
            "/d",
            "/s",
            "t",
        )
        .unwrap();
    assert!(!xml.contains("qemu:commandline") && xml.contains("<source network='default'/>"));
}

#[test]
fn preflight_refuses_what_the_host_cannot_give_before_creating_anything() {
    let dir = tempfile::tempdir().unwrap();
    let libvirt = host(dir.path());
    let user = NetworkChoice::User { port: 2222 };
    let cases: Vec<(VmSpec, &str)> = vec![
        (
            VmSpec {
                memory_mib: 64 * 1024,
                ..spec("a", user.clone())
            },
            "MiB of memory asked",
        ),
        (
            VmSpec {
                vcpus: 64,
                ..spec("a", user.clone())
            },
            "vCPUs asked",
        ),
        (
            VmSpec {
                image: "nope.qcow2".into(),
                ..spec("a", user.clone())
            },
            "unknown image",
        ),
        (
            VmSpec {
                pool: "nope".into(),
                ..spec("a", user.clone())
            },
            "no storage pool",
        ),
        (
            spec("a", NetworkChoice::Named("nope".into())),
            "no libvirt network",
        ),
    ];
    for (s, want) in cases {
        let err = libvirt.preflight_spec(&s).unwrap_err().to_string();
        assert!(err.contains(want), "{err}");
    }
    assert_eq!(volumes(&libvirt), ["base.qcow2"]);
    // A name that is already a domain.
    libvirt.conn.define_domain_xml(
        "<domain type='test'><name>taken</name><memory>1024</memory><os><type>hvm</type></os></domain>",
    ).unwrap();
    let err = libvirt
        .preflight_spec(&spec("taken", user))
        .unwrap_err()
        .to_string();
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn a_provision_failing_half_way_removes_what_it_created() {
    // The test driver cannot upload into volumes: provision fails after creating the overlay
    // and the seed volume, which must both be gone again, with no domain left.
    let dir = tempfile::tempdir().unwrap();
    let libvirt = host(dir.path());
    let s = spec("web-vm", NetworkChoice::User { port: 2222 });
    let err = libvirt
        .provision(&s, &seed("web-vm"), "t", false)
        .unwrap_err();
    assert!(err.to_string().contains("upload"), "{err}");
    assert_eq!(volumes(&libvirt), ["base.qcow2"]);
    assert!(libvirt.domain("web-vm").unwrap().is_none());
    // --keep-on-failure keeps them for diagnosis.
    libvirt
        .provision(&s, &seed("web-vm"), "t", true)
        .unwrap_err();
    assert_eq!(
        volumes(&libvirt),
        ["base.qcow2", "web-vm-seed.img", "web-vm.qcow2"]
    );
}

/// Defines a managed domain the way provision does, with volumes from the pool.
fn managed(libvirt: &Libvirt, name: &str, network: NetworkChoice) {
    let pool = libvirt.pool("default").unwrap();
    let mut paths = Vec::new();
    for volume in [format!("{name}.qcow2"), format!("{name}-seed.img")] {
        let xml = format!(
            "<volume type='file'><name>{volume}</name><capacity>1048576</capacity></volume>"
        );
        paths.push(
            StorageVol::create_xml(&pool, &xml, 0)
                .unwrap()
                .path()
                .unwrap(),
        );
    }
    let xml = libvirt
        .domain_xml(&spec(name, network), &paths[0], &paths[1], "t")
        .unwrap()
        .replace("<domain type='qemu'", "<domain type='test'");
    libvirt
        .conn
        .define_domain_xml(&xml)
        .unwrap()
        .create()
        .unwrap();
}

#[test]
fn destroy_removes_the_domain_and_exactly_the_volumes_its_xml_names() {
    let dir = tempfile::tempdir().unwrap();
    let libvirt = host(dir.path());
    managed(&libvirt, "web-vm", NetworkChoice::User { port: 2222 });
    managed(&libvirt, "db-vm", NetworkChoice::User { port: 2223 });
    let destroyed = libvirt.remove("web-vm", false).unwrap();
    assert!(destroyed.existed);
    assert_eq!(destroyed.volumes.len(), 2);
    assert!(libvirt.domain("web-vm").unwrap().is_none());
    assert_eq!(
        volumes(&libvirt),
        ["base.qcow2", "db-vm-seed.img", "db-vm.qcow2"]
    );
    // Again: already gone is not an error.
    assert_eq!(
        libvirt.remove("web-vm", false).unwrap(),
        Destroyed::default()
    );
}

#[test]
fn list_shows_managed_domains_only_with_their_addresses_and_ports_are_reserved() {
    let dir = tempfile::tempdir().unwrap();
    let libvirt = host(dir.path());
    managed(&libvirt, "web-vm", NetworkChoice::User { port: 2222 });
    managed(&libvirt, "db-vm", NetworkChoice::Named("default".into()));
    libvirt.conn.define_domain_xml(
        "<domain type='test'><name>not-ours</name><memory>1024</memory><os><type>hvm</type></os></domain>",
    ).unwrap();
    let listed = libvirt.managed().unwrap();
    let names: Vec<&str> = listed.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["db-vm", "web-vm"]);
    assert_eq!(listed[1].address.as_deref(), Some("127.0.0.1:2222"));
    assert_eq!(listed[1].state, "running");
    assert_eq!(listed[1].memory_mib, Some(1024));
    // The test driver reports a lease-like address on the network for a running domain.
    let address = listed[0].address.as_deref().unwrap();
    assert!(address.starts_with("192.168.122."), "{address}");
    assert_eq!(libvirt.used_ports().unwrap(), [2222]);
}

#[test]
fn the_best_address_is_ipv4_then_ipv6_never_loopback_or_link_local() {
    let ips = |list: &[&str]| -> Vec<IpAddr> { list.iter().map(|s| s.parse().unwrap()).collect() };
    assert_eq!(
        best_address(&ips(&["127.0.0.1", "fe80::1", "169.254.1.1"])),
        None
    );
    assert_eq!(
        best_address(&ips(&["fe80::1", "2001:db8::5", "10.0.0.5"])),
        Some("10.0.0.5".parse().unwrap())
    );
    assert_eq!(
        best_address(&ips(&["::1", "2001:db8::5"])),
        Some("2001:db8::5".parse().unwrap())
    );
}

#[test]
fn only_uris_without_transport_or_host_are_local() {
    assert!(is_local("qemu:///system") && is_local("test:///default"));
    assert!(!is_local("qemu+ssh://host/system"));
}

#[test]
fn a_daemon_behind_another_socket_is_not_taken_to_share_our_log_files() {
    assert!(shares_our_files("qemu:///system") && shares_our_files("qemu:///session"));
    assert!(!shares_our_files(
        "qemu:///system?socket=/var/tmp/vm-nat-x/run/libvirt-sock"
    ));
    assert!(!shares_our_files("qemu+ssh://host/system"));
}
