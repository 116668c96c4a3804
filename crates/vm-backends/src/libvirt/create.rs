//! Making a libvirt VM: a qcow2 overlay on the base image, the cloud-init seed volume, a domain
//! with our metadata, started. Everything made is recorded as it is made and removed again if a
//! later step fails (unless the caller keeps it); what cannot be removed is said.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use virt::domain::Domain;
use virt::storage_vol::StorageVol;
use virt::stream::Stream;
use vm::backend::{BackendError, DomainType, Firmware, KernelBoot, NetworkChoice};
use vm::guest::seed::Seed;
use vm::inventory::shlex::quote;

use super::preflight::BaseImage;
use super::xml::{NAMESPACE, escape_xml};
use super::{Libvirt, is_local, libvirt_error};

const DOMAIN_TEMPLATE: &str = include_str!("../../../../templates/domain.xml.tera");

/// Size of the seed volume; the FAT image is exactly this big.
pub(super) const SEED_BYTES: u64 = 1024 * 1024;

/// Everything needed to create one VM, validated before it gets here.
#[derive(Debug, Clone)]
pub struct VmSpec {
    /// Domain name, host name, fragment name.
    pub name: String,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// Virtual CPUs.
    pub vcpus: u32,
    /// Base image: a volume name in `pool`, or an absolute path on the libvirt host.
    pub image: String,
    /// Size to grow the disk to, in bytes; the base image's size when `None`.
    pub disk_bytes: Option<u64>,
    /// Storage pool for the overlay and the seed.
    pub pool: String,
    /// Make the overlay even when the pool has less room than it can grow to.
    pub allow_overcommit: bool,
    /// Network.
    pub network: NetworkChoice,
    /// The user cloud-init creates.
    pub user: String,
    /// Public keys for `user`, validated.
    pub ssh_keys: Vec<String>,
    /// Domain type.
    pub domain_type: DomainType,
    /// The firmware: it boots the disk's boot loader, or `kernel`.
    pub firmware: Firmware,
    /// Direct kernel boot, if asked.
    pub kernel: Option<KernelBoot>,
    /// The project's `templates/` folder (overrides of the built-in templates).
    pub templates: PathBuf,
    /// The project folder, recorded in the domain: a project sees only its own VMs.
    pub project: String,
}

/// What a provision made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    /// The forwarded SSH port on 127.0.0.1, with user-mode networking.
    pub port: Option<u16>,
    /// Path of the serial console log, for diagnosis.
    pub console_log: String,
}

/// What provision made so far: removed again, newest first, when a later step fails.
#[derive(Default)]
struct Made {
    volumes: Vec<StorageVol>,
    domain: Option<Domain>,
}

impl Libvirt {
    /// Creates the VM: overlay, seed, domain, started. On failure everything created is removed
    /// again unless `keep_on_failure` (always when the forwarded port was taken, so the caller
    /// can try another one); what cannot be removed is said, with the command that removes it.
    pub fn provision(
        &self,
        spec: &VmSpec,
        seed: &Seed,
        created_at: &str,
        keep_on_failure: bool,
    ) -> Result<Provisioned, BackendError> {
        let base = self.preflight_spec(spec)?;
        let mut made = Made::default();
        match self.make(spec, &base, seed, created_at, &mut made) {
            Ok(provisioned) => Ok(provisioned),
            Err(error) if keep_on_failure && !matches!(error, BackendError::PortTaken(_)) => {
                Err(error)
            }
            Err(error) => {
                let left = self.unmake(made);
                if left.is_empty() {
                    Err(error)
                } else {
                    Err(BackendError::Leftover {
                        error: Box::new(error),
                        left: left.join(", "),
                        hint: self.cleanup(&spec.name),
                    })
                }
            }
        }
    }

    /// The command that removes what is left of `name` when vm could not.
    pub fn cleanup(&self, name: &str) -> String {
        // A line to paste into a shell: the URI may hold `&` and `;` (`?socket=…&command=…`).
        let uri = quote(&self.uri);
        let name = quote(name);
        format!(
            "virsh -c {uri} destroy {name}; virsh -c {uri} undefine {name} --nvram --remove-all-storage"
        )
    }

