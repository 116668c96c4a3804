//! Checks against the real host before anything is made: every mistake found here costs the
//! user one message naming the fix, instead of volumes and a domain made, failing to start and
//! rolled back. Each refusal is `BackendError::Invalid` (exit 1, like every refusal of a
//! request the host cannot serve).

use std::path::Path;

use virt::error::ErrorNumber;
use virt::storage_pool::StoragePool;
use virt::storage_vol::StorageVol;
use virt::stream::Stream;
use vm::backend::{BackendError, Firmware, NetworkChoice};
use vm::inventory::shlex::quote;

use super::access::{self, Identity};
use super::create::{SEED_BYTES, VmSpec};
use super::xml::{offers_efi, read_dac_label, read_pool_path, read_volume};
use super::{Libvirt, is_code, is_local, libvirt_error};

/// The base image, as libvirt describes its volume.
#[derive(Debug, Clone)]
pub struct BaseImage {
    /// Path on the libvirt host.
    pub path: String,
    /// Virtual size in bytes.
    pub capacity: u64,
    /// `qcow2` or `raw` once checked: the overlay's `backingStore` format.
    pub format: String,
    /// The file a qcow2 base reads through to, if any.
    pub backing: Option<String>,
    volume: StorageVol,
}

/// Formats a qcow2 overlay can sit on.
const BACKING_FORMATS: [&str; 2] = ["qcow2", "raw"];

/// A compressed download: (magic at offset 0, name, usual suffix).
const COMPRESSED: [(&[u8], &str, &str); 4] = [
    (&[0xfd, b'7', b'z', b'X', b'Z', 0x00], "xz", ".xz"),
    (&[0x1f, 0x8b], "gzip", ".gz"),
    (b"BZh", "bzip2", ".bz2"),
    (&[0x28, 0xb5, 0x2f, 0xfd], "zstd", ".zst"),
];

impl Libvirt {
    /// Checks everything that can be checked before creating anything; returns the base image
    /// the overlay will sit on.
    pub fn preflight_spec(&self, spec: &VmSpec) -> Result<BaseImage, BackendError> {
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
        let base = self.base_image(&pool, &spec.image)?;
        self.check_base(spec, &base)?;
        let disk_bytes = check_disk_size(spec, &base)?;
        self.check_room(spec, &pool, disk_bytes, base.capacity)?;
        if let NetworkChoice::Named(network) = &spec.network {
            self.check_network(network)?;
        }
        self.check_access(spec, &pool, &base)?;
        if spec.firmware == Firmware::Uefi {
            self.preflight_efi(spec)?;
        }
        Ok(base)
    }

    /// UEFI asked: the host's libvirt must offer EFI firmware for this kind of guest, or the
    /// domain would be defined and then fail to start.
    fn preflight_efi(&self, spec: &VmSpec) -> Result<(), BackendError> {
        let virt_type = self.virt_type(spec.domain_type);
        let capabilities = self
            .conn
            .domain_capabilities(None, Some("x86_64"), None, Some(virt_type), 0)
            .map_err(libvirt_error(format!(
                "cannot read the domain capabilities of {} (to check for UEFI firmware)",
                self.uri
            )))?;
        let offered = offers_efi(&capabilities).map_err(|e| BackendError::Call {
            action: format!("cannot parse the domain capabilities of {}", self.uri),
            message: e,
        })?;
        if offered {
            return Ok(());
        }
        Err(BackendError::Invalid(format!(
            "--firmware uefi asked, but libvirt at {} offers no EFI firmware for {virt_type} \
             guests (`virsh domcapabilities --virttype {virt_type}` lists none); install OVMF on \
             the libvirt host (Debian/Ubuntu: apt-get install ovmf; Fedora: edk2-ovmf) and \
             restart libvirtd, or use --firmware bios",
            self.uri
        )))
    }

