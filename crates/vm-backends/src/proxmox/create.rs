//! Making a Proxmox VM: checks before anything (token, privileges, template, node, name), a VMID
//! no concurrent `vm` takes too, the clone, its configuration (memory, cores, cloud-init user and
//! keys, DHCP, agent, tags), the cloud-init drive regenerated, start, and the address and host
//! key from the guest agent. A failure after the clone removes the VM (purge), unless kept.

use std::fs::File;
use std::time::{Duration, Instant};

use serde_json::Value;
use vm::backend::{BackendError, CreateEnv, Created, HostKeySource, NewVm};
use vm::inventory::fragment::Address;
use vm::project::CloneMode;

use super::agent::{self, HostKeyRead};
use super::api::{ApiError, as_int, encode};
use super::{MANAGED_TAG, Proxmox, Resource, project_tag};

/// How many VMIDs are tried when another client takes the one chosen first.
const VMID_TRIES: u32 = 20;

/// Where a new VM goes, checked.
pub struct Plan {
    /// The template to clone.
    template: Resource,
    /// The node the VM will run on.
    node: String,
}

impl Proxmox {
    /// Everything that can be checked before anything is made; returns where the VM goes.
    pub fn plan(&self, vm: &NewVm) -> Result<Plan, BackendError> {
        check_name(vm.name)?;
        let version = self
            .api
            .get("/version", &[])
            .map_err(|e| self.fail("cannot reach the Proxmox VE API", e))?;
        let major = version
            .get("version")
            .and_then(Value::as_str)
            .and_then(|v| v.split('.').next())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(9);
        let resources = self.resources()?;
        let template = self.template(&resources)?;
        if let Some(taken) = resources.iter().find(|r| r.name == vm.name) {
            return Err(BackendError::Invalid(format!(
                "a VM named {} already exists on {} (VMID {} on node {}); pick another name, or `vm destroy {}`",
                vm.name,
                self.api.url(),
                taken.vmid,
                taken.node,
                vm.name
            )));
        }
        let node = self.place(&template)?;
        self.check_privileges(&template, major)?;
        Ok(Plan { template, node })
    }

