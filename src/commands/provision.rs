//! `vm provision NAME [MEMORY_MIB] [VCPUS]`: validate everything, create the VM, wait for its
//! address and SSH, then write its fragment and merge. A failure after the first side effect
//! removes what was created, unless `--keep-on-failure`.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Context;
use crate::backend::libvirt::{Libvirt, POLL, default_uri};
use crate::backend::terraform::Terraform;
use crate::backend::{BackendError, DomainType, KernelBoot, NetworkChoice, VmSpec};
use crate::cli::ProvisionArgs;
use crate::cloudinit::{Seed, validate_public_key};
use crate::error::Error;
use crate::hostkey;
use crate::inventory::fragment::{self, Address, FragmentSpec, Marker};
use crate::inventory::merge;
use crate::inventory::pyliteral::Value;
use crate::wait::{Progress, poll, ssh_answers, tail};

/// First port tried for user-mode SSH forwards; the range is this plus 10,000.
const FIRST_PORT: u16 = 22200;

/// Runs `vm provision`.
pub fn run(context: &Context, args: ProvisionArgs) -> Result<(), Error> {
    let config = &context.project.config;
    let name = args.name.clone();
    fragment::validate_name(&name)?;
    let memory_mib = args.memory_mib.or(config.memory).unwrap_or(4096);
    if !(64..=4 * 1024 * 1024).contains(&memory_mib) {
        return Err(Error::Usage(format!(
            "memory {memory_mib} MiB is out of range; give 64 MiB to 4 TiB, e.g. `vm provision {name} 4096 2`"
        )));
    }
    let vcpus = args.vcpus.or(config.vcpus).unwrap_or(2);
    if !(1..=1024).contains(&vcpus) {
        return Err(Error::Usage(format!(
            "{vcpus} vCPUs is out of range; give 1 to 1024"
        )));
    }
    match args
        .backend
        .as_deref()
        .or(config.backend.as_deref())
        .unwrap_or("libvirt")
    {
        "libvirt" => {}
        "terraform" => return terraform(context, &args, memory_mib, vcpus),
        other => {
            return Err(Error::Usage(format!(
                "unknown backend {other:?}; use libvirt or terraform"
            )));
        }
    }
    let disk_bytes = args
        .disk
        .as_deref()
        .or(config.disk.as_deref())
        .map(parse_size)
        .transpose()
        .map_err(Error::Usage)?;
    let user = args
        .user
        .clone()
        .or(config.user.clone())
        .unwrap_or_else(|| "debian".into());
    validate_user(&user)?;
    let image = args.image.clone().or(config.image.clone()).ok_or_else(|| {
        Error::Usage(
            "no base image: pass --image VOLUME (a volume of the pool, or an absolute path), \
                 or set image in vm.toml"
                .into(),
        )
    })?;
    let network = match args
        .network
        .as_deref()
        .or(config.network.as_deref())
        .unwrap_or("default")
    {
        "user" => NetworkChoice::User { port: 0 },
        other
            if !other.is_empty() && !other.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            NetworkChoice::Named(other.to_string())
        }
        other => return Err(Error::Usage(format!("invalid network name {other:?}"))),
    };
    let domain_type: DomainType = args
        .domain_type
        .as_deref()
        .or(config.domain_type.as_deref())
        .unwrap_or("auto")
        .parse()
        .map_err(Error::Usage)?;
    let key_path = ssh_key_path(args.ssh_key.clone().or(config.ssh_key.clone()))?;
    let key_text = std::fs::read_to_string(&key_path).map_err(|e| {
        Error::Usage(format!(
            "cannot read SSH public key {}: {e}; pass --ssh-key PUBKEY",
            key_path.display()
        ))
    })?;
    let key = validate_public_key(&key_text, &key_path.display().to_string())?;
    let (groups, mut vars, timeout, fragment_path) = host_settings(context, &args)?;
    let uri = default_uri(args.connect.as_deref().or(config.connect.as_deref()));
    let marker = Marker::new("libvirt", &uri)?;

    let host_key = hostkey::generate(&name)?;
    let known_hosts = context.project.ansible_dir().join(hostkey::KNOWN_HOSTS);
    let known_hosts = std::path::absolute(&known_hosts).unwrap_or(known_hosts);
    vars.push((
        "ansible_ssh_common_args".into(),
        hostkey::ssh_args(&known_hosts, &name),
    ));

    let libvirt = Libvirt::connect(&uri)?;
    warn_about_orphans(context, &libvirt);
    let created_at = rfc3339(SystemTime::now());
    let seed = Seed {
        hostname: name.clone(),
        user: user.clone(),
        ssh_authorized_keys: vec![key],
        host_key: Some((host_key.private.clone(), host_key.public.clone())),
        instance_id: format!(
            "{name}-{}",
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ),
    };
    let mut spec = VmSpec {
        name: name.clone(),
        memory_mib,
        vcpus,
        image,
        disk_bytes,
        pool: args
            .pool
            .clone()
            .or(config.pool.clone())
            .unwrap_or_else(|| "default".into()),
        network,
        user: user.clone(),
        ssh_keys: seed.ssh_authorized_keys.clone(),
        domain_type,
        kernel: args
            .kernel
            .clone()
            .or(config.kernel.clone())
            .map(|kernel| KernelBoot {
                kernel,
                initrd: args.initrd.clone().or(config.initrd.clone()),
                // The usual root for images made by scripts/build-guest-image (a whole-disk
                // ext4 on vda), with the console on the serial port we log.
                cmdline: args
                    .cmdline
                    .clone()
                    .or(config.cmdline.clone())
                    .or(Some("root=/dev/vda rw console=ttyS0".into())),
            }),
        templates: context.project.templates_dir(),
        project: context.project.id(),
    };
    libvirt.preflight(&spec)?;
    std::fs::create_dir_all(context.project.fragment_dir()).map_err(|e| {
        Error::Failed(format!(
            "cannot create {}: {e}",
            context.project.fragment_dir().display()
        ))
    })?;

    let provisioned = if let NetworkChoice::User { .. } = spec.network {
        // The port is chosen and the domain (which records it) defined under the inventory
        // lock, so parallel provisions never pick the same port.
        // Another project or program can still take the port before QEMU binds it: then
        // provision has removed what it made, and the next free port is tried.
        let _lock = context.lock()?;
        let mut used = used_ports(context, &libvirt)?;
        let mut attempt = 0;
        loop {
            let port = free_port(&used)?;
            spec.network = NetworkChoice::User { port };
            context
                .reporter
                .detail(format!("forwarding 127.0.0.1:{port} to {name}:22"));
            match libvirt.provision(&spec, &seed, &created_at, args.keep_on_failure) {
                Err(BackendError::PortTaken(port)) if attempt < 20 => {
                    context
                        .reporter
                        .detail(format!("port {port} was taken meanwhile"));
                    used.push(port);
                    attempt += 1;
                }
                other => break other?,
            }
        }
    } else {
        libvirt.provision(&spec, &seed, &created_at, args.keep_on_failure)?
    };
    context.reporter.info(format!("created {name} at {uri}"));

    let undo = |error: Error| -> Error {
        if !args.keep_on_failure {
            let _ = libvirt.destroy(&name);
        }
        error
    };
    let mut host = provisioned.host.clone();
    if host.is_empty() {
        let mut progress = Progress::new(
            format!("waiting for {name}'s address"),
            context.reporter.is_quiet(),
        );
        let found = poll(timeout, POLL, &mut progress, || {
            libvirt.address(&name).ok().flatten()
        });
        progress.finish();
        match found {
            Ok(ip) => host = ip.to_string(),
            Err(waited) => {
                return Err(undo(timeout_error(
                    &name,
                    "an address",
                    waited,
                    &provisioned.console_log,
                )));
            }
        }
    }
    if !args.no_wait {
        let address = match wait_for_ssh(context, &name, &host, provisioned.port, timeout) {
            Ok(address) => address,
            Err(SshWait::BadAddress) => {
                return Err(undo(Error::Failed(format!("unusable address {host}"))));
            }
            Err(SshWait::TimedOut(waited)) => {
                return Err(undo(timeout_error(
                    &name,
                    "SSH",
                    waited,
                    &provisioned.console_log,
                )));
            }
        };
        let private_key = key_path.with_extension("");
        if private_key.is_file() {
            let mut progress = Progress::new(
                format!("waiting for cloud-init on {name}"),
                context.reporter.is_quiet(),
            );
            let wait = CloudInitWait {
                name: &name,
                user: &user,
                address,
                private_key: &private_key,
                host_key: &host_key.public,
                timeout,
            };
            let ready = wait_cloud_init(&wait, &mut progress);
            progress.finish();
            if let Err(why) = ready {
                let console = tail(&provisioned.console_log, 20);
                return Err(undo(Error::Backend(BackendError::Timeout {
                    name: name.clone(),
                    what: "cloud-init",
                    waited: timeout,
                    tail: format!(
                        "; {why}\nlast lines of the serial console ({}):\n{console}",
                        provisioned.console_log
                    ),
                })));
            }
        } else {
            context.reporter.warn(format!(
                "no private key {} next to the public one: not waiting for cloud-init",
                private_key.display()
            ));
        }
    }

    let spec = FragmentSpec {
        name: name.clone(),
        address: Address {
            host: host.clone(),
            port: provisioned.port,
        },
        user: Some(user),
        groups,
        vars,
        marker,
    };
    let text = spec
        .render(&context.project.templates_dir())
        .map_err(|e| undo(e.into()))?;
    let lock = context.lock().map_err(undo)?;
    hostkey::record(&known_hosts, &name, &host_key.public).map_err(|e| undo(e.into()))?;
    let forget = || {
        let _ = hostkey::forget(&known_hosts, &name);
    };
    match context.publish_fragment(&fragment_path, &text, None, args.validate.validate) {
        Ok(merged) => {
            drop(lock);
            let at = match provisioned.port {
                Some(port) => format!("{host}:{port}"),
                None => host,
            };
            context.reporter.info(format!(
                "provisioned {name} at {at}; ansible-playbook -i {} PLAYBOOK --limit {name}",
                context.project.merged_path().display()
            ));
            if context.json {
                println!(
                    "{}",
                    serde_json::json!({"name": name, "address": at, "fragment": fragment_path,
                        "hosts": merged.inventory.hosts.len()})
                );
            }
            Ok(())
        }
        Err(e) => {
            forget();
            drop(lock);
            Err(undo(e))
        }
    }
}