    /// Removes what `make` made, newest first; returns what could not be removed.
    fn unmake(&self, made: Made) -> Vec<String> {
        let mut left = Vec::new();
        if let Some(Err(e)) = made.domain.map(|domain| self.remove_domain(&domain)) {
            left.push(format!("domain ({e})"));
        }
        for volume in made.volumes.into_iter().rev() {
            if let Err(e) = volume.delete(0) {
                let path = volume.path().unwrap_or_else(|_| "a volume".into());
                left.push(format!("volume {path} ({})", e.message()));
            }
        }
        left
    }

    fn make(
        &self,
        spec: &VmSpec,
        base: &BaseImage,
        seed: &Seed,
        created_at: &str,
        made: &mut Made,
    ) -> Result<Provisioned, BackendError> {
        let files = seed
            .render(&spec.templates)
            .map_err(|e| BackendError::Template(e.to_string()))?;
        let image = files
            .image()
            .map_err(|e| BackendError::Template(e.to_string()))?;
        let pool = self.pool(&spec.pool)?;
        // Preflight refused a --disk smaller than the image.
        let capacity = spec.disk_bytes.unwrap_or(base.capacity);
        // The base's own format: a raw base named qcow2 here would be read as garbage.
        let overlay = format!(
            "<volume type='file'><name>{}.qcow2</name><capacity unit='bytes'>{capacity}</capacity>\
             <target><format type='qcow2'/></target><backingStore><path>{}</path>\
             <format type='{}'/></backingStore></volume>",
            xml_text(&spec.name),
            xml_text(&base.path),
            xml_text(&base.format)
        );
        let disk = StorageVol::create_xml(&pool, &overlay, 0)
            .map_err(libvirt_error("cannot create the disk overlay"))?;
        made.volumes.push(disk.clone());
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
        made.volumes.push(seed_volume.clone());
        self.upload(&seed_volume, &image)?;
        let seed_path = seed_volume
            .path()
            .map_err(libvirt_error("cannot read the seed path"))?;

        let xml = self.domain_xml(spec, &disk_path, &seed_path, created_at)?;
        let domain = self
            .conn
            .define_domain_xml(&xml)
            .map_err(libvirt_error("cannot define the domain"))?;
        made.domain = Some(domain.clone());
        domain.create().map_err(|e| match spec.network {
            NetworkChoice::User { port } if e.message().contains("host forwarding rule") => {
                BackendError::PortTaken(port)
            }
            _ => libvirt_error("cannot start the domain")(e),
        })?;
        Ok(Provisioned {
            port: match spec.network {
                NetworkChoice::User { port } => Some(port),
                NetworkChoice::Named(_) => None,
            },
            console_log: self.console_log(&spec.name),
        })
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
        let mut context = tera::Context::new();
        context.insert("domain_type", self.virt_type(spec.domain_type));
        context.insert(
            "firmware",
            match spec.firmware {
                Firmware::Bios => "bios",
                Firmware::Uefi => "uefi",
            },
        );
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

    /// libvirt's virtualization type for `domain_type`: `auto` is KVM on a local host that has it.
    pub fn virt_type(&self, domain_type: DomainType) -> &'static str {
        match domain_type {
            DomainType::Kvm => "kvm",
            DomainType::Qemu => "qemu",
            DomainType::Auto => {
                if is_local(&self.uri) && std::path::Path::new("/dev/kvm").exists() {
                    "kvm"
                } else {
                    "qemu"
                }
            }
        }
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
}

/// Text for the two volume XML snippets built here (names and paths, already validated).
fn xml_text(s: &str) -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = escape_xml(s, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// A unique cloud-init instance id: every new VM is a first boot.
pub fn instance_id(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{name}-{nanos}")
}

/// RFC 3339 UTC time, without a date crate: days since the epoch to a civil date.
pub fn rfc3339(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}
