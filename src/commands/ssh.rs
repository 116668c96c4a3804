//! `vm ssh NAME [-- CMD…]`: ssh to a host with what the inventory gives Ansible for it — its
//! address, port, user, private key and SSH arguments (for a VM vm made, the pinned host key:
//! `UserKnownHostsFile=ansible/known_hosts`, `HostKeyAlias`, `StrictHostKeyChecking=yes`) — so
//! a login checks the host exactly as a playbook does. ssh replaces vm.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use super::Context;
use crate::cli::SshArgs;
use crate::error::Error;
use crate::inventory::model::Var;
use crate::inventory::pyliteral::Value;
use crate::inventory::{hostvars, merge, shlex};

/// The connections `vm ssh` can stand in for.
const SSH_CONNECTIONS: &[&str] = &["ssh", "smart", "paramiko", "paramiko_ssh"];

/// Runs `vm ssh`.
pub fn run(context: &Context, args: &SshArgs) -> Result<(), Error> {
    let command = ssh_command(context, args)?;
    let shown: Vec<String> = command.iter().map(|a| shlex::quote(a)).collect();
    context.settings.reporter.detail(shown.join(" "));
    let error = std::process::Command::new(&command[0])
        .args(&command[1..])
        .exec();
    Err(Error::Failed(format!(
        "cannot run {}: {error}; install openssh-client",
        command[0]
    )))
}

/// The ssh command line for `args.name`, from the fragments' inventory (what Ansible reads).
pub fn ssh_command(context: &Context, args: &SshArgs) -> Result<Vec<String>, Error> {
    let name = &args.name;
    context.require_fragment_dir()?;
    let project = &context.settings.project;
    let (_, inventory) = merge::read(&project.fragment_dir(), &project.merged_path())?;
    let host = inventory.host_id(name).ok_or_else(|| {
        Error::Failed(format!(
            "no host {name} in the inventory; `vm inventory list` lists them"
        ))
    })?;
    let vars = hostvars::effective(&inventory, host);
    let var = |keys: &[&str]| -> Result<Option<String>, Error> {
        let Some((key, var)) = keys.iter().find_map(|k| vars.get(*k).map(|v| (*k, v))) else {
            return Ok(None);
        };
        let text = text(var);
        if text.contains("{{") || text.contains("{%") {
            return Err(Error::Failed(format!(
                "{name}'s {key} is a template ({text}), which only Ansible can evaluate; \
                 ssh with what it evaluates to, or use ansible {name} -m ping"
            )));
        }
        Ok(Some(text))
    };
    if let Some(connection) = var(&["ansible_connection"])?
        && !SSH_CONNECTIONS.contains(&connection.as_str())
    {
        return Err(Error::Failed(format!(
            "Ansible reaches {name} with ansible_connection={connection}, not SSH; vm ssh cannot"
        )));
    }
    let mut command = vec![var(&["ansible_ssh_executable"])?.unwrap_or_else(|| "ssh".into())];
    let mut option = |value: String| {
        command.push("-o".into());
        command.push(value);
    };
    if let Some(port) = var(&["ansible_port", "ansible_ssh_port"])? {
        option(format!("Port={port}"));
    }
    if let Some(user) = var(&["ansible_user", "ansible_ssh_user"])? {
        option(format!("User={user}"));
    }
    let key = match var(&["ansible_private_key_file", "ansible_ssh_private_key_file"])? {
        Some(key) => Some(PathBuf::from(key)),
        None => configured_private_key(context),
    };
    if let Some(key) = key {
        option(format!("IdentityFile={}", key.display()));
    }
    for key in ["ansible_ssh_common_args", "ansible_ssh_extra_args"] {
        if let Some(text) = var(&[key])? {
            let words = shlex::split(&text).map_err(|e| {
                Error::Failed(format!("{name}'s {key} cannot be split into words: {e}"))
            })?;
            command.extend(words);
        }
    }
    let address = var(&["ansible_host", "ansible_ssh_host"])?.unwrap_or_else(|| name.clone());
    if address.starts_with('-') {
        return Err(Error::Failed(format!(
            "{name}'s ansible_host {address:?} starts with '-', which ssh would take for an option"
        )));
    }
    command.push(address);
    if !args.command.is_empty() {
        command.push("--".into());
        command.extend(args.command.iter().cloned());
    }
    Ok(command)
}

/// The private half of vm.toml's `ssh_key`, when it names one that exists: the key vm put into
/// its VMs (ssh would not try it unless it is one of the usual ones).
fn configured_private_key(context: &Context) -> Option<PathBuf> {
    let public = crate::settings::config_ssh_key(&context.settings.project)?;
    let private = public.with_extension("");
    (public.extension().is_some_and(|e| e == "pub") && private.is_file()).then_some(private)
}

/// A variable's value as ssh gets it: the string, or the literal's text.
fn text(var: &Var) -> String {
    match &var.value {
        Value::Str(s) => s.clone(),
        _ => var.src.clone(),
    }
}
