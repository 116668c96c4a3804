//! `vm console NAME`: the VM's serial console, through the program its backend names
//! (`virsh console` on libvirt), which replaces vm so that the terminal is its.

use std::os::unix::process::CommandExt;

use super::Context;
use crate::error::Error;
use crate::inventory::fragment;

/// Runs `vm console`.
pub fn run(context: &Context, name: &str, connect: Option<&str>) -> Result<(), Error> {
    fragment::validate_name(name)?;
    let (name, target, _) = super::locate(context, name, connect)?;
    let backend = (context.open)(&target, &context.settings)?;
    let command = backend.console(&name)?;
    let Some((program, args)) = command.split_first() else {
        return Err(Error::Failed(format!("{target} names no console program")));
    };
    context
        .settings
        .reporter
        .info(format!("{name}'s serial console (Ctrl+] leaves)"));
    let error = std::process::Command::new(program).args(args).exec();
    Err(Error::Failed(format!("cannot run {program}: {error}")))
}
