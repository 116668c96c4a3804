//! The Proxmox VE backend: a cloud-init template cloned per VM through the PVE API (`api.rs`,
//! over verified TLS: `tls.rs`), placed on a node of the cluster (`create.rs`), its address and
//! host key read through the QEMU guest agent (`agent.rs`). VMs carry two tags: `vm-managed`,
//! and one naming their project (`vm-` and a hash of the project folder), so each project sees
//! only its own VMs.

mod agent;
mod api;
mod create;
mod power;
mod tls;

use std::cell::RefCell;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use vm::backend::{
    Backend, BackendError, BackendKind, CreateEnv, Created, Destroyed, NewVm, Power, Powered,
    Resized, Target, VmInfo,
};
use vm::inventory::check::Presence;
use vm::inventory::fragment::Address;
use vm::inventory::shlex::quote;
use vm::project::Project;
use vm::settings::ProxmoxSettings;

use api::{Api, ApiError, TaskError, as_int};

/// The tag every VM `vm` makes carries.
const MANAGED_TAG: &str = "vm-managed";
/// How long a shutdown may take before PVE stops the VM hard, on destroy.
const SHUTDOWN_SECS: u64 = 30;
/// How long destroy waits for each of its tasks.
const TASK_TIMEOUT: Duration = Duration::from_secs(300);

/// One Proxmox VE cluster.
pub struct Proxmox {
    api: Api,
    settings: ProxmoxSettings,
    target: Target,
    /// The project's `.vm/`, where the VMID lock lives.
    state_dir: PathBuf,
    /// The cluster's VMs, listed once for presence checks.
    listed: RefCell<Option<Result<Vec<Resource>, String>>>,
    /// Where the VM `preflight` checked goes (its name, its plan).
    planned: RefCell<Option<(String, create::Plan)>>,
}

/// A VM as `/cluster/resources` shows it.
#[derive(Debug, Clone)]
struct Resource {
    vmid: u32,
    node: String,
    name: String,
    status: String,
    template: bool,
    tags: Vec<String>,
    maxmem: u64,
    maxcpu: u64,
}

impl Proxmox {
    /// Opens the cluster at `url` (the target's connection) with `settings`' TLS and token.
    pub fn open(
        url: &str,
        settings: &ProxmoxSettings,
        state_dir: PathBuf,
        reporter: vm::output::Reporter,
    ) -> Result<Proxmox, BackendError> {
        let mut settings = settings.clone();
        if !url.is_empty() {
            settings.url = Some(url.trim_end_matches('/').to_string());
        }
        let api = Api::new(&settings, reporter).map_err(BackendError::Invalid)?;
        Ok(Proxmox {
            target: Target {
                kind: BackendKind::Proxmox,
                connection: api.url().to_string(),
            },
            api,
            settings,
            state_dir,
            listed: RefCell::new(None),
            planned: RefCell::new(None),
        })
    }

    /// Turns an API error into one that says what was being done and what to do.
    fn fail(&self, action: &str, error: ApiError) -> BackendError {
        let url = self.api.url();
        let token = self.api.token_id();
        BackendError::Call {
            action: format!("{action} at {url}"),
            message: match error {
                ApiError::Connect(why) => format!(
                    "{why}; check the URL and ca_file or fingerprint in vm.toml's [proxmox] \
                     (`pvenode cert info` shows the certificate's fingerprint)"
                ),
                ApiError::Auth => format!(
                    "authentication failure: PVE refused the API token {token}; check \
                     VM_PROXMOX_TOKEN (or token_file), and that the token exists and has not expired"
                ),
                ApiError::Forbidden(why) => format!(
                    "{why}: the token {token} lacks that privilege; grant it, e.g. \
                     `pveum acl modify PATH --tokens '{token}' --roles PVEVMAdmin`"
                ),
                ApiError::Locked(why) => {
                    format!(
                        "{why} (still locked after retries; try again when the task holding it ends)"
                    )
                }
                ApiError::Failed { message, .. } => message,
            },
        }
    }

    fn task_fail(&self, action: &str, error: TaskError) -> BackendError {
        match error {
            TaskError::Api(e) => self.fail(action, e),
            TaskError::Failed { exit, log } => BackendError::Call {
                action: format!("{action} at {}", self.api.url()),
                message: if log.is_empty() {
                    exit
                } else {
                    format!("{exit}\nlast lines of the task log:\n{log}")
                },
            },
            TaskError::Timeout(waited) => BackendError::Timeout {
                name: action.to_string(),
                what: "the Proxmox task",
                waited,
                tail: String::new(),
            },
        }
    }

