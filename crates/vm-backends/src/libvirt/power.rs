//! `vm start|stop|reboot|console` on libvirt: the domain's lifecycle calls, a graceful stop
//! bounded by a timeout, and `virsh console` for the serial console.

use std::time::{Duration, Instant};

use virt::domain::Domain;
use vm::backend::{BackendError, Power, Powered};

use super::{Libvirt, libvirt_error};

/// How often a stopping domain is looked at.
const POLL: Duration = Duration::from_millis(250);

impl Libvirt {
    /// The domain `name`, or what to do when there is none.
    pub(super) fn existing(&self, name: &str) -> Result<Domain, BackendError> {
        self.domain(name)?.ok_or_else(|| {
            BackendError::Invalid(format!(
                "no domain named {name} at {}; `vm list` shows the VMs there are",
                self.uri
            ))
        })
    }

    /// Starts, stops (ACPI, then waits) or reboots (ACPI) the domain; `force` pulls the plug
    /// or resets at once.
    pub fn change_power(
        &self,
        name: &str,
        action: Power,
        timeout: Duration,
    ) -> Result<Powered, BackendError> {
        let domain = self.existing(name)?;
        let running = domain
            .is_active()
            .map_err(libvirt_error(format!("cannot read the state of {name}")))?;
        match action {
            Power::Start if running => Ok(Powered::Already),
            Power::Start => domain
                .create()
                .map(|_| Powered::Done)
                .map_err(libvirt_error(format!("cannot start {name}"))),
            Power::Stop { .. } if !running => Ok(Powered::Already),
            Power::Stop { force: true } => domain
                .destroy()
                .map(|()| Powered::Done)
                .map_err(libvirt_error(format!("cannot power off {name}"))),
            Power::Stop { force: false } => {
                domain
                    .shutdown()
                    .map_err(libvirt_error(format!("cannot shut down {name}")))?;
                self.wait_until_off(&domain, name, timeout)
            }
            Power::Reboot { .. } if !running => Err(BackendError::NotRunning(name.to_string())),
            Power::Reboot { force: true } => domain
                .reset()
                .map(|_| Powered::Done)
                .map_err(libvirt_error(format!("cannot reset {name}"))),
            Power::Reboot { force: false } => domain
                .reboot(0)
                .map(|()| Powered::Done)
                .map_err(libvirt_error(format!("cannot reboot {name}"))),
        }
    }

    /// Waits for a domain asked to shut down to be off, at most `timeout`.
    fn wait_until_off(
        &self,
        domain: &Domain,
        name: &str,
        timeout: Duration,
    ) -> Result<Powered, BackendError> {
        let start = Instant::now();
        while domain.is_active().unwrap_or(false) {
            if start.elapsed() >= timeout {
                return Err(BackendError::Timeout {
                    name: name.to_string(),
                    what: "the guest to shut down",
                    waited: start.elapsed(),
                    tail: format!(
                        "; the guest did not act on the ACPI power button (is it still booting?): \
                         `vm stop --force {name}` powers it off"
                    ),
                });
            }
            std::thread::sleep(POLL);
        }
        Ok(Powered::Done)
    }

    /// `virsh -c URI console NAME`: libvirt's own client for the serial console (Ctrl+] leaves).
    pub fn console_command(&self, name: &str) -> Result<Vec<String>, BackendError> {
        let domain = self.existing(name)?;
        if !domain.is_active().unwrap_or(false) {
            return Err(BackendError::NotRunning(name.to_string()));
        }
        let virsh = vm::fsutil::find_program("virsh").ok_or_else(|| {
            BackendError::Invalid(
                "virsh is not on PATH: install libvirt-clients (vm console runs `virsh console`)"
                    .into(),
            )
        })?;
        Ok(vec![
            virsh.display().to_string(),
            "-c".into(),
            self.uri.clone(),
            "console".into(),
            name.into(),
        ])
    }
}
