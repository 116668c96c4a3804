//! `vm start|stop|reboot|console` on Proxmox VE: the VM's status calls, each a task waited
//! for; a graceful shutdown or reboot is bounded by PVE's own timeout.

use std::time::Duration;

use vm::backend::{BackendError, Power, Powered};

use super::{Proxmox, Resource};

/// Seconds beyond the guest's timeout that a shutdown task may take to end.
const TASK_SLACK: Duration = Duration::from_secs(60);

impl Proxmox {
    /// The VM `vm` made named `name`, or what to do when there is none.
    pub(super) fn existing(&self, name: &str) -> Result<Resource, BackendError> {
        self.managed(name)?.ok_or_else(|| {
            BackendError::Invalid(format!(
                "no VM named {name} made by vm on {}; `vm list` shows the VMs there are",
                self.api.url()
            ))
        })
    }

    /// `status/start`, `status/shutdown` (or `stop`), `status/reboot` (or `reset`).
    pub fn change_power(
        &self,
        name: &str,
        action: Power,
        timeout: Duration,
    ) -> Result<Powered, BackendError> {
        let vm = self.existing(name)?;
        let running = vm.status == "running";
        let seconds = timeout.as_secs().max(1).to_string();
        let (call, form): (&str, Vec<(&str, &str)>) = match action {
            Power::Start if running => return Ok(Powered::Already),
            Power::Stop { .. } if !running => return Ok(Powered::Already),
            Power::Reboot { .. } if !running => {
                return Err(BackendError::NotRunning(name.to_string()));
            }
            Power::Start => ("start", Vec::new()),
            Power::Stop { force: true } => ("stop", Vec::new()),
            Power::Stop { force: false } => ("shutdown", vec![("timeout", seconds.as_str())]),
            Power::Reboot { force: true } => ("reset", Vec::new()),
            Power::Reboot { force: false } => ("reboot", vec![("timeout", seconds.as_str())]),
        };
        let what = format!("{} VM {} ({name})", action.verb(), vm.vmid);
        let path = format!("/nodes/{}/qemu/{}/status/{call}", vm.node, vm.vmid);
        let upid = self
            .api
            .post(&path, &form)
            .map_err(|e| self.fail(&format!("cannot {what}"), e))?;
        match self.wait_within(&vm.node, &upid, &what, timeout + TASK_SLACK) {
            Ok(()) => Ok(Powered::Done),
            // PVE's powerdown gives up at the timeout with this exit status.
            Err(super::api::TaskError::Failed { exit, .. }) if exit.contains("got timeout") => {
                Err(BackendError::Timeout {
                    name: name.to_string(),
                    what: "the guest to shut down",
                    waited: timeout,
                    tail: format!(
                        "; the guest did not act on the ACPI power button (is its guest agent or \
                         acpid running?): `vm {} --force {name}` does it at once",
                        action.verb()
                    ),
                })
            }
            Err(e) => Err(self.task_fail(&what, e)),
        }
    }

    /// No console program can reach a PVE VM's serial port from here: say where it is.
    pub fn console_hint(&self, name: &str) -> BackendError {
        let place = self.managed(name).ok().flatten().map_or_else(
            || format!("the VM named {name} in the PVE web UI at {}", self.api.url()),
            |vm| {
                format!(
                    "`ssh root@{node} qm terminal {vmid}` (needs a serial port: `qm set {vmid} \
                     --serial0 socket`), or the web UI's console at {url}/?console=kvm&novnc=1&vmid={vmid}&node={node}",
                    node = vm.node,
                    vmid = vm.vmid,
                    url = self.api.url().trim_end_matches('/'),
                )
            },
        );
        BackendError::Invalid(format!(
            "vm console reaches libvirt VMs only; {name}'s console on Proxmox VE: {place}"
        ))
    }
}
