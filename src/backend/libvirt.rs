//! The libvirt backend, through the `virt` crate: a qcow2 overlay on a base image, a cloud-init
//! seed volume, a domain with our metadata; and the way back, read from the domain itself.
//!
//! Everything provision creates is recorded as it is created and removed again if a later step
//! fails (unless the caller asks to keep it), so a failed provision leaves nothing behind.

use std::net::IpAddr;
use std::time::Duration;

use virt::connect::Connect;
use virt::domain::Domain;
use virt::error::{Error as VirtError, ErrorNumber};
use virt::storage_pool::StoragePool;
use virt::storage_vol::StorageVol;
use virt::stream::Stream;
use virt::sys;

use super::xml::{NAMESPACE, escape_xml, read_domain};
use super::{BackendError, Destroyed, DomainType, NetworkChoice, Provisioned, VmInfo, VmSpec};
use crate::cloudinit::Seed;

const DOMAIN_TEMPLATE: &str = include_str!("../../templates/domain.xml.tera");

/// Size of the seed volume; the FAT image is exactly this big.
const SEED_BYTES: u64 = 1024 * 1024;

/// The URI to use: `--connect`, else `LIBVIRT_DEFAULT_URI`, else `qemu:///system` for root and
/// `qemu:///session` for everyone else.
pub fn default_uri(explicit: Option<&str>) -> String {
    if let Some(uri) = explicit {
        return uri.to_string();
    }
    if let Some(uri) = std::env::var("LIBVIRT_DEFAULT_URI")
        .ok()
        .filter(|u| !u.is_empty())
    {
        return uri;
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc_geteuid() } == 0 {
        "qemu:///system".to_string()
    } else {
        "qemu:///session".to_string()
    }
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

fn libvirt_error(action: impl Into<String>) -> impl FnOnce(VirtError) -> BackendError {
    let action = action.into();
    move |e| BackendError::Call {
        action,
        message: e.message().to_string(),
    }
}

fn is_code(e: &VirtError, code: ErrorNumber) -> bool {
    e.code() == code.into()
}

/// One open libvirt connection.
pub struct Libvirt {
    conn: Connect,
    uri: String,
}

/// What provision created so far, removed again on failure.
struct Undo<'a> {
    libvirt: &'a Libvirt,
    volumes: Vec<StorageVol>,
    domain: Option<Domain>,
    armed: bool,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(domain) = self.domain.take() {
            let _ = self.libvirt.remove_domain(&domain);
        }
        for volume in self.volumes.drain(..).rev() {
            let _ = volume.delete(0);
        }
    }
}

impl Libvirt {
    /// Opens `uri`. libvirt's own error printing is switched off: errors reach the user once,
    /// through our messages.
    pub fn connect(uri: &str) -> Result<Libvirt, BackendError> {
        virt::error::clear_error_callback();
        let conn = Connect::open(Some(uri)).map_err(|e| BackendError::Connect {
            uri: uri.to_string(),
            message: e.message().to_string(),
        })?;
        Ok(Libvirt {
            conn,
            uri: uri.to_string(),
        })
    }