    /// Every VM (and template) of the cluster.
    fn resources(&self) -> Result<Vec<Resource>, BackendError> {
        let data = self
            .api
            .get("/cluster/resources", &[("type", "vm")])
            .map_err(|e| self.fail("cannot list the cluster's VMs", e))?;
        Ok(data
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|r| r.get("type").and_then(Value::as_str) == Some("qemu"))
            .filter_map(|r| {
                Some(Resource {
                    vmid: u32::try_from(as_int(r.get("vmid")?)?).ok()?,
                    node: r.get("node")?.as_str()?.to_string(),
                    name: r
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    status: r
                        .get("status")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    template: r.get("template").and_then(as_int) == Some(1),
                    tags: r
                        .get("tags")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .split([';', ',', ' '])
                        .filter(|t| !t.is_empty())
                        .map(str::to_string)
                        .collect(),
                    maxmem: r.get("maxmem").and_then(as_int).unwrap_or(0).max(0) as u64,
                    maxcpu: r.get("maxcpu").and_then(as_int).unwrap_or(0).max(0) as u64,
                })
            })
            .collect())
    }

    /// The VM `vm` made named `name`, if the cluster has it.
    fn managed(&self, name: &str) -> Result<Option<Resource>, BackendError> {
        Ok(self
            .resources()?
            .into_iter()
            .find(|r| r.name == name && r.tags.iter().any(|t| t == MANAGED_TAG)))
    }

    /// Stops (a shutdown that turns hard after [`SHUTDOWN_SECS`]) and deletes a VM with its
    /// disks and every reference to it.
    fn purge(&self, vm: &Resource) -> Result<(), BackendError> {
        let base = format!("/nodes/{}/qemu/{}", vm.node, vm.vmid);
        let status = self
            .api
            .get(&format!("{base}/status/current"), &[])
            .map_err(|e| self.fail(&format!("cannot read the state of VM {}", vm.vmid), e))?;
        if status.get("status").and_then(Value::as_str) == Some("running") {
            let timeout = SHUTDOWN_SECS.to_string();
            let upid = self
                .api
                .post(
                    &format!("{base}/status/shutdown"),
                    &[("timeout", &timeout), ("forceStop", "1")],
                )
                .map_err(|e| self.fail(&format!("cannot stop VM {}", vm.vmid), e))?;
            self.wait(&vm.node, &upid, &format!("stopping VM {}", vm.vmid))?;
        }
        let upid = self
            .api
            .delete(
                &base,
                &[("purge", "1"), ("destroy-unreferenced-disks", "1")],
            )
            .map_err(|e| self.fail(&format!("cannot delete VM {}", vm.vmid), e))?;
        self.wait(&vm.node, &upid, &format!("deleting VM {}", vm.vmid))?;
        Ok(())
    }

    /// Waits for a task; a `WARNINGS: n` ending is said, not failed.
    fn wait(&self, node: &str, upid: &Value, action: &str) -> Result<(), BackendError> {
        self.wait_within(node, upid, action, TASK_TIMEOUT)
            .map_err(|e| self.task_fail(action, e))
    }

    /// Waits at most `timeout` for a task; a `WARNINGS: n` ending is said, not failed. The
    /// error is the task's own, for callers that tell its kinds apart.
    fn wait_within(
        &self,
        node: &str,
        upid: &Value,
        action: &str,
        timeout: Duration,
    ) -> Result<(), TaskError> {
        let upid = upid.as_str().ok_or_else(|| TaskError::Failed {
            exit: format!("PVE answered {upid} instead of a task id"),
            log: String::new(),
        })?;
        if let Some(warnings) = self.api.wait_task(node, upid, timeout)? {
            eprintln!("warning: {action} ended with {warnings} (see the task log in PVE)");
        }
        Ok(())
    }

    /// The command that removes a VM vm could not remove.
    fn cleanup(&self, vmid: Option<u32>, node: Option<&str>, name: &str) -> String {
        match (vmid, node) {
            (Some(vmid), Some(node)) => format!(
                "ssh {} qm destroy {vmid} --purge 1 --destroy-unreferenced-disks 1 \
                 (or, in the PVE web UI, VM {vmid} → More → Remove with Purge)",
                quote(&format!("root@{node}"))
            ),
            _ => format!(
                "in the PVE web UI at {}, the VM named {name} → More → Remove with Purge",
                self.api.url()
            ),
        }
    }
}

/// The tag of a project's VMs: `vm-` and 8 hex digits of FNV-1a over the project folder (PVE
/// tags allow only a few characters; the folder itself is in the VM's description).
pub fn project_tag(project: &str) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in project.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("vm-{hash:08x}")
}

impl Backend for Proxmox {
    fn target(&self) -> &Target {
        &self.target
    }

    /// The checks, whose result `create` then uses instead of asking the cluster again.
    fn preflight(&self, vm: &NewVm) -> Result<(), BackendError> {
        let plan = self.plan(vm)?;
        *self.planned.borrow_mut() = Some((vm.name.to_string(), plan));
        Ok(())
    }