    /// The template named (or numbered) in the settings; it must be a template.
    fn template(&self, resources: &[Resource]) -> Result<Resource, BackendError> {
        let wanted = self.settings.template.as_deref().ok_or_else(|| {
            BackendError::Invalid(
                "no Proxmox template: pass --template NAME|VMID, or set template in vm.toml's [proxmox]"
                    .into(),
            )
        })?;
        let matching: Vec<&Resource> = resources
            .iter()
            .filter(|r| r.name == wanted || wanted.parse::<u32>().ok() == Some(r.vmid))
            .collect();
        match matching.as_slice() {
            [] => Err(BackendError::Invalid(format!(
                "no template {wanted:?} on {}: give the name or VMID of a cloud-init template \
                 (`qm list` on a node lists them), with --template or in vm.toml's [proxmox]",
                self.api.url()
            ))),
            [one] if !one.template => Err(BackendError::Invalid(format!(
                "VM {} ({wanted}) on {} is not a template; convert it with `qm template {}`, or name a template",
                one.vmid, one.node, one.vmid
            ))),
            [one] => Ok((*one).clone()),
            many => Err(BackendError::Invalid(format!(
                "{} VMs are named {wanted:?} (VMIDs {}); give the template's VMID instead",
                many.len(),
                many.iter()
                    .map(|r| r.vmid.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// The node for the VM: the one configured (which must be online), else the online node
    /// with the most free memory among those that can reach the template's disks (any node when
    /// they are on shared storage and the clone is full; the template's node otherwise).
    fn place(&self, template: &Resource) -> Result<String, BackendError> {
        let nodes = self
            .api
            .get("/nodes", &[])
            .map_err(|e| self.fail("cannot list the cluster's nodes", e))?;
        let online: Vec<(String, i64)> = nodes
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|n| n.get("status").and_then(Value::as_str) == Some("online"))
            .filter_map(|n| {
                let free = n.get("maxmem").and_then(as_int)? - n.get("mem").and_then(as_int)?;
                Some((n.get("node")?.as_str()?.to_string(), free))
            })
            .collect();
        if let Some(node) = &self.settings.node {
            if self.settings.clone == CloneMode::Linked && *node != template.node {
                return Err(BackendError::Invalid(format!(
                    "a linked clone of template {} must be on its node {}, not {node};                      drop --node, or use clone = \"full\" in vm.toml's [proxmox]",
                    template.vmid, template.node
                )));
            }
            return if online.iter().any(|(n, _)| n == node) {
                Ok(node.clone())
            } else {
                Err(BackendError::Invalid(format!(
                    "node {node} is not an online node of {} (online: {}); pass --node NODE or fix node in vm.toml's [proxmox]",
                    self.api.url(),
                    names(&online)
                )))
            };
        }
        let anywhere =
            self.settings.clone == CloneMode::Full && self.template_on_shared_storage(template)?;
        online
            .iter()
            .filter(|(n, _)| anywhere || *n == template.node)
            .max_by_key(|(_, free)| *free)
            .map(|(n, _)| n.clone())
            .ok_or_else(|| {
                BackendError::Invalid(format!(
                    "no online node can take a clone of template {} (on node {}, local storage; online: {}); \
                     bring {} online or set node in vm.toml's [proxmox]",
                    template.vmid,
                    template.node,
                    names(&online),
                    template.node
                ))
            })
    }

    /// Whether every disk of the template is on storage all nodes share.
    fn template_on_shared_storage(&self, template: &Resource) -> Result<bool, BackendError> {
        let config = self
            .api
            .get(
                &format!("/nodes/{}/qemu/{}/config", template.node, template.vmid),
                &[],
            )
            .map_err(|e| self.fail("cannot read the template's configuration", e))?;
        let storages: Vec<String> = config
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(key, _)| is_disk_key(key))
            .filter_map(|(_, v)| v.as_str())
            .filter(|v| !v.contains("media=cdrom"))
            .filter_map(|v| v.split_once(':').map(|(storage, _)| storage.to_string()))
            .collect();
        let resources = self
            .api
            .get("/cluster/resources", &[("type", "storage")])
            .map_err(|e| self.fail("cannot list the cluster's storage", e))?;
        let shared = |storage: &str| {
            resources
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .any(|r| {
                    r.get("storage").and_then(Value::as_str) == Some(storage)
                        && r.get("shared").and_then(as_int) == Some(1)
                })
        };
        Ok(!storages.is_empty() && storages.iter().all(|s| shared(s)))
    }

    /// The privileges the token must hold, from `/access/permissions`, before anything is made
    /// (PVE 9 reads the guest agent with VM.GuestAgent.Audit, PVE 8 with VM.Monitor).
    fn check_privileges(&self, template: &Resource, major: u32) -> Result<(), BackendError> {
        let Ok(held) = self.api.get("/access/permissions", &[]) else {
            // Not readable: each call's 403 will name what is missing instead.
            return Ok(());
        };
        let agent = if major >= 9 {
            "VM.GuestAgent.Audit"
        } else {
            "VM.Monitor"
        };
        let template_path = format!("/vms/{}", template.vmid);
        let storage_path = format!(
            "/storage/{}",
            self.settings.storage.as_deref().unwrap_or("")
        );
        let mut needed = vec![
            (template_path.as_str(), "VM.Clone"),
            ("/vms", "VM.Allocate"),
            ("/vms", "VM.Config.Memory"),
            ("/vms", "VM.Config.CPU"),
            ("/vms", "VM.Config.Cloudinit"),
            ("/vms", "VM.Config.Network"),
            ("/vms", "VM.Config.Options"),
            ("/vms", "VM.PowerMgmt"),
            ("/vms", agent),
        ];
        if self.settings.storage.is_some() {
            needed.push((storage_path.as_str(), "Datastore.AllocateSpace"));
        }
        let has = |path: &str, privilege: &str| {
            held.as_object().into_iter().flatten().any(|(at, privs)| {
                let covers = at == "/" || at == path || path.starts_with(&format!("{at}/"));
                covers && privs.get(privilege).and_then(as_int).unwrap_or(0) != 0
            })
        };
        let missing: Vec<String> = needed
            .iter()
            .filter(|(path, privilege)| {
                // The agent privilege has an unrestricted variant that includes it.
                !(has(path, privilege)
                    || (*privilege == "VM.GuestAgent.Audit"
                        && has(path, "VM.GuestAgent.Unrestricted")))
            })
            .map(|(path, privilege)| format!("{privilege} on {path}"))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let token = self.api.token_id();
        Err(BackendError::Invalid(format!(
            "the API token {token} lacks {} at {}; grant them before provisioning, e.g. \
             `pveum acl modify /vms --tokens '{token}' --roles PVEVMAdmin` (and \
             PVEDatastoreUser on the storage)",
            missing.join(", "),
            self.api.url()
        )))
    }
}

/// Creates the VM as [`Proxmox::plan`] placed it.
pub fn create(
    proxmox: &Proxmox,
    vm: &NewVm,
    env: &CreateEnv,
    keep_on_failure: bool,
) -> Result<Created, BackendError> {
    let start = Instant::now();
    let planned = proxmox
        .planned
        .borrow_mut()
        .take()
        .filter(|(name, _)| name == vm.name);
    let plan = match planned {
        Some((_, plan)) => plan,
        None => proxmox.plan(vm)?,
    };
    let vmid = clone(proxmox, vm, &plan, env)?;
    let made = Resource::made(vmid, &plan.node, vm.name);
    let result = finish(proxmox, vm, &plan, vmid, env, start);
    match result {
        Ok(created) => Ok(created),
        Err(error) if keep_on_failure => Err(error),
        Err(error) => match proxmox.purge(&made) {
            Ok(()) => Err(error),
            Err(failed) => Err(BackendError::Leftover {
                error: Box::new(error),
                left: format!("VM {vmid} ({}) on node {} ({failed})", vm.name, plan.node),
                hint: proxmox.cleanup(Some(vmid), Some(&plan.node), vm.name),
            }),
        },
    }
}

/// Clones the template into a VMID no other `vm` of this project takes at the same time (a
/// lock around choosing and cloning), retrying with the next VMID when another client took it.
fn clone(proxmox: &Proxmox, vm: &NewVm, plan: &Plan, env: &CreateEnv) -> Result<u32, BackendError> {
    let lock_path = proxmox.state_dir.join("proxmox-vmid.lock");
    std::fs::create_dir_all(&proxmox.state_dir).map_err(|e| {
        BackendError::Invalid(format!(
            "cannot create {}: {e}",
            proxmox.state_dir.display()
        ))
    })?;
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .and_then(|f| f.lock().map(|()| f))
        .map_err(|e| BackendError::Invalid(format!("cannot lock {}: {e}", lock_path.display())))?;
    let template = &plan.template;
    let mut tried = Vec::new();
    let (vmid, upid) = loop {
        let vmid = next_vmid(proxmox, &tried)?;
        let newid = vmid.to_string();
        let full = if proxmox.settings.clone == CloneMode::Full {
            "1"
        } else {
            "0"
        };
        let mut form = vec![("newid", newid.as_str()), ("name", vm.name), ("full", full)];
        if proxmox.settings.clone == CloneMode::Full
            && let Some(storage) = &proxmox.settings.storage
        {
            form.push(("storage", storage));
        }
        if plan.node != template.node {
            form.push(("target", &plan.node));
        }
        let path = format!("/nodes/{}/qemu/{}/clone", template.node, template.vmid);
        match proxmox.api.post(&path, &form) {
            Ok(upid) => break (vmid, upid),
            Err(e)
                if e.message().contains("already exists") && tried.len() < VMID_TRIES as usize =>
            {
                env.reporter
                    .detail(format!("VMID {vmid} was taken meanwhile; trying another"));
                tried.push(vmid);
            }
            Err(e) => {
                return Err(proxmox.fail(
                    &format!("cannot clone template {} into VMID {vmid}", template.vmid),
                    e,
                ));
            }
        }
    };
    // The VM's configuration exists now: another client's nextid no longer offers its VMID.
    drop(lock);
    env.reporter.detail(format!(
        "cloning template {} into VMID {vmid} on node {}",
        template.vmid, plan.node
    ));
    proxmox
        .wait(
            &template.node,
            &upid,
            &format!("cloning template {} into VMID {vmid}", template.vmid),
        )
        .map_err(|error| {
            // A clone task that failed removes its VM; one that still exists is purged.
            let stub = Resource::made(vmid, &plan.node, vm.name);
            match proxmox.managed_vmid(vmid) {
                Ok(Some(_)) => match proxmox.purge(&stub) {
                    Ok(()) => error,
                    Err(failed) => BackendError::Leftover {
                        error: Box::new(error),
                        left: format!("VM {vmid} on node {} ({failed})", plan.node),
                        hint: proxmox.cleanup(Some(vmid), Some(&plan.node), vm.name),
                    },
                },
                _ => error,
            }
        })?;
    Ok(vmid)
}

/// The next VMID to try: PVE's next free one, or the first free one of `vmid_range`.
fn next_vmid(proxmox: &Proxmox, tried: &[u32]) -> Result<u32, BackendError> {
    let Some((first, last)) = proxmox.settings.vmid_range else {
        let id = proxmox
            .api
            .get("/cluster/nextid", &[])
            .map_err(|e| proxmox.fail("cannot get a free VMID", e))?;
        return as_int(&id)
            .and_then(|id| u32::try_from(id).ok())
            .filter(|id| !tried.contains(id))
            .ok_or_else(|| BackendError::Invalid(format!("PVE offered VMID {id} again")));
    };
    let used: Vec<u32> = proxmox.resources()?.iter().map(|r| r.vmid).collect();
    for vmid in first..=last {
        if used.contains(&vmid) || tried.contains(&vmid) {
            continue;
        }
        let id = vmid.to_string();
        match proxmox.api.get("/cluster/nextid", &[("vmid", &id)]) {
            Ok(_) => return Ok(vmid),
            Err(ApiError::Failed { message, .. }) if message.contains("already exists") => {}
            Err(e) => return Err(proxmox.fail("cannot check a VMID", e)),
        }
    }
    Err(BackendError::Invalid(format!(
        "no free VMID in vmid_range [{first}, {last}] ([proxmox] in vm.toml); widen it or destroy VMs"
    )))
}

/// Configuration, cloud-init drive, start, address and host key.
fn finish(
    proxmox: &Proxmox,
    vm: &NewVm,
    plan: &Plan,
    vmid: u32,
    env: &CreateEnv,
    start: Instant,
) -> Result<Created, BackendError> {
    let node = plan.node.as_str();
    let base = format!("/nodes/{node}/qemu/{vmid}");
    let memory = vm.memory_mib.to_string();
    let cores = vm.vcpus.to_string();
    // PVE wants the keys URL-encoded once as the value; the form body encodes them again.
    let sshkeys = encode(&vm.ssh_keys.join("\n"));
    let tags = format!("{MANAGED_TAG};{}", project_tag(&vm.project));
    let description = format!("Made by vm for the project {}", vm.project);
    let mut form = vec![
        ("memory", memory.as_str()),
        ("cores", cores.as_str()),
        ("ciuser", vm.user),
        ("ipconfig0", "ip=dhcp"),
        ("agent", "1"),
        ("tags", tags.as_str()),
        ("description", description.as_str()),
    ];
    if !vm.ssh_keys.is_empty() {
        form.push(("sshkeys", sshkeys.as_str()));
    }
    let net0;
    if let Some(bridge) = &proxmox.settings.bridge {
        let mac = agent::net0_mac(proxmox, node, vmid)?;
        net0 = match mac {
            Some(mac) => format!("virtio={},bridge={bridge}", mac.to_ascii_uppercase()),
            None => format!("virtio,bridge={bridge}"),
        };
        form.push(("net0", &net0));
    }
    proxmox
        .api
        .put(&format!("{base}/config"), &form)
        .map_err(|e| proxmox.fail(&format!("cannot configure VM {vmid}"), e))?;
    proxmox
        .api
        .put(&format!("{base}/cloudinit"), &[])
        .map_err(|e| {
            proxmox.fail(
                &format!("cannot regenerate VM {vmid}'s cloud-init drive"),
                e,
            )
        })?;
    let upid = proxmox
        .api
        .post(&format!("{base}/status/start"), &[])
        .map_err(|e| proxmox.fail(&format!("cannot start VM {vmid}"), e))?;
    proxmox.wait(node, &upid, &format!("starting VM {vmid}"))?;

    let deadline = start + vm.timeout;
    let mac = agent::net0_mac(proxmox, node, vmid)?;
    let ip = loop {
        if let Some(ip) = agent::address(proxmox, node, vmid, mac.as_deref())? {
            break ip;
        }
        if Instant::now() >= deadline {
            return Err(BackendError::Timeout {
                name: vm.name.to_string(),
                what: "an address from the QEMU guest agent",
                waited: start.elapsed(),
                tail: format!(
                    "; is qemu-guest-agent installed and running in template {}'s image? \
                     (PVE: VM {vmid} → Summary shows the agent's IPs)",
                    plan.template.vmid
                ),
            });
        }
        (env.tick)();
        std::thread::sleep(Duration::from_millis(500));
    };
    let host_key = loop {
        match agent::host_key(proxmox, node, vmid)? {
            HostKeyRead::Key(key) => break HostKeySource::Reported(key),
            HostKeyRead::Unsupported(why) => {
                env.reporter.warn(format!(
                    "the guest agent of VM {vmid} cannot read files ({why}): {}'s host key is pinned on first use",
                    vm.name
                ));
                break HostKeySource::FirstUse;
            }
            HostKeyRead::NotYet if Instant::now() >= deadline => {
                env.reporter.warn(format!(
                    "{} has no {} yet after {:?}: its host key is pinned on first use",
                    vm.name,
                    "/etc/ssh/ssh_host_ed25519_key.pub",
                    start.elapsed()
                ));
                break HostKeySource::FirstUse;
            }
            HostKeyRead::NotYet => {
                (env.tick)();
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    };
    Ok(Created {
        address: Some(Address {
            host: ip.to_string(),
            port: None,
        }),
        user: Some(vm.user.to_string()),
        host_key,
        log: None,
        details: vec![
            ("node".into(), node.to_string()),
            ("vmid".into(), vmid.to_string()),
        ],
    })
}

impl Resource {
    /// What is known of a VM this backend just made (enough to purge it).
    fn made(vmid: u32, node: &str, name: &str) -> Resource {
        Resource {
            vmid,
            node: node.to_string(),
            name: name.to_string(),
            status: String::new(),
            template: false,
            tags: Vec::new(),
            maxmem: 0,
            maxcpu: 0,
        }
    }
}

impl Proxmox {
    /// The VM with `vmid`, if the cluster has it.
    fn managed_vmid(&self, vmid: u32) -> Result<Option<Resource>, BackendError> {
        Ok(self.resources()?.into_iter().find(|r| r.vmid == vmid))
    }
}

/// A VM name PVE accepts: a DNS label (letters, digits, '-'; not at either end; 63 at most).
fn check_name(name: &str) -> Result<(), BackendError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(BackendError::Invalid(format!(
            "{name:?} is not a name Proxmox VE accepts: use letters, digits and '-' only (a DNS label)"
        )))
    }
}

/// `scsi0`, `virtio1`, `sata2`, `ide0`, `efidisk0`, `tpmstate0`: keys holding a volume.
fn is_disk_key(key: &str) -> bool {
    let prefix = key.trim_end_matches(|c: char| c.is_ascii_digit());
    prefix.len() < key.len()
        && matches!(
            prefix,
            "scsi" | "virtio" | "sata" | "ide" | "efidisk" | "tpmstate"
        )
}

fn names(nodes: &[(String, i64)]) -> String {
    if nodes.is_empty() {
        "none".into()
    } else {
        nodes
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_dns_labels() {
        for good in ["web01", "a", "web-server-01", &"a".repeat(63)] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "web_01", "web.lab", "-web", "web-", &"a".repeat(64)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn disk_keys_are_told_from_other_keys() {
        for disk in ["scsi0", "virtio12", "ide2", "sata1", "efidisk0"] {
            assert!(is_disk_key(disk), "{disk}");
        }
        for other in ["net0", "scsihw", "ipconfig0", "ide", "memory"] {
            assert!(!is_disk_key(other), "{other}");
        }
    }
}