/// Groups, string variables, timeout and fragment path of a VM to provision.
type Settings = (Vec<String>, Vec<(String, String)>, Duration, PathBuf);

/// The settings both backends share: groups (vm.toml's, then `--group`s), `--var`s, timeout,
/// and the fragment path, which must be free.
fn host_settings(context: &Context, args: &ProvisionArgs) -> Result<Settings, Error> {
    let config = &context.project.config;
    let name = args.name.clone();
    let mut groups = config.groups.clone();
    groups.extend(args.groups.iter().cloned());
    let (groups, vars) = fragment::host_settings(&name, groups, &args.vars)?;
    if vars.iter().any(|(k, _)| k == "ansible_ssh_common_args") {
        return Err(Error::Usage(
            "ansible_ssh_common_args is set by vm (it points ssh at the VM's verified host key); \
             use ansible_ssh_extra_args for your own options"
                .into(),
        ));
    }
    let timeout = Duration::from_secs(args.timeout.or(config.timeout).unwrap_or(300));
    let fragment_path = context.project.fragment_dir().join(format!("{name}.ini"));
    if fragment_path.exists() {
        return Err(Error::Failed(format!(
            "{name} is already in the inventory ({}); pick another name, or `vm destroy {name}`",
            fragment_path.display()
        )));
    }
    Ok((groups, vars, timeout, fragment_path))
}

