//! One way to make a VM, for every backend: preflight → create → address → host key → SSH →
//! cloud-init → fragment → merge. What a step after the first side effect fails at is rolled
//! back here, in one place; a rollback that fails says what it left and how to remove it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::backend::{Backend, CreateEnv, Created, HostKeySource, NewVm};
use crate::commands::{Context, batch};
use crate::error::Error;
use crate::guest::hostkey::{self, HostKey};
use crate::guest::wait::{poll, tail};
use crate::guest::{self, CloudInitWait};
use crate::inventory::check::{Presence, fragment_host};
use crate::inventory::fragment::{self, Address, FragmentSpec};
use crate::inventory::merge;
use crate::inventory::pyliteral::Value;
use crate::output::Progress;
use crate::settings::{USER, VmRequest};

/// Marker detail naming the VM's DNS record.
pub const DNS_DETAIL: &str = "dns";

/// Whether `ip` only reaches this machine (a user-mode forward).
fn is_loopback(ip: std::net::IpAddr) -> bool {
    ip.is_loopback() || ip.is_unspecified()
}

/// How often a backend is asked for an address it does not have yet.
const ADDRESS_POLL: Duration = Duration::from_millis(500);

/// What `vm provision --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct ProvisionRow {
    /// The VM.
    pub name: String,
    /// Its backend.
    pub backend: String,
    /// How the backend is reached (libvirt URI, Terraform folder).
    pub connection: String,
    /// Where Ansible connects.
    pub address: String,
    /// SSH port, when not 22.
    pub port: Option<u16>,
    /// Login user.
    pub user: String,
    /// The VM's fragment.
    pub fragment: PathBuf,
    /// `pinned` (learned through an authenticated channel) or `first-use`.
    pub host_key: &'static str,
    /// The VM's DNS name, when `[dns]` gave it a record.
    pub dns: Option<String>,
    /// Hosts in the merged inventory.
    pub hosts: usize,
    /// Seconds from start to ready.
    pub seconds: f64,
}

/// Makes `vm` on `backend` and publishes it; every failure after the first side effect
/// removes what was made (unless `--keep-on-failure`).
pub fn provision(
    context: &Context,
    backend: &dyn Backend,
    vm: &VmRequest,
    progress: &mut dyn Progress,
) -> Result<ProvisionRow, Error> {
    let start = Instant::now();
    let project = &context.settings.project;
    let fragment_path = project.fragment_dir().join(format!("{}.ini", vm.name));
    if fragment_path.exists() {
        return Err(Error::Failed(format!(
            "{} is already in the inventory ({}); pick another name, or `vm destroy {}`",
            vm.name,
            fragment_path.display(),
            vm.name
        )));
    }
    let marker = backend.target().marker()?;
    let user = vm.user.clone().unwrap_or_else(|| USER.to_string());
    let host_key = hostkey::generate(&vm.name)?;
    let ssh_keys: Vec<String> = vm.ssh_key.iter().map(|(key, _)| key.clone()).collect();
    let new_vm = NewVm {
        name: &vm.name,
        memory_mib: vm.memory_mib,
        vcpus: vm.vcpus,
        user: &user,
        ssh_keys: &ssh_keys,
        host_key: &host_key,
        project: project.id(),
        templates: project.templates_dir(),
        timeout: vm.timeout,
    };
    progress.phase("checking the host");
    let dns = context.dns()?;
    if let Some(dns) = &dns {
        dns.preflight()?;
    }
    backend.preflight(&new_vm)?;
    warn_about_orphans(context, backend);
    let dir = project.fragment_dir();
    std::fs::create_dir_all(&dir).map_err(|e| {
        Error::Failed(format!(
            "cannot create the fragment folder {}: {e}; check that {} is writable by you",
            dir.display(),
            project.root.display()
        ))
    })?;

    progress.phase("creating");
    let created = {
        let progress = std::cell::RefCell::new(&mut *progress);
        let tick = || progress.borrow_mut().tick();
        let lock = || context.lock();
        let ports = || local_ports(context);
        let env = CreateEnv {
            lock: &lock,
            local_ports: &ports,
            reporter: context.settings.reporter,
            tick: &tick,
        };
        backend.create(&new_vm, &env, vm.keep_on_failure)?
    };
    progress.clear();
    context
        .settings
        .reporter
        .info(format!("created {} at {}", vm.name, backend.target()));
    let marker = created
        .details
        .iter()
        .chain(&vm.marker_details)
        .try_fold(marker, |marker, (key, value)| {
            marker.with_detail(key, value)
        });
    let marker = match marker {
        Ok(marker) => marker,
        Err(e) => return Err(rollback(context, backend, vm, e.into())),
    };
    let made = Made {
        vm,
        backend,
        dns,
        created: &created,
        host_key: &host_key,
        user: &user,
        marker,
        fragment_path,
    };
    match made.publish(context, progress) {
        Ok(mut row) => {
            row.seconds = start.elapsed().as_secs_f64();
            Ok(row)
        }
        Err(error) => Err(rollback(context, backend, vm, error)),
    }
}