    /// The base image: a volume of `pool`, or a path libvirt knows.
    pub(super) fn base_image(
        &self,
        pool: &StoragePool,
        image: &str,
    ) -> Result<BaseImage, BackendError> {
        let volume = if image.starts_with('/') {
            self.conn.lookup_storage_vol_by_path(image)
        } else {
            pool.lookup_storage_vol_by_name(image)
        };
        let volume = volume.map_err(|e| {
            if is_code(&e, ErrorNumber::NoStorageVolume) {
                BackendError::Invalid(format!(
                    "unknown image {image:?} at {}: no such volume in the pool (nor a file in \
                     any pool of that libvirt host); `virsh vol-list POOL` lists them, or pass \
                     --image with a volume name or a path on the libvirt host",
                    self.uri
                ))
            } else {
                libvirt_error(format!("cannot look up image {image}"))(e)
            }
        })?;
        let path = volume
            .path()
            .map_err(libvirt_error("cannot read the image path"))?;
        let capacity = volume
            .info()
            .map_err(libvirt_error("cannot read the image size"))?
            .capacity;
        let xml = volume
            .xml_desc(0)
            .map_err(libvirt_error("cannot read the image's description"))?;
        let doc = read_volume(&xml).map_err(|e| BackendError::Call {
            action: format!("cannot parse the description of image {path}"),
            message: e,
        })?;
        Ok(BaseImage {
            path,
            capacity,
            format: doc.format.unwrap_or_else(|| "raw".into()),
            backing: doc.backing,
            volume,
        })
    }