    fn create(
        &self,
        vm: &NewVm,
        env: &CreateEnv,
        keep_on_failure: bool,
    ) -> Result<Created, BackendError> {
        create::create(self, vm, env, keep_on_failure)
    }

    fn address(&self, name: &str) -> Result<Option<Address>, BackendError> {
        let Some(vm) = self.managed(name)? else {
            return Ok(None);
        };
        let mac = agent::net0_mac(self, &vm.node, vm.vmid)?;
        Ok(
            agent::address(self, &vm.node, vm.vmid, mac.as_deref())?.map(|ip| Address {
                host: ip.to_string(),
                port: None,
            }),
        )
    }

    fn destroy(&self, name: &str, keep_disk: bool) -> Result<Destroyed, BackendError> {
        if keep_disk {
            return Err(BackendError::Invalid(
                "--keep-disk is not possible on Proxmox VE: deleting a VM deletes the disks its \
                 configuration names; detach them in PVE first if you want to keep them"
                    .into(),
            ));
        }
        let Some(vm) = self.managed(name)? else {
            return Ok(Destroyed::default());
        };
        self.purge(&vm).map_err(|error| BackendError::Leftover {
            error: Box::new(error),
            left: format!("VM {} ({name}) on node {}", vm.vmid, vm.node),
            hint: self.cleanup(Some(vm.vmid), Some(&vm.node), name),
        })?;
        Ok(Destroyed {
            existed: true,
            volumes: Vec::new(),
        })
    }

    fn list(&self, project: &Project) -> Result<Vec<VmInfo>, BackendError> {
        let tag = project_tag(&project.id());
        Ok(self
            .resources()?
            .into_iter()
            .filter(|r| !r.template && r.tags.contains(&tag))
            .map(|r| VmInfo {
                name: r.name,
                state: r.status,
                memory_mib: Some(r.maxmem / (1024 * 1024)),
                vcpus: u32::try_from(r.maxcpu).ok(),
                address: None,
                project: Some(project.id()),
            })
            .collect())
    }

    fn presence(&self, name: &str) -> Presence {
        let mut listed = self.listed.borrow_mut();
        let vms = listed.get_or_insert_with(|| self.resources().map_err(|e| e.to_string()));
        match vms {
            Err(e) => Presence::Unknown(e.clone()),
            Ok(vms)
                if vms
                    .iter()
                    .any(|r| r.name == name && r.tags.iter().any(|t| t == MANAGED_TAG)) =>
            {
                Presence::Exists { address: None }
            }
            Ok(_) => Presence::Missing,
        }
    }

    fn cleanup_hint(&self, name: &str) -> String {
        match self.managed(name) {
            Ok(Some(vm)) => self.cleanup(Some(vm.vmid), Some(&vm.node), name),
            _ => self.cleanup(None, None, name),
        }
    }

    /// `memory` and `cores` in the VM's configuration; on a running VM PVE keeps them pending
    /// until a restart.
    fn resize(&self, name: &str, memory_mib: u64, vcpus: u32) -> Result<Resized, BackendError> {
        let vm = self.existing(name)?;
        let (memory, cores) = (memory_mib.to_string(), vcpus.to_string());
        self.api
            .put(
                &format!("/nodes/{}/qemu/{}/config", vm.node, vm.vmid),
                &[("memory", &memory), ("cores", &cores)],
            )
            .map_err(|e| self.fail(&format!("cannot resize VM {}", vm.vmid), e))?;
        Ok(Resized {
            restart_needed: vm.status == "running",
        })
    }

    /// PVE's reboot: a shutdown and a start, which applies pending configuration.
    fn restart(&self, name: &str) -> Result<(), BackendError> {
        let vm = self.existing(name)?;
        let path = format!("/nodes/{}/qemu/{}/status/reboot", vm.node, vm.vmid);
        let upid = self
            .api
            .post(&path, &[])
            .map_err(|e| self.fail(&format!("cannot restart VM {}", vm.vmid), e))?;
        self.wait(&vm.node, &upid, &format!("restarting VM {}", vm.vmid))
    }

    fn power(&self, name: &str, action: Power, timeout: Duration) -> Result<Powered, BackendError> {
        self.change_power(name, action, timeout)
    }

    fn console(&self, name: &str) -> Result<Vec<String>, BackendError> {
        Err(self.console_hint(name))
    }

    /// The guest agent reports the address the guest has now.
    fn discovers_address(&self, _recorded: &Address) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_tags_are_stable_and_fit_pves_tag_rules() {
        let tag = project_tag("/home/me/lab");
        assert_eq!(tag, project_tag("/home/me/lab"));
        assert_ne!(tag, project_tag("/home/me/lab2"));
        assert!(tag.len() == 11 && tag.starts_with("vm-"));
        assert!(
            tag[3..]
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }
}
