//! In-process tests on libvirt's test driver: a fake host in this process only.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use virt::storage_vol::StorageVol;
use vm::backend::{Destroyed, DomainType, Firmware, KernelBoot, NetworkChoice};
use vm::guest::seed::Seed;

use super::xml::read_domain;
use super::*;

/// A test-driver host: 16 GiB, 8 CPUs, a `dir` pool `default` (100 GiB free) holding
/// `base.qcow2` (2 GiB), and the images preflight must refuse: `installer.iso`, and
/// `orphan.qcow2` whose backing file is missing; a NAT network `default` with DHCP, and
/// `stopped`, defined but not started. Its state lives in this connection only.
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
             <format type='qcow2'/></target></volume>\
             <volume type='file'><name>installer.iso</name><capacity unit='MiB'>600</capacity>\
             <target><path>{0}/installer.iso</path><format type='iso'/></target></volume>\
             <volume type='file'><name>orphan.qcow2</name><capacity unit='GiB'>2</capacity>\
             <target><path>{0}/orphan.qcow2</path><format type='qcow2'/></target>\
             <backingStore><path>{0}/gone.qcow2</path><format type='qcow2'/></backingStore>\
             </volume></pool></node>",
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
        allow_overcommit: false,
        network,
        user: "debian".into(),
        ssh_keys: vec![],
        domain_type: DomainType::Qemu,
        firmware: Firmware::Bios,
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

