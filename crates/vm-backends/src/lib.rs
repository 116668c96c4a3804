//! The backends of `vm`, one folder each, behind `vm::backend::Backend`. `open` is the only
//! place that knows them all: a new backend is a new folder plus a line here.

pub mod dns;
pub mod libvirt;
pub mod proxmox;
pub mod terraform;

use vm::backend::{Backend, BackendError, BackendKind, Target};
use vm::settings::Settings;

/// Opens the backend of `target` with the settings new VMs get.
pub fn open(target: &Target, settings: &Settings) -> Result<Box<dyn Backend>, BackendError> {
    Ok(match target.kind {
        BackendKind::Libvirt => Box::new(
            libvirt::Libvirt::connect(&target.connection)?.with_settings(settings.libvirt.clone()),
        ),
        BackendKind::Terraform => Box::new(
            terraform::Terraform::new(
                &settings.terraform.bin,
                std::path::Path::new(&target.connection),
                &settings.project.state_dir(),
            )?
            .with_vars(settings.terraform.vars.clone()),
        ),
        BackendKind::Proxmox => Box::new(proxmox::Proxmox::open(
            &target.connection,
            &settings.proxmox,
            settings.project.state_dir(),
            settings.reporter,
        )?),
    })
}

/// Opens the DNS server of `[dns]`.
pub fn open_dns(
    settings: &vm::dns::DnsSettings,
) -> Result<Box<dyn vm::dns::Dns>, vm::dns::DnsError> {
    dns::open(settings)
}
