//! `vm destroy NAME`: the domain, the volumes it uses and its fragment; then merge. A VM that
//! is already gone but left a fragment behind is cleaned up with a note.

use std::io::{BufRead, IsTerminal, Write};

use super::Context;
use std::path::PathBuf;

use crate::backend::libvirt::{Libvirt, default_uri};
use crate::backend::terraform::Terraform;
use crate::error::Error;
use crate::hostkey;
use crate::inventory::fragment::{self, Marker};
use crate::project::Validate;

/// Runs `vm destroy`.
pub fn run(
    context: &Context,
    name: &str,
    yes: bool,
    keep_disk: bool,
    connect: Option<&str>,
    validate: Option<Validate>,
) -> Result<(), Error> {
    fragment::validate_name(name)?;
    let path = context.project.fragment_dir().join(format!("{name}.ini"));
    let text = std::fs::read_to_string(&path).ok();
    let marker = text.as_deref().and_then(Marker::parse);
    if text.is_some() && marker.is_none() {
        return Err(Error::Failed(format!(
            "{} was not written by vm, so vm will not delete it; delete it yourself if {name} is gone",
            path.display()
        )));
    }
    let config = &context.project.config;
    let terraform_dir = match &marker {
        Some(m) if m.backend == "terraform" => Some(PathBuf::from(&m.connection)),
        None if config.backend.as_deref() == Some("terraform") => Some(
            config
                .terraform_dir
                .clone()
                .unwrap_or_else(|| context.project.root.join("terraform")),
        ),
        _ => None,
    };
    let (uri, destroyed) = if let Some(dir) = terraform_dir {
        let place = format!("Terraform module {}", dir.display());
        if !yes {
            confirm(name, &place)?;
        }
        let bin = config.terraform_bin.as_deref().unwrap_or("terraform");
        let terraform = Terraform::new(bin, &dir, &context.project.state_dir())?;
        (place, terraform.destroy(name)?)
    } else {
        let recorded = marker
            .as_ref()
            .filter(|m| m.backend == "libvirt")
            .map(|m| m.connection.clone());
        let uri = default_uri(
            connect
                .or(recorded.as_deref())
                .or(config.connect.as_deref()),
        );
        if !yes {
            confirm(name, &uri)?;
        }
        let libvirt = Libvirt::connect(&uri)?;
        let destroyed = libvirt.destroy_keeping(name, keep_disk)?;
        (uri, destroyed)
    };
    if !destroyed.domain && marker.is_none() {
        return Err(Error::Failed(format!(
            "no VM named {name} at {uri} and no fragment for it; `vm list` shows the VMs there are"
        )));
    }
    for volume in &destroyed.volumes {
        context.reporter.detail(format!("deleted volume {volume}"));
    }
    if destroyed.domain {
        context.reporter.info(format!("destroyed {name} at {uri}"));
    } else {
        context.reporter.info(format!(
            "note: {name} was already gone from {uri}; removing its fragment"
        ));
    }
    if marker.is_some() {
        let _lock = context.lock()?;
        let known_hosts = context.project.ansible_dir().join(hostkey::KNOWN_HOSTS);
        hostkey::forget(&known_hosts, name)?;
        std::fs::remove_file(&path)
            .map_err(|e| Error::Failed(format!("cannot delete {}: {e}", path.display())))?;
        match context.merge_locked(validate) {
            Ok(_) => context
                .reporter
                .info(format!("removed {name} from the inventory")),
            Err(e) => {
                // The VM is gone: its fragment must not come back, so the inventory stays as
                // it was until the other fragment is fixed.
                context.reporter.warn(format!(
                    "{name}'s fragment is removed but inventory.ini was not rebuilt: {e}"
                ));
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Asks on a terminal; refuses without `--yes` elsewhere.
fn confirm(name: &str, uri: &str) -> Result<(), Error> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(format!(
            "not on a terminal: pass --yes to destroy {name}"
        )));
    }
    eprint!("Destroy {name} at {uri}: domain, disks and inventory entry? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(Error::Failed("nothing destroyed".into()))
    }
}