    /// A base image must be a disk image QEMU can put an overlay on: qcow2 or raw, not
    /// compressed, with its own backing file present.
    fn check_base(&self, spec: &VmSpec, base: &BaseImage) -> Result<(), BackendError> {
        let image = format!("image {} ({})", spec.image, base.path);
        if !BACKING_FORMATS.contains(&base.format.as_str()) {
            return Err(BackendError::Invalid(format!(
                "{image} is in {} format, which cannot back a VM's disk: pass --image with a qcow2 \
                 or raw disk image (a cloud image such as debian-12-genericcloud-amd64.qcow2; an \
                 installer ISO is not one)",
                base.format
            )));
        }
        // libvirt probes a compressed download as raw; its first bytes say what it is.
        if base.format == "raw"
            && let Some((kind, suffix)) = self.head(&base.volume, 8).and_then(|h| compression(&h))
        {
            let out = base
                .path
                .strip_suffix(suffix)
                .map_or_else(|| format!("{}.raw", base.path), str::to_string);
            let pool = base
                .volume
                .lookup_storage_pool()
                .and_then(|p| p.name())
                .unwrap_or_else(|_| "POOL".into());
            let image_arg = if spec.image.starts_with('/') {
                out.clone()
            } else {
                Path::new(&out)
                    .file_name()
                    .map_or(out.clone(), |n| n.to_string_lossy().into_owned())
            };
            return Err(BackendError::Invalid(format!(
                "{image} is {kind}-compressed, and QEMU cannot boot a compressed file: decompress \
                 it first, on the libvirt host: `{kind} -dc {} > {}`, then `virsh -c {} \
                 pool-refresh {}` and pass --image {}",
                quote(&base.path),
                quote(&out),
                quote(&self.uri),
                quote(&pool),
                quote(&image_arg)
            )));
        }
        // The backing file is on the libvirt host: seen from here only when that is this machine.
        if let Some(backing) = &base.backing
            && is_local(&self.uri)
            && matches!(std::fs::metadata(backing), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
        {
            return Err(BackendError::Invalid(format!(
                "{image} is a qcow2 overlay whose own backing file {backing} is missing: put that \
                 file back, or pass --image with a complete image (`qemu-img info \
                 --backing-chain {}` shows the chain)",
                quote(&base.path)
            )));
        }
        Ok(())
    }

    /// The first `n` bytes of a volume, read through libvirt (so for remote hosts too); `None`
    /// when the driver cannot download (the test driver), which leaves the check undecided
    /// rather than refusing an image that may be fine.
    fn head(&self, volume: &StorageVol, n: usize) -> Option<Vec<u8>> {
        let stream = Stream::new(&self.conn, 0).ok()?;
        if volume.download(&stream, 0, n as u64, 0).is_err() {
            // The stream was never started: nothing to abort.
            return None;
        }
        // libvirt sends at most the `n` bytes asked for, then the end of the stream.
        let mut out = Vec::with_capacity(n);
        let mut buf = vec![0u8; n.max(1)];
        loop {
            match stream.recv(&mut buf) {
                Ok(0) => break,
                Ok(k) => out.extend_from_slice(&buf[..k as usize]),
                Err(_) => {
                    // Undecided, as above; the abort only releases the stream.
                    let _ = stream.abort();
                    return None;
                }
            }
        }
        stream.finish().ok()?;
        Some(out)
    }

    /// The overlay can grow to its full size: refuse when the pool has not that much room, unless
    /// the user accepts a thin disk that may outgrow it.
    fn check_room(
        &self,
        spec: &VmSpec,
        pool: &StoragePool,
        disk_bytes: u64,
        image_bytes: u64,
    ) -> Result<(), BackendError> {
        if spec.allow_overcommit {
            return Ok(());
        }
        let info = pool.info().map_err(libvirt_error(format!(
            "cannot read the size of pool {}",
            spec.pool
        )))?;
        // Pools that do not know their size report 0: nothing to compare with.
        let need = disk_bytes + SEED_BYTES;
        if info.capacity == 0 || need <= info.available {
            return Ok(());
        }
        let smaller = if disk_bytes > image_bytes {
            format!("a smaller --disk (the image needs {}), ", size(image_bytes))
        } else {
            String::new()
        };
        Err(BackendError::Invalid(format!(
            "storage pool {pool} has {} free, and the disk of {} can grow to {} (+ 1 MiB for the \
             cloud-init seed): it could fill the pool. Pass {smaller}another --pool, free space \
             in {pool}, or --allow-overcommit (allow_overcommit = true in vm.toml) to accept a \
             thin disk that may outgrow the pool",
            size(info.available),
            spec.name,
            size(disk_bytes),
            pool = spec.pool,
        )))
    }

    fn check_network(&self, network: &str) -> Result<(), BackendError> {
        let net = self.conn.lookup_network_by_name(network).map_err(|e| {
            BackendError::Invalid(format!(
                "no libvirt network {network:?} at {} ({}); `virsh net-list --all` lists them, \
                 or use --network user",
                self.uri,
                e.message()
            ))
        })?;
        let active = net.is_active().map_err(libvirt_error(format!(
            "cannot read the state of network {network}"
        )))?;
        if !active {
            let (uri, name) = (quote(&self.uri), quote(network));
            return Err(BackendError::Invalid(format!(
                "libvirt network {network} at {} is defined but not started: start it with \
                 `virsh -c {uri} net-start {name}` (and `virsh -c {uri} net-autostart {name}` to \
                 start it whenever libvirtd starts), or use --network user",
                self.uri
            )));
        }
        Ok(())
    }

    /// Every folder QEMU must pass through to open the disk, the kernel and the initrd must let
    /// its user in. Only for a local connection: the folders of a remote host cannot be seen
    /// from here, and that check is skipped.
    fn check_access(
        &self,
        spec: &VmSpec,
        pool: &StoragePool,
        base: &BaseImage,
    ) -> Result<(), BackendError> {
        if !is_local(&self.uri) {
            return Ok(());
        }
        let capabilities = self
            .conn
            .capabilities()
            .map_err(libvirt_error("cannot read the host capabilities"))?;
        let label =
            read_dac_label(&capabilities, self.virt_type(spec.domain_type)).map_err(|e| {
                BackendError::Call {
                    action: "cannot parse the host capabilities".into(),
                    message: e,
                }
            })?;
        // No DAC model (QEMU not run as another user), or a label this machine cannot resolve:
        // nothing to check against.
        let Some(Ok(who)) = label.map(|l| Identity::from_label(&l)) else {
            return Ok(());
        };
        if who.uid == 0 {
            return Ok(());
        }
        let pool_xml = pool
            .xml_desc(0)
            .map_err(libvirt_error(format!("cannot read pool {}", spec.pool)))?;
        let pool_path = read_pool_path(&pool_xml).map_err(|e| BackendError::Call {
            action: format!("cannot parse the description of pool {}", spec.pool),
            message: e,
        })?;
        let parent = |file: &str| Path::new(file).parent().map(Path::to_path_buf);
        // (what QEMU opens, the folder it is in, the other way out)
        let mut places = Vec::new();
        if let Some(path) = pool_path {
            places.push((
                format!("the disk in storage pool {}", spec.pool),
                path.into(),
                "use a pool in a folder it can reach (--pool NAME)",
            ));
        }
        let elsewhere = "put the file in a folder it can reach";
        if let Some(folder) = parent(&base.path) {
            places.push((format!("the base image {}", base.path), folder, elsewhere));
        }
        if let Some(kernel) = &spec.kernel {
            if let Some(folder) = parent(&kernel.kernel) {
                places.push((format!("--kernel {}", kernel.kernel), folder, elsewhere));
            }
            if let Some(folder) = kernel.initrd.as_deref().and_then(parent) {
                let initrd = kernel.initrd.as_deref().unwrap_or_default();
                places.push((format!("--initrd {initrd}"), folder, elsewhere));
            }
        }
        for (what, folder, other_way) in places {
            let blocked = access::blocked(&folder, &who);
            if blocked.is_empty() {
                continue;
            }
            let folders: Vec<String> = blocked
                .iter()
                .map(|(dir, meta)| format!("{} ({})", dir.display(), meta.describe()))
                .collect();
            let paths: Vec<String> = blocked
                .iter()
                .map(|(dir, _)| quote(&dir.to_string_lossy()))
                .collect();
            return Err(BackendError::Invalid(format!(
                "QEMU runs as {} and cannot enter {}, so it could not open {what}: let it \
                 through with `chmod o+x {}`, or {other_way}",
                who.describe(),
                folders.join(", "),
                paths.join(" ")
            )));
        }
        Ok(())
    }
}

/// The size the overlay gets: `--disk`, which may not be smaller than the image (an overlay
/// cannot shrink what it reads through to), or the image's own size.
fn check_disk_size(spec: &VmSpec, base: &BaseImage) -> Result<u64, BackendError> {
    match spec.disk_bytes {
        None => Ok(base.capacity),
        Some(disk) if disk >= base.capacity => Ok(disk),
        Some(disk) => Err(BackendError::Invalid(format!(
            "--disk {} is smaller than the virtual size of image {}, {}: a disk on top of an \
             image cannot be smaller than it; pass --disk {}M or more, or leave --disk out to \
             get the image's size",
            size(disk),
            spec.image,
            size(base.capacity),
            base.capacity.div_ceil(1 << 20)
        ))),
    }
}

/// `64 MiB`, or `1.5 GiB (1610612736 bytes)` when not a whole number of units.
pub fn size(bytes: u64) -> String {
    for (unit, shift) in [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        let one = 1u64 << shift;
        if bytes >= one {
            return if bytes.is_multiple_of(one) {
                format!("{} {unit}", bytes >> shift)
            } else {
                format!("{:.1} {unit} ({bytes} bytes)", bytes as f64 / one as f64)
            };
        }
    }
    format!("{bytes} bytes")
}

/// The compressed format a file's first bytes announce, if any, and its usual suffix.
pub fn compression(head: &[u8]) -> Option<(&'static str, &'static str)> {
    COMPRESSED
        .iter()
        .find(|(magic, ..)| head.starts_with(magic))
        .map(|(_, kind, suffix)| (*kind, *suffix))
}