/// Removes the VM after `error`, unless `--keep-on-failure`; a rollback that fails too says
/// what is left and how to remove it.
fn rollback(context: &Context, backend: &dyn Backend, vm: &VmRequest, error: Error) -> Error {
    if vm.keep_on_failure {
        context.settings.reporter.warn(format!(
            "kept {} at {} for diagnosis (--keep-on-failure); `vm destroy {} --yes` removes it",
            vm.name,
            backend.target(),
            vm.name
        ));
        return error;
    }
    match backend.destroy(&vm.name, false) {
        Ok(_) => error,
        Err(failed) => Error::Leftover {
            error: Box::new(error),
            left: format!("{} at {} ({failed})", vm.name, backend.target()),
            hint: backend.cleanup_hint(&vm.name),
        },
    }
}

/// A VM the backend made, on its way into the inventory.
struct Made<'a> {
    vm: &'a VmRequest,
    backend: &'a dyn Backend,
    /// The DNS server of `[dns]`, opened (and checked) before anything was made.
    dns: Option<Box<dyn crate::dns::Dns>>,
    created: &'a Created,
    host_key: &'a HostKey,
    user: &'a str,
    marker: fragment::Marker,
    fragment_path: PathBuf,
}

impl Made<'_> {
    /// The last lines of the backend's log, for a VM that does not come up.
    fn diagnosis(&self) -> String {
        let Some((what, path)) = &self.created.log else {
            return String::new();
        };
        let text = tail(&path.display().to_string(), 20);
        if text.is_empty() {
            format!("; the {what} log {} is empty or unreadable", path.display())
        } else {
            format!(
                "; last lines of the {what} log ({}):\n{text}",
                path.display()
            )
        }
    }

    /// Address → host key → SSH → cloud-init → fragment → merge.
    fn publish(
        &self,
        context: &Context,
        progress: &mut dyn Progress,
    ) -> Result<ProvisionRow, Error> {
        let name = &self.vm.name;
        let address = self.address(progress)?;
        let mut pinned = match &self.created.host_key {
            HostKeySource::Installed => Some(self.host_key.public.clone()),
            HostKeySource::Reported(key) => Some(guest::seed::validate_public_key(
                key,
                &format!("host key {} reported", self.backend.target()),
            )?),
            HostKeySource::FirstUse => {
                context.settings.reporter.warn(format!(
                    "{name}'s host key reaches vm through no channel it can verify: the first \
                     connection pins it (StrictHostKeyChecking=accept-new); `vm list` shows it as first-use"
                ));
                None
            }
        };
        let first_use = pinned.is_none();
        let user = self
            .vm
            .user
            .clone()
            .or(self.created.user.clone())
            .unwrap_or_else(|| self.user.to_string());
        if self.vm.wait {
            let socket = guest::socket_address(name, &address.host, address.port)?;
            guest::wait_for_ssh(name, socket, self.vm.timeout, progress, &|| {
                self.diagnosis()
            })?;
            let private_key = self.vm.ssh_key.as_ref().map(|(_, p)| p.with_extension(""));
            if let Some(private_key) = private_key.filter(|p| p.is_file()) {
                let wait = CloudInitWait {
                    name,
                    user: &user,
                    address: socket,
                    private_key: &private_key,
                    host_key: pinned.as_deref(),
                    timeout: self.vm.timeout,
                };
                let presented = guest::wait_for_cloud_init(&wait, progress, &|| self.diagnosis())?;
                pinned.get_or_insert(presented);
            } else {
                context.settings.reporter.warn(
                    "no private key next to the SSH public key (--ssh-key): not waiting for cloud-init",
                );
            }
        }
        let record = self.record(context, &address, progress)?;
        progress.clear();
        let result = self.write_fragment(context, address, user, pinned, first_use, &record);
        if let (Err(_), Some((fqdn, ip)), Some(dns)) = (&result, &record, &self.dns) {
            // The VM goes (the caller rolls it back): so does its record.
            if let Err(e) = dns.delete(name, Some(*ip)) {
                context.settings.reporter.warn(format!(
                    "{e}; the record {fqdn} is left: remove it with\n{}",
                    dns.nsupdate_lines(name)
                ));
            }
        }
        result
    }

    /// The VM's DNS record, when `[dns]` is configured and its address is one others can reach
    /// (a loopback forward gets none, with a note).
    fn record(
        &self,
        context: &Context,
        address: &Address,
        progress: &mut dyn Progress,
    ) -> Result<Option<(String, std::net::IpAddr)>, Error> {
        let (Some(settings), Some(dns)) = (&context.settings.dns, &self.dns) else {
            return Ok(None);
        };
        let name = &self.vm.name;
        let fqdn = settings.fqdn(name);
        let ip: std::net::IpAddr = match address.host.parse() {
            Ok(ip) if !is_loopback(ip) => ip,
            _ => {
                context.settings.reporter.info(format!(
                    "note: no DNS record for {fqdn}: {name}'s address {} is not one others can reach (a loopback forward)",
                    address.host
                ));
                return Ok(None);
            }
        };
        progress.phase("updating DNS");
        dns.replace(name, ip)?;
        context
            .settings
            .reporter
            .detail(format!("{fqdn} now points at {ip}"));
        Ok(Some((fqdn, ip)))
    }

    /// The fragment (with the DNS name, when there is a record), the pinned key, the merge.
    fn write_fragment(
        &self,
        context: &Context,
        mut address: Address,
        user: String,
        pinned: Option<String>,
        first_use: bool,
        record: &Option<(String, std::net::IpAddr)>,
    ) -> Result<ProvisionRow, Error> {
        let name = &self.vm.name;
        let mut marker = self.marker.clone();
        if let Some((fqdn, _)) = record {
            marker = marker.with_detail(DNS_DETAIL, fqdn)?;
            if context.settings.dns.as_ref().map(|d| d.ansible_host)
                == Some(crate::dns::AnsibleHost::Name)
            {
                address.host = fqdn.clone();
            }
        }
        let project = &context.settings.project;
        let known_hosts =
            std::path::absolute(project.known_hosts()).unwrap_or(project.known_hosts());
        let mut vars = self.vm.vars.clone();
        vars.push((
            "ansible_ssh_common_args".into(),
            hostkey::ssh_args(&known_hosts, name, !first_use),
        ));
        let spec = FragmentSpec {
            name: name.clone(),
            address: address.clone(),
            user: Some(user.clone()),
            groups: self.vm.groups.clone(),
            vars,
            marker: marker.clone(),
        };
        let text = spec.render(&project.templates_dir())?;
        // The key is pinned before the host is in the inventory, so Ansible never reaches it
        // unpinned; the fragment then joins the next coalesced merge (many provisions ending
        // together cost about one merge).
        if let Some(key) = &pinned {
            let _lock = context.lock()?;
            hostkey::record(&known_hosts, name, key)?;
        }
        let committed = batch::commit(
            context,
            &format!("{name}.ini"),
            batch::Request::Write(&text),
            self.vm.validate,
        )
        .inspect_err(|_| {
            let forgotten = context
                .lock()
                .and_then(|_lock| Ok(hostkey::forget(&known_hosts, name)?));
            if let Err(e) = forgotten {
                context.settings.reporter.warn(format!(
                    "{e}; remove the line of {name} from {} yourself",
                    known_hosts.display()
                ));
            }
        })?;
        Ok(ProvisionRow {
            name: name.clone(),
            backend: marker.backend.clone(),
            connection: marker.connection.clone(),
            dns: record.as_ref().map(|(fqdn, _)| fqdn.clone()),
            address: address.host,
            port: address.port,
            user,
            fragment: self.fragment_path.clone(),
            host_key: if first_use { "first-use" } else { "pinned" },
            hosts: committed.counts.hosts,
            seconds: 0.0,
        })
    }

    /// The address the backend gave, or the one it finds within the timeout.
    fn address(&self, progress: &mut dyn Progress) -> Result<Address, Error> {
        if let Some(address) = &self.created.address {
            return Ok(address.clone());
        }
        wait_for_address(
            self.backend,
            &self.vm.name,
            self.vm.timeout,
            progress,
            &|| self.diagnosis(),
        )
    }
}

