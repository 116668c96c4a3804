//! The libvirt backend, through the `virt` crate: a qcow2 overlay on a base image, a cloud-init
//! seed volume, a domain with our metadata (`create.rs`); and the way back, read from the domain
//! itself.

mod access;
mod create;
mod power;
mod preflight;
#[cfg(test)]
mod tests;
pub mod xml;

use std::cell::RefCell;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use virt::connect::Connect;
use virt::domain::Domain;
use virt::error::{Error as VirtError, ErrorNumber};
use virt::storage_pool::StoragePool;
use virt::sys;
use vm::backend::{
    Backend, BackendError, CreateEnv, Created, Destroyed, HostKeySource, NetworkChoice, NewVm,
    Power, Powered, Resized, Target, VmInfo,
};
use vm::guest::seed::Seed;
use vm::inventory::check::Presence;
use vm::inventory::fragment::Address;
use vm::project::Project;
use vm::settings::LibvirtSettings;

pub use create::{Provisioned, VmSpec, instance_id, rfc3339};
pub use vm::libvirt_uri::is_local;
use xml::read_domain;

/// First port tried for user-mode SSH forwards; the range is this plus 10,000.
const FIRST_PORT: u16 = 22200;

/// How often a port taken between our check and QEMU's bind is retried with the next one.
const PORT_ATTEMPTS: usize = 20;

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

/// One open libvirt connection, with the settings new VMs get.
pub struct Libvirt {
    conn: Connect,
    uri: String,
    target: Target,
    settings: Option<LibvirtSettings>,
    /// Every managed domain, listed once for presence checks.
    listed: RefCell<Option<Result<Vec<VmInfo>, String>>>,
}

impl Libvirt {
    /// Opens `uri`. libvirt's own error printing is switched off: errors reach the user once,
    /// through our messages.
    pub fn connect(uri: &str) -> Result<Libvirt, BackendError> {
        virt::error::clear_error_callback();
        vm::libvirt_uri::refuse_unverified(uri).map_err(BackendError::Invalid)?;
        let conn = Connect::open(Some(uri)).map_err(|e| {
            let message = e.message().to_string();
            // The ssh transport runs OpenSSH, whose verdict on the host key is the last line
            // it prints; libvirt passes it through in its message.
            if message.contains("Host key verification failed") {
                BackendError::HostKey {
                    uri: uri.to_string(),
                    message,
                }
            } else {
                BackendError::Connect {
                    uri: uri.to_string(),
                    message,
                }
            }
        })?;
        Ok(Libvirt {
            conn,
            uri: uri.to_string(),
            target: Target {
                kind: vm::backend::BackendKind::Libvirt,
                connection: uri.to_string(),
            },
            settings: None,
            listed: RefCell::new(None),
        })
    }