/// `vm provision --backend terraform`: a workspace named after the VM, the address from the
/// module's outputs, then the fragment and the merge.
fn terraform(
    context: &Context,
    args: &ProvisionArgs,
    memory_mib: u64,
    vcpus: u32,
) -> Result<(), Error> {
    let config = &context.project.config;
    let name = args.name.clone();
    let (groups, vars, timeout, fragment_path) = host_settings(context, args)?;
    let tf_vars = args
        .tf_vars
        .iter()
        .map(|v| match v.split_once('=') {
            Some((k, v)) if !k.is_empty() && !matches!(k, "vm_name" | "memory" | "vcpus") => {
                Ok((k.to_string(), v.to_string()))
            }
            _ => Err(Error::Usage(format!(
                "invalid --tf-var {v:?}: give NAME=VALUE (vm_name, memory and vcpus are set by vm)"
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let dir = args
        .terraform_dir
        .clone()
        .or(config.terraform_dir.clone())
        .unwrap_or_else(|| context.project.root.join("terraform"));
    let bin = args
        .terraform_bin
        .clone()
        .or(config.terraform_bin.clone())
        .unwrap_or_else(|| "terraform".into());
    let progress = std::rc::Rc::new(std::cell::RefCell::new(Progress::new(
        format!("terraform: provisioning {name}"),
        context.reporter.is_quiet(),
    )));
    let ticking = progress.clone();
    let terraform = Terraform::new(&bin, &dir, &context.project.state_dir())?
        .with_progress(move || ticking.borrow_mut().tick());
    let marker = Marker::new("terraform", &terraform.dir().display().to_string())?;
    let provisioned = terraform.provision(
        &name,
        memory_mib,
        vcpus,
        &tf_vars,
        timeout,
        args.keep_on_failure,
    );
    progress.borrow_mut().clear();
    let outputs = provisioned?;
    let undo = |error: Error| -> Error {
        if !args.keep_on_failure {
            let _ = terraform.destroy(&name);
        }
        error
    };
    context
        .reporter
        .info(format!("applied {} in workspace {name}", dir.display()));
    if !args.no_wait {
        match wait_for_ssh(context, &name, &outputs.host, outputs.port, timeout) {
            Ok(_) => {}
            Err(SshWait::BadAddress) => {
                return Err(undo(Error::Failed(format!(
                    "the module's address {:?} is not an IP address; use --no-wait",
                    outputs.host
                ))));
            }
            Err(SshWait::TimedOut(waited)) => {
                return Err(undo(Error::Backend(BackendError::Timeout {
                    name: name.clone(),
                    what: "SSH",
                    waited,
                    tail: format!("; the Terraform log is {}", terraform.log().display()),
                })));
            }
        }
    }
    let spec = FragmentSpec {
        name: name.clone(),
        address: Address {
            host: outputs.host.clone(),
            port: outputs.port,
        },
        user: args.user.clone().or(outputs.user.clone()),
        groups,
        vars,
        marker,
    };
    let text = spec
        .render(&context.project.templates_dir())
        .map_err(|e| undo(e.into()))?;
    std::fs::create_dir_all(context.project.fragment_dir()).map_err(|e| {
        undo(Error::Failed(format!(
            "cannot create the fragment folder: {e}"
        )))
    })?;
    let _lock = context.lock().map_err(undo)?;
    context
        .publish_fragment(&fragment_path, &text, None, args.validate.validate)
        .map_err(undo)?;
    context.reporter.info(format!(
        "provisioned {name} at {}; ansible-playbook -i {} PLAYBOOK --limit {name}",
        outputs.host,
        context.project.merged_path().display()
    ));
    Ok(())
}

/// Why SSH could not be reached.
enum SshWait {
    /// The address is not an IP address.
    BadAddress,
    /// Nothing answered within the timeout (how long we waited).
    TimedOut(Duration),
}

/// Waits, visibly and at most `timeout`, until an SSH server answers at `host:port` (22 when
/// `None`); returns the address.
fn wait_for_ssh(
    context: &Context,
    name: &str,
    host: &str,
    port: Option<u16>,
    timeout: Duration,
) -> Result<SocketAddr, SshWait> {
    let ip: std::net::IpAddr = host.parse().map_err(|_| SshWait::BadAddress)?;
    let address = SocketAddr::new(ip, port.unwrap_or(22));
    let mut progress = Progress::new(
        format!("waiting for SSH on {name}"),
        context.reporter.is_quiet(),
    );
    let answered = poll(timeout, Duration::from_secs(1), &mut progress, || {
        ssh_answers(address).then_some(())
    });
    progress.finish();
    answered.map(|()| address).map_err(SshWait::TimedOut)
}

/// What `wait_cloud_init` needs.
struct CloudInitWait<'a> {
    name: &'a str,
    user: &'a str,
    address: SocketAddr,
    private_key: &'a std::path::Path,
    host_key: &'a str,
    timeout: Duration,
}

/// Runs `cloud-init status --wait` over SSH, checking the host key strictly against the one
/// `vm` made, until it reports done (retrying while the user's key is not installed yet).
fn wait_cloud_init(wait: &CloudInitWait, progress: &mut Progress) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("vm-ssh-{}-{}", std::process::id(), wait.name));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let known = dir.join("known_hosts");
    std::fs::write(&known, format!("{} {}\n", wait.name, wait.host_key))
        .map_err(|e| e.to_string())?;
    let deadline = std::time::Instant::now() + wait.timeout;
    let result = loop {
        let spawned = std::process::Command::new("ssh")
            .arg("-i")
            .arg(wait.private_key)
            .args(["-p", &wait.address.port().to_string()])
            .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
            .args(["-o", "ConnectTimeout=10"])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", known.display()))
            .arg("-o")
            .arg(format!("HostKeyAlias={}", wait.name))
            .arg(format!("{}@{}", wait.user, wait.address.ip()))
            .arg("cloud-init status --wait --long")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => break Err(format!("cannot run ssh: {e}; install openssh-client")),
        };
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if std::time::Instant::now() < deadline => {
                    progress.tick();
                    std::thread::sleep(Duration::from_millis(200));
                }
                _ => {
                    let _ = child.kill();
                    break None;
                }
            }
        };
        let said = child
            .wait_with_output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout).into_owned()
                    + &String::from_utf8_lossy(&o.stderr)
            })
            .unwrap_or_default();
        match status.and_then(|s| s.code()) {
            Some(0) => break Ok(()),
            Some(255) if said.contains("Host key verification failed") => {
                break Err(format!("the VM's host key is not the one vm made:\n{said}"));
            }
            // ssh itself failed (sshd not up, key not installed yet): try again.
            Some(255) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_secs(2));
            }
            None | Some(255) => break Err("cloud-init did not finish in time".to_string()),
            Some(code) => {
                break Err(format!(
                    "cloud-init reported failure (status {code}):\n{}",
                    said.trim()
                ));
            }
        }
    };
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn timeout_error(name: &str, what: &'static str, waited: Duration, console_log: &str) -> Error {
    let console = tail(console_log, 20);
    let tail = if console.is_empty() {
        format!("; the serial console log {console_log} is empty or unreadable")
    } else {
        format!("; last lines of the serial console ({console_log}):\n{console}")
    };
    Error::Backend(BackendError::Timeout {
        name: name.to_string(),
        what,
        waited,
        tail,
    })
}