    /// The URI this connection was opened with.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    fn domain(&self, name: &str) -> Result<Option<Domain>, BackendError> {
        match self.conn.lookup_domain_by_name(name) {
            Ok(domain) => Ok(Some(domain)),
            Err(e) if is_code(&e, ErrorNumber::NoDomain) => Ok(None),
            Err(e) => Err(libvirt_error(format!("cannot look up domain {name}"))(e)),
        }
    }

    fn pool(&self, name: &str) -> Result<StoragePool, BackendError> {
        let pool = self.conn.lookup_storage_pool_by_name(name).map_err(|e| {
            if is_code(&e, ErrorNumber::NoStoragePool) {
                BackendError::Invalid(format!(
                    "no storage pool {name:?} at {}; create one (virsh pool-define-as {name} dir \
                     --target DIR; virsh pool-start {name}) or pass --pool NAME",
                    self.uri
                ))
            } else {
                libvirt_error(format!("cannot look up storage pool {name}"))(e)
            }
        })?;
        if !pool
            .is_active()
            .map_err(libvirt_error("cannot read the pool state"))?
        {
            pool.create(0)
                .map_err(libvirt_error(format!("cannot start storage pool {name}")))?;
        }
        // A refresh makes volumes put there by hand visible. libvirt refuses it while another
        // client creates or uploads a volume in the pool ("asynchronous jobs running"), which
        // parallel provisions do: retry for a while, then go on with what the pool knows.
        for attempt in 0..50 {
            match pool.refresh(0) {
                Ok(_) => break,
                Err(e) if e.message().contains("asynchronous jobs") && attempt < 49 => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) if e.message().contains("asynchronous jobs") => break,
                Err(e) => {
                    return Err(libvirt_error(format!("cannot refresh storage pool {name}"))(e));
                }
            }
        }
        Ok(pool)
    }

    /// The base image as a path and its size: a volume of `pool`, or a path libvirt knows.
    fn base_image(&self, pool: &StoragePool, image: &str) -> Result<(String, u64), BackendError> {
        let volume = if image.starts_with('/') {
            self.conn.lookup_storage_vol_by_path(image)
        } else {
            pool.lookup_storage_vol_by_name(image)
        };
        let volume = volume.map_err(|e| {
            if is_code(&e, ErrorNumber::NoStorageVolume) {
                BackendError::Invalid(format!(
                    "unknown image {image:?}: no such volume in the pool (nor a file in any pool); \
                     `virsh vol-list POOL` lists them, or pass --image with a volume name or path"
                ))
            } else {
                libvirt_error(format!("cannot look up image {image}"))(e)
            }
        })?;
        let path = volume
            .path()
            .map_err(libvirt_error("cannot read the image path"))?;
        let size = volume
            .info()
            .map_err(libvirt_error("cannot read the image size"))?
            .capacity;
        Ok((path, size))
    }

    /// Checks everything that can be checked before creating anything.
    pub fn preflight(&self, spec: &VmSpec) -> Result<(), BackendError> {
        if self.domain(&spec.name)?.is_some() {
            return Err(BackendError::Invalid(format!(
                "a domain named {} already exists at {}; pick another name, or `vm destroy {}`",
                spec.name, self.uri, spec.name
            )));
        }
        let node = self
            .conn
            .node_info()
            .map_err(libvirt_error("cannot read the host's memory and CPUs"))?;
        let host_mib = node.memory / 1024;
        if spec.memory_mib > host_mib {
            return Err(BackendError::Invalid(format!(
                "{} MiB of memory asked, the host has {host_mib} MiB; ask for less",
                spec.memory_mib
            )));
        }
        if spec.vcpus > node.cpus {
            return Err(BackendError::Invalid(format!(
                "{} vCPUs asked, the host has {} CPUs; ask for fewer",
                spec.vcpus, node.cpus
            )));
        }
        let pool = self.pool(&spec.pool)?;
        self.base_image(&pool, &spec.image)?;
        if let NetworkChoice::Named(network) = &spec.network {
            self.conn.lookup_network_by_name(network).map_err(|e| {
                BackendError::Invalid(format!(
                    "no libvirt network {network:?} at {} ({}); `virsh net-list --all` lists them, \
                     or use --network user",
                    self.uri,
                    e.message()
                ))
            })?;
        }
        Ok(())
    }

    /// Where libvirt writes the serial console of `name`.
    fn console_log(&self, name: &str) -> String {
        if self.uri.contains("/session") {
            let base = std::env::var("XDG_CACHE_HOME")
                .ok()
                .filter(|d| !d.is_empty())
                .or_else(|| std::env::var("HOME").ok().map(|h| format!("{h}/.cache")))
                .unwrap_or_else(|| "/tmp".to_string());
            format!("{base}/libvirt/qemu/log/{name}-serial.log")
        } else {
            format!("/var/log/libvirt/qemu/{name}-serial.log")
        }
    }

    /// Renders the domain XML for `spec` with the given volume paths.
    pub fn domain_xml(
        &self,
        spec: &VmSpec,
        disk_path: &str,
        seed_path: &str,
        created_at: &str,
    ) -> Result<String, BackendError> {
        let custom = spec.templates.join("domain.xml.tera");
        let source = std::fs::read_to_string(&custom).unwrap_or_else(|_| DOMAIN_TEMPLATE.into());
        let mut tera = tera::Tera::default();
        tera.set_escape_fn(escape_xml);
        tera.autoescape_on([".xml"]);
        let fail = |e: tera::Error| BackendError::Template(format!("domain template: {e}"));
        tera.add_raw_template("domain.xml", &source).map_err(fail)?;
        let domain_type = match spec.domain_type {
            DomainType::Kvm => "kvm",
            DomainType::Qemu => "qemu",
            DomainType::Auto => {
                if is_local(&self.uri) && std::path::Path::new("/dev/kvm").exists() {
                    "kvm"
                } else {
                    "qemu"
                }
            }
        };
        let mut context = tera::Context::new();
        context.insert("domain_type", domain_type);
        context.insert("name", &spec.name);
        context.insert("memory_mib", &spec.memory_mib);
        context.insert("vcpus", &spec.vcpus);
        context.insert("namespace", NAMESPACE);
        context.insert("project", &spec.project);
        context.insert("fragment", &format!("{}.ini", spec.name));
        context.insert("user", &spec.user);
        context.insert("created_at", created_at);
        context.insert("connection", &self.uri);
        context.insert("disk_path", disk_path);
        context.insert("seed_path", seed_path);
        context.insert("console_log", &self.console_log(&spec.name));
        match &spec.network {
            NetworkChoice::User { port } => context.insert("ssh_port", port),
            NetworkChoice::Named(network) => context.insert("network", network),
        }
        if let Some(kernel) = &spec.kernel {
            context.insert("kernel", &kernel.kernel);
            context.insert("initrd", &kernel.initrd);
            context.insert("cmdline", &kernel.cmdline);
        }
        tera.render("domain.xml", &context).map_err(fail)
    }

    /// Creates the VM: overlay, seed, domain, started. On failure everything created is removed
    /// again unless `keep_on_failure`.
    pub fn provision(
        &self,
        spec: &VmSpec,
        seed: &Seed,
        created_at: &str,
        keep_on_failure: bool,
    ) -> Result<Provisioned, BackendError> {
        self.preflight(spec)?;
        let files = seed
            .render(&spec.templates)
            .map_err(|e| BackendError::Template(e.to_string()))?;
        let image = files
            .image()
            .map_err(|e| BackendError::Template(e.to_string()))?;
        let pool = self.pool(&spec.pool)?;
        let (base_path, base_size) = self.base_image(&pool, &spec.image)?;
        let mut undo = Undo {
            libvirt: self,
            volumes: Vec::new(),
            domain: None,
            armed: !keep_on_failure,
        };

        let capacity = spec.disk_bytes.unwrap_or(base_size).max(base_size);
        let overlay = format!(
            "<volume type='file'><name>{}.qcow2</name><capacity unit='bytes'>{capacity}</capacity>\
             <target><format type='qcow2'/></target><backingStore><path>{}</path>\
             <format type='qcow2'/></backingStore></volume>",
            xml_text(&spec.name),
            xml_text(&base_path)
        );
        let disk = StorageVol::create_xml(&pool, &overlay, 0)
            .map_err(libvirt_error("cannot create the disk overlay"))?;
        undo.volumes.push(disk.clone());
        let disk_path = disk
            .path()
            .map_err(libvirt_error("cannot read the disk path"))?;

        let seed_xml = format!(
            "<volume type='file'><name>{}-seed.img</name><capacity unit='bytes'>{SEED_BYTES}</capacity>\
             <target><format type='raw'/><permissions><mode>0600</mode></permissions></target>\
             </volume>",
            xml_text(&spec.name)
        );
        let seed_volume = StorageVol::create_xml(&pool, &seed_xml, 0)
            .map_err(libvirt_error("cannot create the cloud-init seed volume"))?;
        undo.volumes.push(seed_volume.clone());
        self.upload(&seed_volume, &image)?;
        let seed_path = seed_volume
            .path()
            .map_err(libvirt_error("cannot read the seed path"))?;

        let xml = self.domain_xml(spec, &disk_path, &seed_path, created_at)?;
        let domain = self
            .conn
            .define_domain_xml(&xml)
            .map_err(libvirt_error("cannot define the domain"))?;
        undo.domain = Some(domain.clone());
        domain.create().map_err(|e| match spec.network {
            NetworkChoice::User { port } if e.message().contains("host forwarding rule") => {
                undo.armed = true;
                BackendError::PortTaken(port)
            }
            _ => libvirt_error("cannot start the domain")(e),
        })?;

        let console_log = self.console_log(&spec.name);
        let (host, port) = match spec.network {
            NetworkChoice::User { port } => ("127.0.0.1".to_string(), Some(port)),
            NetworkChoice::Named(_) => (String::new(), None),
        };
        undo.armed = false;
        Ok(Provisioned {
            host,
            port,
            console_log,
        })
    }

    /// Writes `bytes` into `volume` through a libvirt stream (works for remote hosts too).
    fn upload(&self, volume: &StorageVol, bytes: &[u8]) -> Result<(), BackendError> {
        let fail = libvirt_error("cannot upload the cloud-init seed");
        let stream = Stream::new(&self.conn, 0).map_err(libvirt_error("cannot open a stream"))?;
        volume
            .upload(&stream, 0, bytes.len() as u64, 0)
            .map_err(fail)?;
        let mut sent = 0;
        while sent < bytes.len() {
            match stream.send(&bytes[sent..]) {
                Ok(n) if n > 0 => sent += n as usize,
                Ok(_) => break,
                Err(e) => {
                    let _ = stream.abort();
                    return Err(libvirt_error("cannot upload the cloud-init seed")(e));
                }
            }
        }
        stream
            .finish()
            .map_err(libvirt_error("cannot finish the seed upload"))
    }

    /// The first usable address of a running domain: DHCP lease, then guest agent, then ARP;
    /// IPv4 before IPv6; never loopback or link-local.
    pub fn address(&self, name: &str) -> Result<Option<IpAddr>, BackendError> {
        let Some(domain) = self.domain(name)? else {
            return Ok(None);
        };
        let mut found = Vec::new();
        for source in [
            sys::VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE,
            sys::VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT,
            sys::VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP,
        ] {
            // An agent that is not there yet, or ARP without an entry, is "no address yet".
            let Ok(interfaces) = domain.interface_addresses(source, 0) else {
                continue;
            };
            found.extend(
                interfaces
                    .iter()
                    .flat_map(|i| i.addrs.iter())
                    .filter_map(|a| a.addr.parse::<IpAddr>().ok()),
            );
            if let Some(best) = best_address(&found) {
                return Ok(Some(best));
            }
        }
        Ok(None)
    }

    /// Stops and removes a domain and the volumes it uses (read from its XML), leaving the base
    /// image alone. A domain that is already gone is not an error.
    pub fn destroy(&self, name: &str) -> Result<Destroyed, BackendError> {
        self.destroy_keeping(name, false)
    }

    /// [`Libvirt::destroy`], keeping the volumes when `keep_disk`.
    pub fn destroy_keeping(&self, name: &str, keep_disk: bool) -> Result<Destroyed, BackendError> {
        let Some(domain) = self.domain(name)? else {
            return Ok(Destroyed::default());
        };
        let xml = domain
            .xml_desc(sys::VIR_DOMAIN_XML_INACTIVE)
            .map_err(libvirt_error(format!("cannot read the XML of {name}")))?;
        let doc = read_domain(&xml).map_err(|e| BackendError::Call {
            action: format!("cannot parse the XML of {name}"),
            message: e,
        })?;
        self.remove_domain(&domain)?;
        let mut removed = Destroyed {
            domain: true,
            volumes: Vec::new(),
        };
        // The serial console log is ours, and libvirt never deletes its own log of the domain
        // either; both can only be removed when they are on this machine.
        if is_local(&self.uri) {
            if let Some(log) = doc.console_log {
                let _ = std::fs::remove_file(log);
            }
            if self.uri.starts_with("qemu:///system") {
                let _ = std::fs::remove_file(format!("/var/log/libvirt/qemu/{name}.log"));
            }
        }
        let disks = if keep_disk {
            Vec::new()
        } else {
            doc.disk_files
        };
        for path in disks {
            match self.conn.lookup_storage_vol_by_path(&path) {
                Ok(volume) => {
                    volume
                        .delete(0)
                        .map_err(libvirt_error(format!("cannot delete volume {path}")))?;
                    removed.volumes.push(path);
                }
                Err(e) if is_code(&e, ErrorNumber::NoStorageVolume) => {}
                Err(e) => return Err(libvirt_error(format!("cannot look up volume {path}"))(e)),
            }
        }
        Ok(removed)
    }

    /// Stop (if running) and undefine with NVRAM, managed save and snapshot metadata.
    fn remove_domain(&self, domain: &Domain) -> Result<(), BackendError> {
        match domain.is_active() {
            Ok(true) => match domain.destroy() {
                Err(e) if !is_code(&e, ErrorNumber::NoDomain) => {
                    return Err(libvirt_error("cannot stop the domain")(e));
                }
                _ => {}
            },
            Ok(false) => {}
            Err(e) if is_code(&e, ErrorNumber::NoDomain) => return Ok(()),
            Err(e) => return Err(libvirt_error("cannot read the domain state")(e)),
        }
        let flags =
            sys::VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | sys::VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA;
        // Drivers without NVRAM support (the test driver) refuse the flag: retry without it.
        let result = match domain.undefine_flags(flags | sys::VIR_DOMAIN_UNDEFINE_NVRAM) {
            Err(e) if is_code(&e, ErrorNumber::InvalidArg) => domain.undefine_flags(flags),
            other => other,
        };
        match result {
            Ok(()) => Ok(()),
            Err(e) if is_code(&e, ErrorNumber::NoDomain) => Ok(()),
            Err(e) => Err(libvirt_error("cannot undefine the domain")(e)),
        }
    }

    /// The managed VMs (domains with our metadata) with state, size and address.
    pub fn list(&self) -> Result<Vec<VmInfo>, BackendError> {
        let domains = self
            .conn
            .list_all_domains(0)
            .map_err(libvirt_error("cannot list domains"))?;
        let mut out = Vec::new();
        for domain in domains {
            let Ok(xml) = domain.xml_desc(0) else {
                continue;
            };
            let Ok(doc) = read_domain(&xml) else {
                continue;
            };
            let Some(meta) = doc.metadata else {
                continue;
            };
            // A domain destroyed by someone else while we list it is simply not there.
            let (Ok(name), Ok(info)) = (domain.name(), domain.info()) else {
                continue;
            };
            let running = domain.is_active().unwrap_or(false);
            let address = match meta.ssh_port {
                Some(port) => Some(format!("127.0.0.1:{port}")),
                None if running => self.address(&name).ok().flatten().map(|ip| ip.to_string()),
                None => None,
            };
            out.push(VmInfo {
                name,
                state: state_name(info.state.to_raw()).to_string(),
                memory_mib: info.max_mem / 1024,
                vcpus: info.nr_virt_cpu,
                address,
                connection: meta.connection.unwrap_or_else(|| self.uri.clone()),
                project: meta.project,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Forwarded SSH ports of every managed domain: taken, whatever their state.
    pub fn used_ports(&self) -> Result<Vec<u16>, BackendError> {
        let domains = self
            .conn
            .list_all_domains(0)
            .map_err(libvirt_error("cannot list domains"))?;
        Ok(domains
            .iter()
            .filter_map(|d| d.xml_desc(sys::VIR_DOMAIN_XML_INACTIVE).ok())
            .filter_map(|xml| read_domain(&xml).ok()?.metadata?.ssh_port)
            .collect())
    }
}

/// Whether `uri` names this machine's hypervisor (no transport, no host: `qemu:///system`).
pub fn is_local(uri: &str) -> bool {
    !uri.contains('+') && uri.contains(":///")
}

/// Text for the two volume XML snippets built here (names and paths, already validated).
fn xml_text(s: &str) -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = escape_xml(s, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The address Ansible should use among those a domain reports.
pub fn best_address(found: &[IpAddr]) -> Option<IpAddr> {
    let usable = |ip: &&IpAddr| match ip {
        IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_link_local() && !v4.is_unspecified(),
        IpAddr::V6(v6) => {
            !v6.is_loopback() && !v6.is_unspecified() && (v6.segments()[0] & 0xffc0) != 0xfe80
        }
    };
    found
        .iter()
        .filter(usable)
        .find(|ip| ip.is_ipv4())
        .or_else(|| found.iter().find(|ip| usable(ip)))
        .copied()
}

fn state_name(state: u32) -> &'static str {
    match state {
        sys::VIR_DOMAIN_RUNNING => "running",
        sys::VIR_DOMAIN_BLOCKED => "blocked",
        sys::VIR_DOMAIN_PAUSED => "paused",
        sys::VIR_DOMAIN_SHUTDOWN => "shutting down",
        sys::VIR_DOMAIN_SHUTOFF => "shut off",
        sys::VIR_DOMAIN_CRASHED => "crashed",
        sys::VIR_DOMAIN_PMSUSPENDED => "suspended",
        _ => "unknown",
    }
}

/// How long provision waits between address polls.
pub const POLL: Duration = Duration::from_millis(500);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::xml::read_domain;
    use std::path::{Path, PathBuf};

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
            let err = libvirt.preflight(&s).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
        assert_eq!(volumes(&libvirt), ["base.qcow2"]);
        // A name that is already a domain.
        libvirt.conn.define_domain_xml(
            "<domain type='test'><name>taken</name><memory>1024</memory><os><type>hvm</type></os></domain>",
        ).unwrap();
        let err = libvirt
            .preflight(&spec("taken", user))
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
        let destroyed = libvirt.destroy("web-vm").unwrap();
        assert!(destroyed.domain);
        assert_eq!(destroyed.volumes.len(), 2);
        assert!(libvirt.domain("web-vm").unwrap().is_none());
        assert_eq!(
            volumes(&libvirt),
            ["base.qcow2", "db-vm-seed.img", "db-vm.qcow2"]
        );
        // Again: already gone is not an error.
        assert_eq!(libvirt.destroy("web-vm").unwrap(), Destroyed::default());
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
        let listed = libvirt.list().unwrap();
        let names: Vec<&str> = listed.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["db-vm", "web-vm"]);
        assert_eq!(listed[1].address.as_deref(), Some("127.0.0.1:2222"));
        assert_eq!(listed[1].state, "running");
        assert_eq!(listed[1].memory_mib, 1024);
        // The test driver reports a lease-like address on the network for a running domain.
        let address = listed[0].address.as_deref().unwrap();
        assert!(address.starts_with("192.168.122."), "{address}");
        assert_eq!(libvirt.used_ports().unwrap(), [2222]);
    }

    #[test]
    fn the_best_address_is_ipv4_then_ipv6_never_loopback_or_link_local() {
        let ips =
            |list: &[&str]| -> Vec<IpAddr> { list.iter().map(|s| s.parse().unwrap()).collect() };
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
    fn the_default_uri_follows_the_flag_then_the_environment() {
        assert_eq!(
            default_uri(Some("qemu+ssh://h/system")),
            "qemu+ssh://h/system"
        );
        assert!(is_local("qemu:///system") && is_local("test:///default"));
        assert!(!is_local("qemu+ssh://host/system"));
    }
}
