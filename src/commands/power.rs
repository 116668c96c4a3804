//! `vm start|stop|reboot NAME…`: the backend changes the VM's power state; after a start or a
//! reboot vm waits until SSH answers again and, when the guest came back with another address
//! (a new DHCP lease), puts the new one into its fragment, the merged inventory and DNS.

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use super::Context;
use crate::backend::{Backend, Power, Powered, Target};
use crate::cli::PowerArgs;
use crate::error::Error;
use crate::guest;
use crate::guest::wait::{poll, ssh_answers};
use crate::inventory::fragment::{self, Address, Marker};
use crate::inventory::model::Inventory;
use crate::inventory::pyliteral::Value;
use crate::output::{Progress, print_json};

/// How often SSH is tried while a rebooting guest goes down.
const DOWN_POLL: Duration = Duration::from_millis(250);

/// What `vm start|stop|reboot --json` prints, one row per VM.
#[derive(Debug, Clone, Serialize)]
pub struct PowerRow {
    /// The VM.
    pub name: String,
    /// `start`, `stop` or `reboot`.
    pub action: &'static str,
    /// `done`, or `already` (already running / already off).
    pub result: &'static str,
    /// The address SSH answered at, after a start or reboot that waited.
    pub address: Option<String>,
    /// The address the inventory had before, when the VM came back with another one.
    pub previous_address: Option<String>,
}

/// Runs `vm start`, `vm stop` or `vm reboot` (`action`, with `--force` folded in): every VM
/// is located before any is touched; each is attempted; the first failure decides the exit.
pub fn run(context: Context, args: &PowerArgs, action: Power) -> Result<(), Error> {
    if matches!(action, Power::Start) && args.force {
        return Err(Error::Usage(
            "--force means power off (stop) or reset (reboot); vm start has no such thing".into(),
        ));
    }
    let mut located = Vec::new();
    for name in &args.names {
        fragment::validate_name(name)?;
        located.push(super::locate(&context, name, args.connect.as_deref())?);
    }
    let mut first_error = None;
    for (name, target, marker) in located {
        match power_one(&context, &name, &target, marker.as_ref(), args, action) {
            Ok(row) if context.settings.json => print_json(&row)?,
            Ok(_) => {}
            Err(e) if first_error.is_none() => first_error = Some(e),
            Err(e) => eprintln!("error: {e}"),
        }
    }
    first_error.map_or(Ok(()), Err)
}

fn power_one(
    context: &Context,
    name: &str,
    target: &Target,
    marker: Option<&Marker>,
    args: &PowerArgs,
    action: Power,
) -> Result<PowerRow, Error> {
    let reporter = context.settings.reporter;
    let timeout = context.settings.wait_timeout(args.timeout);
    let backend = (context.open)(target, &context.settings)?;
    let path = context
        .settings
        .project
        .fragment_dir()
        .join(format!("{name}.ini"));
    let recorded = marker
        .and_then(|_| std::fs::read_to_string(&path).ok())
        .and_then(|text| recorded_host(&text));
    let mut progress = reporter.progress(name);
    // Before a graceful reboot: where SSH answers now, to see the guest go down.
    let answering = match (action, &recorded) {
        (Power::Reboot { force: false }, Some(address)) if !args.no_wait => {
            address_socket(name, address).ok()
        }
        _ => None,
    };
    progress.phase(match action {
        Power::Start => "starting",
        Power::Stop { force: false } => "shutting down",
        Power::Stop { force: true } => "powering off",
        Power::Reboot { force: false } => "rebooting",
        Power::Reboot { force: true } => "resetting",
    });
    let powered = backend.power(name, action, timeout)?;
    let mut row = PowerRow {
        name: name.to_string(),
        action: action.verb(),
        result: match powered {
            Powered::Done => "done",
            Powered::Already => "already",
        },
        address: None,
        previous_address: None,
    };
    let waits = matches!(action, Power::Start | Power::Reboot { .. })
        && powered == Powered::Done
        && !args.no_wait;
    if let (true, Some(recorded)) = (waits, &recorded) {
        if let Some(socket) = answering {
            progress.phase("waiting for the guest to go down");
            poll(timeout, DOWN_POLL, &mut progress, || {
                (!ssh_answers(socket)).then_some(())
            })
            .map_err(|waited| guest::GuestError::Timeout {
                name: name.to_string(),
                what: "the guest to go down for its reboot",
                waited,
                diagnosis: format!("; `vm reboot --force {name}` resets it at once"),
            })?;
        }
        let address = current_address(backend.as_ref(), name, recorded, timeout, &mut progress)?;
        let socket = address_socket(name, &address)?;
        guest::wait_for_ssh(name, socket, timeout, &mut progress, &String::new)?;
        progress.clear();
        row.address = Some(shown(&address));
        if address != *recorded {
            row.previous_address = Some(shown(recorded));
            move_address(context, name, &path, recorded, &address)?;
        }
    }
    progress.clear();
    reporter.info(match (action, powered) {
        (Power::Start, Powered::Already) => format!("{name} was already running"),
        (Power::Stop { .. }, Powered::Already) => format!("{name} was already off"),
        (Power::Start, _) => format!("started {name}"),
        (Power::Stop { .. }, _) => format!("stopped {name}"),
        (Power::Reboot { .. }, _) => format!("rebooted {name}"),
    });
    Ok(row)
}