/// Ports taken by managed domains and by hosts on 127.0.0.1 in the fragments.
fn used_ports(context: &Context, libvirt: &Libvirt) -> Result<Vec<u16>, Error> {
    let mut used = libvirt.used_ports()?;
    if let Ok(merged) = merge::build(
        &context.project.fragment_dir(),
        &context.project.merged_path(),
    ) {
        for host in &merged.inventory.hosts {
            let local = matches!(host.vars.get("ansible_host").map(|v| &v.value),
                Some(Value::Str(h)) if h == "127.0.0.1" || h == "localhost");
            if let (true, Some(Value::Int(port))) =
                (local, host.vars.get("ansible_port").map(|v| &v.value))
            {
                used.extend(u16::try_from(*port).ok());
            }
        }
    }
    Ok(used)
}

/// The first port from [`FIRST_PORT`] that nobody uses and that can be bound on 127.0.0.1 now.
fn free_port(used: &[u16]) -> Result<u16, Error> {
    (FIRST_PORT..FIRST_PORT + 10_000)
        .filter(|port| !used.contains(port))
        .find(|&port| TcpListener::bind(("127.0.0.1", port)).is_ok())
        .ok_or_else(|| Error::Failed("no free port on 127.0.0.1 for the SSH forward".into()))
}

