//! The Terraform module behind the `Backend` trait.

use std::time::Duration;

use vm::backend::{
    Backend, BackendError, CreateEnv, Created, Destroyed, HostKeySource, NewVm, Power, Powered,
    Resized, Target, VmInfo,
};
use vm::inventory::check::Presence;
use vm::inventory::fragment::Address;
use vm::project::Project;

use super::{HostKeyVars, Request, Terraform};

impl Backend for Terraform {
    fn target(&self) -> &Target {
        &self.target
    }

    /// The program and the module were checked when the backend was opened; the workspace is
    /// checked by `create` itself, under the init lock's protection.
    fn preflight(&self, _vm: &NewVm) -> Result<(), BackendError> {
        Ok(())
    }

    fn create(
        &self,
        vm: &NewVm,
        env: &CreateEnv,
        keep_on_failure: bool,
    ) -> Result<Created, BackendError> {
        let request = Request {
            name: vm.name,
            memory_mib: vm.memory_mib,
            vcpus: vm.vcpus,
            timeout: vm.timeout,
        };
        let host_key = HostKeyVars {
            private: &vm.host_key.private,
            public: &vm.host_key.public,
        };
        let outputs = self.provision(&request, &host_key, env.tick, keep_on_failure)?;
        let host_key = match outputs.host_key {
            // The module echoes the key vm gave it: it went into the guest through the
            // module's provider, whose API is authenticated.
            Some(key) if same_key(&key, &vm.host_key.public) => HostKeySource::Installed,
            // The module read the guest's own key through its provider.
            Some(key) => HostKeySource::Reported(key),
            None => HostKeySource::FirstUse,
        };
        Ok(Created {
            address: Some(Address {
                host: outputs.host,
                port: outputs.port,
            }),
            user: outputs.user,
            host_key,
            log: Some(("Terraform", self.log().to_path_buf())),
            details: Vec::new(),
        })
    }

    /// The address is the module's output, recorded in the fragment; Terraform has no other.
    fn address(&self, _name: &str) -> Result<Option<Address>, BackendError> {
        Ok(None)
    }

    fn destroy(&self, name: &str, _keep_disk: bool) -> Result<Destroyed, BackendError> {
        Terraform::destroy(self, name)
    }

    /// The workspaces of the module, with the size vm recorded for each.
    fn list(&self, _project: &Project) -> Result<Vec<VmInfo>, BackendError> {
        Ok(self
            .workspaces()?
            .into_iter()
            .map(|name| {
                let vars: serde_json::Value = std::fs::read_to_string(self.vars_file(&name))
                    .ok()
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or_default();
                VmInfo {
                    state: "applied".into(),
                    memory_mib: vars["memory"].as_u64(),
                    vcpus: vars["vcpus"].as_u64().and_then(|v| u32::try_from(v).ok()),
                    address: None,
                    project: None,
                    name,
                }
            })
            .collect())
    }

    /// A Terraform VM exists while its workspace does.
    fn presence(&self, name: &str) -> Presence {
        let mut listed = self.listed.borrow_mut();
        match listed.get_or_insert_with(|| self.workspaces().map_err(|e| e.to_string())) {
            Err(e) => Presence::Unknown(e.clone()),
            Ok(workspaces) if workspaces.iter().any(|w| w == name) => {
                Presence::Exists { address: None }
            }
            Ok(_) => Presence::Missing,
        }
    }

    fn cleanup_hint(&self, name: &str) -> String {
        self.cleanup(name)
    }

    /// The module applied again with the new `memory` and `vcpus`; whether that restarts or
    /// replaces the VM is the module's business (said in the answer).
    fn resize(&self, name: &str, memory_mib: u64, vcpus: u32) -> Result<Resized, BackendError> {
        self.apply_size(name, memory_mib, vcpus)?;
        Ok(Resized {
            restart_needed: false,
        })
    }

    /// A module has no restart; its provider decides when a change takes effect.
    fn restart(&self, name: &str) -> Result<(), BackendError> {
        Err(BackendError::Invalid(format!(
            "Terraform VMs are restarted by their module, not by vm: {name} got its new size when the module was applied"
        )))
    }

    /// The module's optional input `running` (bool), applied again: false stops, true starts,
    /// a reboot is both. How the provider stops a VM (gracefully or not) is the module's.
    fn power(
        &self,
        name: &str,
        action: Power,
        _timeout: Duration,
    ) -> Result<Powered, BackendError> {
        if !self.declares(RUNNING_INPUT) {
            return Err(BackendError::Invalid(format!(
                "the Terraform module in {} declares no `{RUNNING_INPUT}` input, so vm cannot \
                 {} {name}; declare `variable \"{RUNNING_INPUT}\" {{ type = bool, default = true }}` \
                 and give it to the VM's power state (libvirt_domain's `running`, bpg/proxmox's \
                 `started`; the shipped modules do)",
                self.dir().display(),
                action.verb()
            )));
        }
        let set = |running: bool| self.apply_vars(name, &[(RUNNING_INPUT, running.into())]);
        match action {
            Power::Start => set(true)?,
            Power::Stop { .. } => set(false)?,
            Power::Reboot { .. } => {
                set(false)?;
                set(true)?;
            }
        }
        Ok(Powered::Done)
    }

    fn console(&self, name: &str) -> Result<Vec<String>, BackendError> {
        Err(BackendError::Invalid(format!(
            "vm console reaches libvirt VMs only; {name} was made by the Terraform module in {}: \
             use its provider's console (`virsh console`, the Proxmox web UI)",
            self.dir().display()
        )))
    }

    /// The address is the module's output, fixed by the module.
    fn discovers_address(&self, _recorded: &Address) -> bool {
        false
    }
}

/// The module input that holds a VM's power state (optional in the module contract).
pub const RUNNING_INPUT: &str = "running";

/// Whether two public key lines are the same key (type and data; comments aside).
fn same_key(a: &str, b: &str) -> bool {
    a.split_whitespace()
        .take(2)
        .eq(b.split_whitespace().take(2))
}