/// The address SSH should answer at now: the one the backend discovers (polled until there is
/// one), or the recorded one when the backend's addresses are fixed.
fn current_address(
    backend: &dyn Backend,
    name: &str,
    recorded: &Address,
    timeout: Duration,
    progress: &mut dyn Progress,
) -> Result<Address, Error> {
    if !backend.discovers_address(recorded) {
        return Ok(recorded.clone());
    }
    let found = crate::pipeline::wait_for_address(backend, name, timeout, progress, &String::new)?;
    Ok(Address {
        port: recorded.port,
        ..found
    })
}

/// Puts `new` where the fragment had `old` (its `ansible_host`), merges, and moves the DNS
/// record, under the inventory lock.
fn move_address(
    context: &Context,
    name: &str,
    path: &std::path::Path,
    old: &Address,
    new: &Address,
) -> Result<(), Error> {
    let reporter = context.settings.reporter;
    let lock = context.lock()?;
    let previous = std::fs::read_to_string(path)
        .map_err(|e| Error::Failed(format!("cannot read {}: {e}", path.display())))?;
    let text = with_host(&previous, &old.host, &new.host).ok_or_else(|| {
        Error::Failed(format!(
            "{name} came back at {} but {} does not say ansible_host={} in a form vm rewrites; \
             put the new address there yourself, then `vm inventory merge`",
            new.host,
            path.display(),
            old.host
        ))
    })?;
    context.publish_fragment(path, &text, Some(&previous), None)?;
    reporter.info(format!(
        "{name} came back at {} (was {}): inventory updated",
        new.host, old.host
    ));
    let Ok(ip) = new.host.parse::<IpAddr>() else {
        return Ok(());
    };
    let marker = Marker::parse(&previous);
    if marker
        .and_then(|m| m.detail(crate::pipeline::DNS_DETAIL).map(str::to_string))
        .is_none()
    {
        return Ok(());
    }
    drop(lock);
    if let Some(dns) = context.dns()? {
        let old_ip = old.host.parse().ok();
        dns.delete(name, old_ip)
            .and_then(|()| dns.replace(name, ip))
            .map_err(|e| {
                Error::Failed(format!(
                    "{e}; the inventory has {name}'s new address {ip} but its DNS record does not: \
                     update it with\n{}",
                    dns.nsupdate_lines(name)
                ))
            })?;
        reporter.detail(format!("{name}'s DNS record now points at {ip}"));
    }
    Ok(())
}

/// The fragment's text with its host's `ansible_host` changed from `old` to `new`, checked by
/// parsing it again; `None` when the text does not hold `ansible_host=OLD` exactly once as
/// vm writes it. Addresses are IP literals: nothing to quote.
fn with_host(text: &str, old: &str, new: &str) -> Option<String> {
    let token = format!("ansible_host={old}");
    let is_token = |at: usize| {
        let before = text[..at].chars().next_back();
        let after = text[at + token.len()..].chars().next();
        before.is_some_and(char::is_whitespace) && after.is_none_or(char::is_whitespace)
    };
    let places: Vec<usize> = text
        .match_indices(&token)
        .map(|(at, _)| at)
        .filter(|&at| is_token(at))
        .collect();
    let [at] = places[..] else {
        return None;
    };
    let changed = format!(
        "{}ansible_host={new}{}",
        &text[..at],
        &text[at + token.len()..]
    );
    let host = |text: &str| {
        let mut inventory = Inventory::new();
        crate::inventory::ini::parse_source(&mut inventory, 0, text).ok()?;
        let host = inventory.hosts.first()?;
        match &host.vars.get("ansible_host")?.value {
            Value::Str(s) => Some((s.clone(), host.vars.iter().count())),
            _ => None,
        }
    };
    let (before, after) = (host(text)?, host(&changed)?);
    (before.0 == old && after.0 == new && before.1 == after.1).then_some(changed)
}

/// The fragment's `ansible_host` and `ansible_port`.
fn recorded_host(text: &str) -> Option<Address> {
    let own = crate::apply::plan::fragment_host(text);
    Some(Address {
        host: own.host?,
        port: own.port,
    })
}

fn address_socket(name: &str, address: &Address) -> Result<std::net::SocketAddr, Error> {
    Ok(guest::socket_address(name, &address.host, address.port)?)
}

fn shown(address: &Address) -> String {
    match address.port {
        Some(port) => format!("{}:{port}", address.host),
        None => address.host.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_address_is_rewritten_in_place_and_nothing_else() {
        let text = "# vm-managed: backend=libvirt connection=qemu:///system\n\
                    [web]\nweb-vm ansible_host=192.168.122.10 ansible_user=debian x=ansible_host=192.168.122.10\n";
        let changed = with_host(text, "192.168.122.10", "192.168.122.11").unwrap();
        assert_eq!(
            changed,
            text.replacen(
                "ansible_host=192.168.122.10 ansible_user",
                "ansible_host=192.168.122.11 ansible_user",
                1
            )
        );
        // A prefix of another address is not the address.
        assert_eq!(with_host(text, "192.168.122.1", "10.0.0.1"), None);
        // Not written the way vm writes it: left to the user.
        assert_eq!(
            with_host("h ansible_host='10.0.0.1'\n", "10.0.0.1", "10.0.0.2"),
            None
        );
    }

    #[test]
    fn recorded_addresses_keep_their_port() {
        let address = recorded_host("h ansible_host=127.0.0.1 ansible_port=2222\n").unwrap();
        assert_eq!(address.host, "127.0.0.1");
        assert_eq!(address.port, Some(2222));
        assert_eq!(recorded_host("h\n"), None);
    }
}