/// Asks `backend` for `name`'s address until it has one, at most `timeout` (exit 5 then, with
/// `diagnosis`).
pub fn wait_for_address(
    backend: &dyn Backend,
    name: &str,
    timeout: Duration,
    progress: &mut dyn Progress,
    diagnosis: &dyn Fn() -> String,
) -> Result<Address, Error> {
    progress.phase("waiting for an address");
    poll(timeout, ADDRESS_POLL, progress, || {
        backend.address(name).ok().flatten()
    })
    .map_err(|waited| {
        guest::GuestError::Timeout {
            name: name.to_string(),
            what: "an address",
            waited,
            diagnosis: diagnosis(),
        }
        .into()
    })
}

/// Ports of 127.0.0.1 that the inventory's hosts use (a backend forwarding one avoids them).
fn local_ports(context: &Context) -> Vec<u16> {
    let project = &context.settings.project;
    let Ok(merged) = merge::build(&project.fragment_dir(), &project.merged_path()) else {
        return Vec::new();
    };
    merged
        .inventory
        .hosts
        .iter()
        .filter(|host| {
            matches!(host.vars.get("ansible_host").map(|v| &v.value),
                Some(Value::Str(h)) if h == "127.0.0.1" || h == "localhost")
        })
        .filter_map(
            |host| match host.vars.get("ansible_port").map(|v| &v.value) {
                Some(Value::Int(port)) => u16::try_from(*port).ok(),
                _ => None,
            },
        )
        .collect()
}

/// Warns about managed fragments of this backend whose VM is gone: a stale fragment would make
/// the new VM's first playbook fail.
fn warn_about_orphans(context: &Context, backend: &dyn Backend) {
    let Ok(sources) = merge::collect(&context.settings.project.fragment_dir()) else {
        return;
    };
    for source in sources {
        let Ok(Some(marker)) = fragment::read_marker(&source.path) else {
            continue;
        };
        if crate::backend::Target::from_marker(&marker).as_ref() != Some(backend.target()) {
            continue;
        }
        if backend.presence(&fragment_host(&source)) == Presence::Missing {
            context.settings.reporter.warn(format!(
                "{} names a VM that no longer exists; `vm inventory prune` removes it",
                source.path.display()
            ));
        }
    }
}