/// Warns about managed libvirt fragments whose domain is gone: a stale fragment would make the
/// new VM's first playbook fail.
fn warn_about_orphans(context: &Context, libvirt: &Libvirt) {
    let Ok(sources) = merge::collect(&context.project.fragment_dir()) else {
        return;
    };
    let Ok(known) = libvirt.list() else {
        return;
    };
    for source in sources {
        let Ok(Some(marker)) = fragment::read_marker(&source.path) else {
            continue;
        };
        let host = crate::inventory::check::fragment_host(&source);
        if marker.backend == "libvirt"
            && marker.connection == libvirt.uri()
            && !known
                .iter()
                .any(|vm| vm.name == host && context.project.owns(vm.project.as_deref()))
        {
            context.reporter.warn(format!(
                "{} names a VM that no longer exists; `vm inventory prune` removes it",
                source.path.display()
            ));
        }
    }
}

/// A POSIX-ish user name cloud-init will accept.
fn validate_user(user: &str) -> Result<(), Error> {
    let mut chars = user.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        && user.len() <= 32
        && user != "root";
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "invalid user {user:?}: use 1 to 32 lower-case letters, digits, '_' or '-', starting \
             with a letter, and not root"
        )))
    }
}

/// The public key file: given, else the first of the usual ones in `~/.ssh`.
fn ssh_key_path(given: Option<PathBuf>) -> Result<PathBuf, Error> {
    if let Some(path) = given {
        return Ok(path);
    }
    let home = std::env::var("HOME").unwrap_or_default();
    ["id_ed25519.pub", "id_ecdsa.pub", "id_rsa.pub"]
        .iter()
        .map(|f| PathBuf::from(&home).join(".ssh").join(f))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::Usage(
                "no SSH public key in ~/.ssh (id_ed25519.pub, id_ecdsa.pub, id_rsa.pub); create \
                 one with ssh-keygen -t ed25519, or pass --ssh-key PUBKEY"
                    .into(),
            )
        })
}

