//! Mistakes with libvirt that `vm provision` must refuse before it makes anything, against the
//! real `libvirtd` (`scripts/start-libvirtd`): a stopped network, a pool or kernel in a folder
//! QEMU's user cannot enter, a base image that cannot back an overlay (ISO, compressed, broken
//! backing chain), a --disk smaller than the image, a pool without room for the disk. Each
//! refusal exits 1 with the fix named, and leaves no domain, no volume, no fragment and the
//! inventory byte for byte as it was. Where the fix is a command, the test applies it and the
//! same provision then works.
//!
//! Needs root, as CI has. Every test makes its own networks, pools, folders and mounts, named
//! `pf<pid>-…`, and removes them when it ends, however it ends.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::Project;
use common::libvirt::{Cleanup, URI, start_libvirtd, virsh};

/// Starts libvirtd once per test binary; returns the public key to provision with.
fn setup() -> &'static Path {
    static KEY: OnceLock<PathBuf> = OnceLock::new();
    KEY.get_or_init(|| {
        start_libvirtd();
        let dir = std::env::temp_dir().join(format!("vm-preflight-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("id_ed25519");
        let _ = std::fs::remove_file(&key);
        common::keygen(&key, "test");
        dir.join("id_ed25519.pub")
    })
}

/// `pf<pid>-<tag>`: names no other test run or worker uses.
fn unique(tag: &str) -> String {
    format!("pf{}-{tag}", std::process::id())
}

fn ok(args: &[&str]) -> String {
    let (ok, out) = virsh(args);
    assert!(ok, "virsh {} failed: {out}", args.join(" "));
    out
}

fn run(program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(status.success(), "{program} {} failed", args.join(" "));
}

/// Networks, pools, folders and mounts a test made; removed when it ends, however it ends.
#[derive(Default)]
struct Scratch {
    networks: Vec<String>,
    pools: Vec<String>,
    mounts: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl Scratch {
    /// A fresh folder under /var/tmp (which QEMU's user can enter), 0755.
    fn dir(&mut self, tag: &str) -> PathBuf {
        let dir = Path::new("/var/tmp").join(unique(tag));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        self.dirs.push(dir.clone());
        chmod(&dir, 0o755);
        dir
    }

    /// A started `dir` pool named `unique(tag)` at `dir`.
    fn pool(&mut self, tag: &str, dir: &Path) -> String {
        let name = unique(tag);
        ok(&[
            "pool-define-as",
            &name,
            "dir",
            "--target",
            &dir.to_string_lossy(),
        ]);
        self.pools.push(name.clone());
        ok(&["pool-start", &name]);
        name
    }

    /// A pool in its own fresh folder, with a 64 MiB qcow2 base image `base.qcow2`.
    fn pool_with_base(&mut self, tag: &str) -> (String, PathBuf) {
        let dir = self.dir(tag);
        let pool = self.pool(tag, &dir);
        ok(&[
            "vol-create-as",
            &pool,
            "base.qcow2",
            "64M",
            "--format",
            "qcow2",
        ]);
        (pool, dir)
    }

    /// A network that is defined but not started.
    fn stopped_network(&mut self, tag: &str) -> String {
        let name = unique(tag);
        let file = self.dir(&format!("{tag}-xml")).join("net.xml");
        std::fs::write(&file, format!("<network><name>{name}</name></network>")).unwrap();
        ok(&["net-define", &file.to_string_lossy()]);
        self.networks.push(name.clone());
        name
    }

    /// A tmpfs of `size` mounted on a fresh folder.
    fn tmpfs(&mut self, tag: &str, size: &str) -> PathBuf {
        let dir = self.dir(tag);
        run(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                &unique(tag),
                &dir.to_string_lossy(),
            ],
        );
        self.mounts.push(dir.clone());
        dir
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for pool in &self.pools {
            virsh(&["pool-destroy", pool]);
            virsh(&["pool-undefine", pool]);
        }
        for network in &self.networks {
            virsh(&["net-destroy", network]);
            virsh(&["net-undefine", network]);
        }
        for mount in &self.mounts {
            let _ = Command::new("umount").arg(mount).status();
        }
        for dir in &self.dirs {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn volumes(pool: &str) -> Vec<String> {
    ok(&["pool-refresh", pool]);
    let mut names: Vec<String> = ok(&["vol-list", pool])
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

fn domain_exists(name: &str) -> bool {
    virsh(&["domstate", name]).0
}

/// A project with a hand-written fragment merged into `inventory.ini`: "unchanged" then means
/// something.
fn project() -> Project {
    let project = Project::new().fragment("hand.ini", "[lab]\nhand-1 ansible_host=127.0.0.1\n");
    project
        .run(&["inventory", "merge", "--validate", "internal"])
        .success();
    project
}

/// `vm provision NAME 256 1` on `pool` with `image`, user-mode networking, no waits.
fn provision(name: &str, pool: &str, image: &str) -> Vec<String> {
    let key = setup().display().to_string();
    [
        "provision",
        name,
        "256",
        "1",
        "--connect",
        URI,
        "--pool",
        pool,
        "--image",
        image,
        "--network",
        "user",
        "--domain-type",
        "qemu",
        "--no-wait",
        "--ssh-key",
        &key,
        "--validate",
        "internal",
    ]
    .map(str::to_string)
    .to_vec()
}

/// `args` with `flag`'s value replaced, or the flag (and value) added.
fn with(mut args: Vec<String>, flag: &str, value: Option<&str>) -> Vec<String> {
    match (args.iter().position(|a| a == flag), value) {
        (Some(at), Some(value)) => args[at + 1] = value.to_string(),
        (None, Some(value)) => args.extend([flag.to_string(), value.to_string()]),
        (_, None) => args.push(flag.to_string()),
    }
    args
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Runs `args`, which must be refused with exit 1 and every one of `fixes` in the message, and
/// proves nothing was made: no domain, no new volume in `pools`, the project byte for byte.
fn refused(project: &Project, args: &[String], pools: &[&str], fixes: &[&str]) -> String {
    let name = args[1].clone();
    let before: Vec<Vec<String>> = pools.iter().map(|p| volumes(p)).collect();
    let tree = project.snapshot();
    let result = project.run(&refs(args));
    result.code(1);
    for fix in fixes {
        result.stderr_contains(fix);
    }
    assert!(!domain_exists(&name), "a domain {name} was made");
    let after: Vec<Vec<String>> = pools.iter().map(|p| volumes(p)).collect();
    assert_eq!(before, after, "volumes were made");
    assert!(
        !volumes(common::libvirt::POOL)
            .iter()
            .any(|v| v.starts_with(&name)),
        "volumes were made in the test pool"
    );
    let changed: Vec<String> = common::tree::changed(&tree, &project.snapshot())
        .into_iter()
        .map(str::to_string)
        .collect();
    assert_eq!(changed, Vec::<String>::new(), "the project changed");
    result.stderr.clone()
}

/// The provision works, the domain runs, and `vm destroy` removes it.
fn provisions(project: &Project, args: &[String]) {
    let name = args[1].clone();
    project.run(&refs(args)).success();
    assert_eq!(ok(&["domstate", &name]).trim(), "running");
    project.run(&["destroy", &name, "--yes"]).success();
    assert!(!domain_exists(&name));
}

/// Who QEMU runs as, from the capabilities: `name (uid:gid U:G)`.
fn qemu_user() -> String {
    let caps = ok(&["capabilities"]);
    let label = caps
        .split("<baselabel type='qemu'>+")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("no DAC label for qemu in the capabilities:\n{caps}"));
    let (uid, gid) = label.split_once(":+").expect("uid:gid");
    let output = Command::new("id").args(["-nu", uid]).output().unwrap();
    let name = String::from_utf8_lossy(&output.stdout).trim().to_string();
    format!("{name} (uid:gid {uid}:{gid})")
}

#[test]
fn a_stopped_network_is_refused_with_the_commands_that_start_it_and_nothing_is_made() {
    setup();
    let mut scratch = Scratch::default();
    let (pool, _) = scratch.pool_with_base("net");
    let network = scratch.stopped_network("off");
    let name = unique("net-vm");
    let _cleanup = Cleanup(vec![name.clone()]);
    let project = project();
    let args = with(
        provision(&name, &pool, "base.qcow2"),
        "--network",
        Some(&network),
    );
    refused(
        &project,
        &args,
        &[&pool],
        &[
            &format!("libvirt network {network} at {URI} is defined but not started"),
            &format!("virsh -c {URI} net-start {network}"),
            &format!("virsh -c {URI} net-autostart {network}"),
        ],
    );
}

/// A 0700 temporary folder, as `mktemp -d` makes: QEMU cannot enter it.
fn private_folder(prefix: &str) -> tempfile::TempDir {
    let private = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    chmod(private.path(), 0o700);
    private
}

#[test]
fn a_pool_in_a_folder_qemu_cannot_enter_is_refused_with_chmod_and_works_after_it() {
    setup();
    let mut scratch = Scratch::default();
    let (base_pool, base_dir) = scratch.pool_with_base("pbase");
    // The pool's folder inside a private one.
    let private = private_folder("pf-private");
    let pool_dir = private.path().join("pool");
    std::fs::create_dir(&pool_dir).unwrap();
    chmod(&pool_dir, 0o755);
    let pool = scratch.pool("private", &pool_dir);
    let name = unique("perm-vm");
    let _cleanup = Cleanup(vec![name.clone()]);
    let project = project();
    let image = base_dir.join("base.qcow2").display().to_string();
    let args = provision(&name, &pool, &image);
    let folder = private.path().display().to_string();
    refused(
        &project,
        &args,
        &[&pool, &base_pool],
        &[
            &format!("QEMU runs as {} and cannot enter {folder} (", qemu_user()),
            &format!("the disk in storage pool {pool}"),
            &format!("`chmod o+x {folder}`"),
        ],
    );
    chmod(private.path(), 0o701);
    provisions(&project, &args);
    // The overlay made meanwhile was removed by destroy; the pool is left as it was.
    assert_eq!(volumes(&pool), Vec::<String>::new());
}

#[test]
fn a_kernel_in_a_folder_qemu_cannot_enter_is_refused_with_chmod() {
    setup();
    let mut scratch = Scratch::default();
    let (pool, _) = scratch.pool_with_base("kern");
    let private = private_folder("pf-kernel");
    let kernel = private.path().join("vmlinuz");
    std::fs::write(&kernel, b"not a kernel: refused before QEMU would read it").unwrap();
    let name = unique("kern-vm");
    let _cleanup = Cleanup(vec![name.clone()]);
    let project = project();
    let args = with(
        provision(&name, &pool, "base.qcow2"),
        "--kernel",
        Some(&kernel.display().to_string()),
    );
    refused(
        &project,
        &args,
        &[&pool],
        &[
            &format!("could not open --kernel {}", kernel.display()),
            &format!("`chmod o+x {}`", private.path().display()),
        ],
    );
}

#[test]
fn an_iso_a_compressed_file_and_an_overlay_missing_its_backing_file_cannot_be_the_base() {
    setup();
    let mut scratch = Scratch::default();
    let (pool, dir) = scratch.pool_with_base("img");
    // An ISO 9660 image: libvirt knows one by "CD001" at 32769.
    let mut iso = vec![0u8; 40_000];
    iso[0x8001..0x8006].copy_from_slice(b"CD001");
    std::fs::write(dir.join("installer.iso"), iso).unwrap();
    // A gzip-compressed download (libvirt sees raw).
    std::fs::write(dir.join("disk.img"), vec![0u8; 1 << 20]).unwrap();
    run("gzip", &[&dir.join("disk.img").to_string_lossy()]);
    // A qcow2 overlay whose backing file is gone.
    let back = dir.join("gone.qcow2");
    let orphan = dir.join("orphan.qcow2");
    run(
        "qemu-img",
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            &back.to_string_lossy(),
            "64M",
        ],
    );
    run(
        "qemu-img",
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-F",
            "qcow2",
            "-b",
            &back.to_string_lossy(),
            &orphan.to_string_lossy(),
        ],
    );
    std::fs::remove_file(&back).unwrap();
    ok(&["pool-refresh", &pool]);
    let name = unique("img-vm");
    let _cleanup = Cleanup(vec![name.clone()]);
    let project = project();

    refused(
        &project,
        &provision(&name, &pool, "installer.iso"),
        &[&pool],
        &[
            "image installer.iso (",
            "is in iso format, which cannot back a VM's disk",
            "pass --image with a qcow2 or raw disk image",
        ],
    );
    let gz = dir.join("disk.img.gz").display().to_string();
    let plain = dir.join("disk.img").display().to_string();
    let command = format!("gzip -dc {gz} > {plain}");
    let message = refused(
        &project,
        &provision(&name, &pool, "disk.img.gz"),
        &[&pool],
        &[
            "is gzip-compressed",
            &format!("`{command}`"),
            &format!("virsh -c {URI} pool-refresh {pool}"),
            "pass --image disk.img",
        ],
    );
    refused(
        &project,
        &provision(&name, &pool, "orphan.qcow2"),
        &[&pool],
        &[&format!(
            "is a qcow2 overlay whose own backing file {} is missing",
            back.display()
        )],
    );
    // The fix, as the message gives it, works: the decompressed image is a raw volume that
    // boots the overlay.
    run("sh", &["-c", &command]);
    ok(&["pool-refresh", &pool]);
    assert!(
        ok(&["vol-dumpxml", "--pool", &pool, "disk.img"]).contains("<format type='raw'/>"),
        "{message}"
    );
    provisions(&project, &provision(&name, &pool, "disk.img"));
}

#[test]
fn a_disk_smaller_than_the_image_is_refused_naming_both_sizes() {
    setup();
    let mut scratch = Scratch::default();
    let (pool, _) = scratch.pool_with_base("small");
    let name = unique("small-vm");
    let _cleanup = Cleanup(vec![name.clone()]);
    let project = project();
    refused(
        &project,
        &with(provision(&name, &pool, "base.qcow2"), "--disk", Some("32M")),
        &[&pool],
        &[
            "--disk 32 MiB is smaller than the virtual size of image base.qcow2, 64 MiB",
            "pass --disk 64M or more, or leave --disk out",
        ],
    );
}

#[test]
fn a_pool_without_room_for_the_disk_is_refused_unless_overcommit_is_allowed() {
    setup();
    let mut scratch = Scratch::default();
    let (base_pool, base_dir) = scratch.pool_with_base("room-base");
    // A 16 MiB pool for a 64 MiB disk.
    let small = scratch.tmpfs("room", "16m");
    let pool = scratch.pool("room", &small);
    let name = unique("room-vm");
    let _cleanup = Cleanup(vec![name.clone()]);
    let project = project();
    let image = base_dir.join("base.qcow2").display().to_string();
    let args = provision(&name, &pool, &image);
    refused(
        &project,
        &args,
        &[&pool, &base_pool],
        &[
            &format!("storage pool {pool} has 16 MiB free"),
            &format!("the disk of {name} can grow to 64 MiB"),
            "another --pool",
            &format!("free space in {pool}"),
            "--allow-overcommit",
        ],
    );
    // A larger --disk is refused the same way, and a smaller one is suggested.
    refused(
        &project,
        &with(args.clone(), "--disk", Some("1G")),
        &[&pool],
        &[
            "can grow to 1 GiB",
            "a smaller --disk (the image needs 64 MiB)",
        ],
    );
    // Accepting a thin disk that may outgrow the pool: made, started, destroyed.
    provisions(&project, &with(args, "--allow-overcommit", None));
}

#[test]
fn a_raw_base_image_backs_the_overlay_as_raw_and_the_domain_starts() {
    setup();
    let mut scratch = Scratch::default();
    let dir = scratch.dir("raw");
    let pool = scratch.pool("raw", &dir);
    ok(&["vol-create-as", &pool, "base.img", "64M", "--format", "raw"]);
    let name = unique("raw-vm");
    let _cleanup = Cleanup(vec![name.clone()]);
    let project = project();
    project
        .run(&refs(&provision(&name, &pool, "base.img")))
        .success();
    let overlay = ok(&["vol-dumpxml", "--pool", &pool, &format!("{name}.qcow2")]);
    let backing = overlay
        .split("<backingStore>")
        .nth(1)
        .unwrap_or_else(|| panic!("no backing store:\n{overlay}"));
    assert!(
        backing.contains(&format!("{}/base.img", dir.display()))
            && backing.contains("<format type='raw'/>"),
        "{overlay}"
    );
    assert_eq!(ok(&["domstate", &name]).trim(), "running");
    project.run(&["destroy", &name, "--yes"]).success();
    assert_eq!(volumes(&pool), ["base.img"]);
}