    /// The same connection, with the settings new VMs get.
    pub fn with_settings(mut self, settings: LibvirtSettings) -> Libvirt {
        self.settings = Some(settings);
        self
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

    /// The first usable address of a running domain: DHCP lease, then guest agent, then ARP;
    /// IPv4 before IPv6; never loopback or link-local.
    pub fn ip(&self, name: &str) -> Result<Option<IpAddr>, BackendError> {
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
    /// image alone, and the volumes too when `keep_disk`. A domain that is already gone is not
    /// an error.
    pub fn remove(&self, name: &str, keep_disk: bool) -> Result<Destroyed, BackendError> {
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
            existed: true,
            volumes: Vec::new(),
        };
        // The serial console log is ours, and libvirt never deletes its own log of the domain
        // either; both can only be removed when they are in this machine's filesystem. A log
        // that is already gone (or was never written) is no reason to fail the destroy.
        if shares_our_files(&self.uri) {
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

    /// The managed VMs (domains with our metadata) of every project, with state, size and
    /// address.
    pub fn managed(&self) -> Result<Vec<VmInfo>, BackendError> {
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
                None if running => self.ip(&name).ok().flatten().map(|ip| ip.to_string()),
                None => None,
            };
            out.push(VmInfo {
                name,
                state: state_name(info.state.to_raw()).to_string(),
                memory_mib: Some(info.max_mem / 1024),
                vcpus: Some(info.nr_virt_cpu),
                address,
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

/// Whether the files `uri`'s daemon writes (its log of a domain, the console log) are at the
/// same paths here: a local URI of the daemon's usual socket. A daemon reached through another
/// socket (`?socket=PATH`) may see another filesystem (a container, or the private mount
/// namespace of the tests' `start-libvirtd-netns`), where its `/var/log/libvirt/qemu/web.log`
/// is not ours: removing ours would remove another daemon's log of a same-named domain.
pub fn shares_our_files(uri: &str) -> bool {
    is_local(uri) && !uri.contains("socket=")
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

impl Libvirt {
    /// The settings new VMs get; only `vm provision` opens a backend with them.
    fn new_vm_settings(&self) -> Result<&LibvirtSettings, BackendError> {
        self.settings.as_ref().ok_or_else(|| {
            BackendError::Invalid("internal error: libvirt opened without settings".into())
        })
    }

    /// The domain to make for `vm`.
    fn spec(&self, vm: &NewVm) -> Result<VmSpec, BackendError> {
        let settings = self.new_vm_settings()?;
        if vm.ssh_keys.is_empty() {
            return Err(BackendError::Invalid(vm::guest::NO_PUBLIC_KEY.into()));
        }
        Ok(VmSpec {
            name: vm.name.to_string(),
            memory_mib: vm.memory_mib,
            vcpus: vm.vcpus,
            image: settings.image.clone().ok_or_else(|| {
                BackendError::Invalid(
                    "no base image: pass --image VOLUME, or set image in vm.toml".into(),
                )
            })?,
            disk_bytes: settings.disk_bytes,
            pool: settings.pool.clone(),
            allow_overcommit: settings.allow_overcommit,
            network: settings.network.clone(),
            user: vm.user.to_string(),
            ssh_keys: vm.ssh_keys.to_vec(),
            domain_type: settings.domain_type,
            firmware: settings.firmware,
            kernel: settings.kernel.clone(),
            templates: vm.templates.clone(),
            project: vm.project.clone(),
        })
    }

    /// Makes the VM with user-mode networking: the forwarded port is chosen and the domain
    /// (which records it) defined under the inventory lock, so parallel provisions never pick
    /// the same port. Another project or program can still take the port before QEMU binds it:
    /// then what was made is removed and the next free port is tried.
    fn provision_forwarded(
        &self,
        mut spec: VmSpec,
        seed: &Seed,
        created_at: &str,
        env: &CreateEnv,
        keep_on_failure: bool,
    ) -> Result<Provisioned, BackendError> {
        let _lock = (env.lock)().map_err(|e| BackendError::Invalid(e.to_string()))?;
        let mut used = self.used_ports()?;
        used.extend((env.local_ports)());
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port(&used)?;
            spec.network = NetworkChoice::User { port };
            env.reporter
                .detail(format!("forwarding 127.0.0.1:{port} to {}:22", spec.name));
            match self.provision(&spec, seed, created_at, keep_on_failure) {
                Err(BackendError::PortTaken(port)) => {
                    env.reporter
                        .detail(format!("port {port} was taken meanwhile"));
                    used.push(port);
                }
                other => return other,
            }
        }
        Err(BackendError::Invalid(format!(
            "{PORT_ATTEMPTS} ports on 127.0.0.1 were taken by other programs between our check \
             and QEMU's start; try again, or use a libvirt network (--network NAME)"
        )))
    }
}

/// The first port from [`FIRST_PORT`] that nobody uses and that can be bound on 127.0.0.1 now.
fn free_port(used: &[u16]) -> Result<u16, BackendError> {
    (FIRST_PORT..FIRST_PORT + 10_000)
        .filter(|port| !used.contains(port))
        .find(|&port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok())
        .ok_or_else(|| {
            BackendError::Invalid(format!(
                "no free port on 127.0.0.1 between {FIRST_PORT} and {} for the SSH forward; \
                 destroy VMs you no longer need, or use --network NAME",
                FIRST_PORT + 9_999
            ))
        })
}

impl Backend for Libvirt {
    fn target(&self) -> &Target {
        &self.target
    }

    fn preflight(&self, vm: &NewVm) -> Result<(), BackendError> {
        self.preflight_spec(&self.spec(vm)?).map(|_| ())
    }

    fn create(
        &self,
        vm: &NewVm,
        env: &CreateEnv,
        keep_on_failure: bool,
    ) -> Result<Created, BackendError> {
        let spec = self.spec(vm)?;
        let seed = Seed {
            hostname: vm.name.to_string(),
            user: vm.user.to_string(),
            ssh_authorized_keys: vm.ssh_keys.to_vec(),
            host_key: Some((vm.host_key.private.clone(), vm.host_key.public.clone())),
            instance_id: instance_id(vm.name),
        };
        let created_at = rfc3339(SystemTime::now());
        let provisioned = match spec.network {
            NetworkChoice::User { .. } => {
                self.provision_forwarded(spec, &seed, &created_at, env, keep_on_failure)?
            }
            NetworkChoice::Named(_) => {
                self.provision(&spec, &seed, &created_at, keep_on_failure)?
            }
        };
        Ok(Created {
            address: provisioned.port.map(|port| Address {
                host: "127.0.0.1".into(),
                port: Some(port),
            }),
            user: None,
            // The key vm made went in through the seed volume, uploaded over libvirt's own
            // authenticated connection.
            host_key: HostKeySource::Installed,
            // The log is a file of the libvirt host: read here only when that is this machine
            // (a same-named file here would be another VM's).
            log: shares_our_files(&self.uri)
                .then(|| ("serial console", provisioned.console_log.into())),
            details: Vec::new(),
        })
    }

    fn address(&self, name: &str) -> Result<Option<Address>, BackendError> {
        Ok(self.ip(name)?.map(|ip| Address {
            host: ip.to_string(),
            port: None,
        }))
    }

    fn destroy(&self, name: &str, keep_disk: bool) -> Result<Destroyed, BackendError> {
        self.remove(name, keep_disk)
    }

    fn list(&self, project: &Project) -> Result<Vec<VmInfo>, BackendError> {
        Ok(self
            .managed()?
            .into_iter()
            .filter(|vm| project.owns(vm.project.as_deref()))
            .collect())
    }

    fn presence(&self, name: &str) -> Presence {
        let mut listed = self.listed.borrow_mut();
        let vms = listed.get_or_insert_with(|| self.managed().map_err(|e| e.to_string()));
        match vms {
            Err(e) => Presence::Unknown(e.clone()),
            Ok(vms) => match vms.iter().find(|vm| vm.name == name) {
                Some(vm) => Presence::Exists {
                    address: vm.address.clone(),
                },
                None => Presence::Missing,
            },
        }
    }

    fn cleanup_hint(&self, name: &str) -> String {
        self.cleanup(name)
    }

    /// Memory and vCPUs of the domain's persistent configuration (maximum and current, in the
    /// order that keeps current within maximum); a running domain keeps its size until it is
    /// restarted.
    fn resize(&self, name: &str, memory_mib: u64, vcpus: u32) -> Result<Resized, BackendError> {
        let domain = self.existing(name)?;
        let kib = memory_mib * 1024;
        let config = sys::VIR_DOMAIN_MEM_CONFIG;
        let memory = domain
            .set_memory_flags(kib, config | sys::VIR_DOMAIN_MEM_MAXIMUM)
            .and_then(|()| domain.set_memory_flags(kib, config));
        memory.map_err(libvirt_error(format!("cannot change the memory of {name}")))?;
        let current = domain
            .vcpus_flags(sys::VIR_DOMAIN_VCPU_CONFIG)
            .map_err(libvirt_error(format!("cannot read the vCPUs of {name}")))?;
        let maximum = sys::VIR_DOMAIN_VCPU_CONFIG | sys::VIR_DOMAIN_VCPU_MAXIMUM;
        let cpus = if vcpus >= current {
            domain
                .set_vcpus_flags(vcpus, maximum)
                .and_then(|()| domain.set_vcpus_flags(vcpus, sys::VIR_DOMAIN_VCPU_CONFIG))
        } else {
            domain
                .set_vcpus_flags(vcpus, sys::VIR_DOMAIN_VCPU_CONFIG)
                .and_then(|()| domain.set_vcpus_flags(vcpus, maximum))
        };
        cpus.map_err(libvirt_error(format!("cannot change the vCPUs of {name}")))?;
        Ok(Resized {
            restart_needed: domain.is_active().unwrap_or(false),
        })
    }

    /// A hard stop and a start: a guest reboot would keep QEMU, and so the old size.
    fn restart(&self, name: &str) -> Result<(), BackendError> {
        let domain = self.existing(name)?;
        if domain.is_active().unwrap_or(false) {
            domain
                .destroy()
                .map_err(libvirt_error(format!("cannot stop {name}")))?;
        }
        domain
            .create()
            .map_err(libvirt_error(format!("cannot start {name}")))
            .map(|_| ())
    }

    fn power(&self, name: &str, action: Power, timeout: Duration) -> Result<Powered, BackendError> {
        self.change_power(name, action, timeout)
    }

    fn console(&self, name: &str) -> Result<Vec<String>, BackendError> {
        self.console_command(name)
    }

    /// A forwarded port on 127.0.0.1 stays; an address on a libvirt network is the guest's lease.
    fn discovers_address(&self, recorded: &Address) -> bool {
        recorded.port.is_none()
    }
}