/// `20G`, `512M`, `1T`, `1048576` (bytes) → bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || format!("invalid size {text:?}: give a number with K, M, G or T, e.g. 20G");
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, ""),
    };
    let number: u64 = digits.parse().map_err(|_| bad())?;
    let shift = match unit
        .trim_end_matches(['i', 'B'])
        .to_ascii_uppercase()
        .as_str()
    {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(bad()),
    };
    let bytes = number
        .checked_shl(shift)
        .filter(|b| b >> shift == number)
        .ok_or_else(bad)?;
    if bytes == 0 {
        return Err(bad());
    }
    Ok(bytes)
}

/// RFC 3339 UTC time, without a date crate: days since the epoch to a civil date.
fn rfc3339(time: SystemTime) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units_and_refuse_nonsense() {
        assert_eq!(parse_size("20G"), Ok(20 << 30));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        for bad in ["", "0", "G", "1X", "-1G", "99999999999T"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(rfc3339(t), "2026-11-18T11:06:40Z");
    }

    #[test]
    fn user_names_follow_the_useradd_rules() {
        assert!(validate_user("debian").is_ok() && validate_user("_x-1").is_ok());
        for bad in ["", "Root", "root", "a b", "1a", "a:b", &"a".repeat(33)] {
            assert!(validate_user(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn free_ports_skip_the_used_ones() {
        let port = free_port(&[FIRST_PORT]).unwrap();
        assert!(port > FIRST_PORT);
    }
}