/// The volumes of the pool besides the fixture's.
fn volumes(libvirt: &Libvirt) -> Vec<String> {
    let fixture = ["base.qcow2", "installer.iso", "orphan.qcow2"];
    let mut names = libvirt.pool("default").unwrap().list_volumes().unwrap();
    names.retain(|n| !fixture.contains(&n.as_str()));
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

/// The `<os>` element of a rendered domain, parsed: (its `firmware` attribute, the firmware
/// features as (name, enabled), `<boot dev>`, kernel, initrd, cmdline).
type Os = (
    Option<String>,
    Vec<(String, String)>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn os_of(xml: &str) -> Os {
    let doc = roxmltree::Document::parse(xml).expect("well-formed XML");
    let os = doc
        .root_element()
        .children()
        .find(|n| n.has_tag_name("os"))
        .expect("an <os> element");
    let child = |tag: &str| os.children().find(|n| n.has_tag_name(tag));
    let text = |tag: &str| child(tag).and_then(|n| n.text()).map(str::to_string);
    let features = child("firmware")
        .iter()
        .flat_map(|f| f.children())
        .filter(|n| n.has_tag_name("feature"))
        .map(|n| {
            let attr = |a: &str| n.attribute(a).unwrap_or_default().to_string();
            (attr("name"), attr("enabled"))
        })
        .collect();
    (
        os.attribute("firmware").map(str::to_string),
        features,
        child("boot")
            .and_then(|b| b.attribute("dev"))
            .map(str::to_string),
        text("kernel"),
        text("initrd"),
        text("cmdline"),
    )
}

#[test]
fn bios_boots_the_disk_with_libvirts_default_firmware() {
    let dir = tempfile::tempdir().unwrap();
    let libvirt = host(dir.path());
    let xml = libvirt
        .domain_xml(
            &spec("b", NetworkChoice::User { port: 2222 }),
            "/d",
            "/s",
            "t",
        )
        .unwrap();
    assert_eq!(
        os_of(&xml),
        (None, vec![], Some("hd".into()), None, None, None)
    );
}

#[test]
fn uefi_asks_libvirt_for_efi_firmware_with_secure_boot_and_enrolled_keys_off() {
    let dir = tempfile::tempdir().unwrap();
    let libvirt = host(dir.path());
    let s = VmSpec {
        firmware: Firmware::Uefi,
        ..spec("u", NetworkChoice::User { port: 2222 })
    };
    let xml = libvirt.domain_xml(&s, "/d", "/s", "t").unwrap();
    let off = |name: &str| (name.to_string(), "no".to_string());
    assert_eq!(
        os_of(&xml),
        (
            Some("efi".into()),
            vec![off("secure-boot"), off("enrolled-keys")],
            Some("hd".into()),
            None,
            None,
            None
        )
    );
    // libvirt's own parser (the test driver's) accepts it and keeps `firmware='efi'`.
    let domain = libvirt
        .conn
        .define_domain_xml(&xml.replace("<domain type='qemu'", "<domain type='test'"))
        .unwrap();
    let back = domain.xml_desc(sys::VIR_DOMAIN_XML_INACTIVE).unwrap();
    assert_eq!(os_of(&back).0.as_deref(), Some("efi"), "{back}");
}

#[test]
fn the_firmware_loads_the_kernel_given_and_its_paths_and_cmdline_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let libvirt = host(dir.path());
    let kernel = KernelBoot {
        kernel: "/boot/a'b&c/vmlinuz".into(),
        initrd: Some("/boot/<i>/initrd.img".into()),
        cmdline: Some("root=/dev/vda1 rw console=ttyS0 x=\"'&<>\"".into()),
    };
    for (firmware, attribute) in [(Firmware::Bios, None), (Firmware::Uefi, Some("efi"))] {
        let s = VmSpec {
            firmware,
            kernel: Some(kernel.clone()),
            ..spec("k", NetworkChoice::User { port: 2222 })
        };
        let xml = libvirt.domain_xml(&s, "/d", "/s", "t").unwrap();
        let (fw, _, boot, k, i, c) = os_of(&xml);
        assert_eq!(fw.as_deref(), attribute);
        assert_eq!(boot, None, "direct kernel boot has no <boot dev>");
        assert_eq!(k.as_deref(), Some(kernel.kernel.as_str()));
        assert_eq!(i, kernel.initrd);
        assert_eq!(c, kernel.cmdline);
    }
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
        (
            VmSpec {
                image: "installer.iso".into(),
                ..spec("a", user.clone())
            },
            "is in iso format, which cannot back a VM's disk",
        ),
        (
            VmSpec {
                image: "orphan.qcow2".into(),
                ..spec("a", user.clone())
            },
            "backing file /",
        ),
        (
            VmSpec {
                disk_bytes: Some(1 << 30),
                ..spec("a", user.clone())
            },
            "--disk 1 GiB is smaller than the virtual size of image base.qcow2, 2 GiB",
        ),
        (
            VmSpec {
                disk_bytes: Some(200 << 30),
                ..spec("a", user.clone())
            },
            "free, and the disk of a can grow to 200 GiB (+ 1 MiB for the cloud-init seed)",
        ),
        // The test driver has no firmware to offer, and says so by not answering the question
        // at all; a real host without OVMF answers with no `efi` (see xml::offers_efi).
        (
            VmSpec {
                firmware: Firmware::Uefi,
                ..spec("a", user.clone())
            },
            "cannot read the domain capabilities of test://",
        ),
    ];
    for (s, want) in cases {
        let err = libvirt.preflight_spec(&s).unwrap_err().to_string();
        assert!(err.contains(want), "{err}");
    }
    assert_eq!(volumes(&libvirt), Vec::<String>::new());
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
fn a_defined_but_stopped_network_is_refused_with_the_command_that_starts_it() {
    let dir = tempfile::tempdir().unwrap();
    let libvirt = host(dir.path());
    libvirt
        .conn
        .define_network_xml("<network><name>stopped</name><bridge name='virbr9'/></network>")
        .unwrap();
    let err = libvirt
        .preflight_spec(&spec("a", NetworkChoice::Named("stopped".into())))
        .unwrap_err()
        .to_string();
    let uri = libvirt.uri();
    assert!(err.contains("defined but not started"), "{err}");
    assert!(
        err.contains(&format!("virsh -c {uri} net-start stopped")),
        "{err}"
    );
    assert!(
        err.contains(&format!("virsh -c {uri} net-autostart stopped")),
        "{err}"
    );
    libvirt
        .preflight_spec(&spec("a", NetworkChoice::Named("default".into())))
        .unwrap();
}

#[test]
fn a_thin_disk_larger_than_the_pool_is_made_with_allow_overcommit_only() {
    let dir = tempfile::tempdir().unwrap();
    let libvirt = host(dir.path());
    let mut s = VmSpec {
        disk_bytes: Some(200 << 30),
        ..spec("a", NetworkChoice::User { port: 2222 })
    };
    let err = libvirt.preflight_spec(&s).unwrap_err().to_string();
    assert!(
        err.contains("--allow-overcommit") && err.contains("another --pool"),
        "{err}"
    );
    s.allow_overcommit = true;
    libvirt.preflight_spec(&s).unwrap();
}

#[test]
fn compressed_downloads_are_known_by_their_first_bytes() {
    use super::preflight::compression;
    assert_eq!(compression(b"\xfd7zXZ\0\0\x04"), Some(("xz", ".xz")));
    assert_eq!(compression(&[0x1f, 0x8b, 8, 0]), Some(("gzip", ".gz")));
    assert_eq!(compression(b"BZh91AY&"), Some(("bzip2", ".bz2")));
    assert_eq!(
        compression(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
        Some(("zstd", ".zst"))
    );
    assert_eq!(compression(b"QFI\xfb\0\0\0\x03"), None);
    assert_eq!(compression(&[0xeb, 0x63, 0x90]), None);
}

#[test]
fn sizes_read_as_units_with_the_exact_bytes_when_not_whole() {
    use super::preflight::size;
    assert_eq!(size(64 << 20), "64 MiB");
    assert_eq!(size(3 << 29), "1.5 GiB (1610612736 bytes)");
    assert_eq!(size(512), "512 bytes");
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
    assert_eq!(volumes(&libvirt), Vec::<String>::new());
    assert!(libvirt.domain("web-vm").unwrap().is_none());
    // --keep-on-failure keeps them for diagnosis.
    libvirt
        .provision(&s, &seed("web-vm"), "t", true)
        .unwrap_err();
    assert_eq!(volumes(&libvirt), ["web-vm-seed.img", "web-vm.qcow2"]);
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
    assert_eq!(volumes(&libvirt), ["db-vm-seed.img", "db-vm.qcow2"]);
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
fn a_daemon_behind_another_socket_is_not_taken_to_share_our_log_files() {
    assert!(shares_our_files("qemu:///system") && shares_our_files("qemu:///session"));
    assert!(!shares_our_files(
        "qemu:///system?socket=/var/tmp/vm-nat-x/run/libvirt-sock"
    ));
    assert!(!shares_our_files("qemu+ssh://host/system"));
}
