//! What a libvirt connection URI says about where the hypervisor is and how it is reached,
//! read without libvirt (the light `vm` program plans with it): `driver[+transport]://[user@]
//! [host][:port]/path[?params]`, as <https://libvirt.org/uri.html> describes it.

/// The parts of a URI that decide where its hypervisor runs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parts<'a> {
    /// `ssh`, `tcp`, `tls`, `unix`, `ext`, `libssh`, `libssh2`, or `None` (no `+transport`).
    transport: Option<&'a str>,
    /// The host, without user and port; empty when the URI names none.
    host: &'a str,
    /// The query, without `?`.
    query: &'a str,
}

fn parts(uri: &str) -> Option<Parts<'_>> {
    let (scheme, rest) = uri.split_once("://")?;
    let transport = scheme.split_once('+').map(|(_, t)| t);
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = before_query.split('/').next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        // An IPv6 literal: `[::1]:22`.
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    };
    Some(Parts {
        transport,
        host,
        query,
    })
}

/// Whether `uri` names the hypervisor of this machine: no host part and a local transport
/// (`qemu:///system`, `qemu:///session`, `qemu+unix:///system?socket=…`, `test:///default`).
///
/// Everything else counts as remote, even a host part that names this machine
/// (`qemu+ssh://root@127.0.0.1/system`), `qemu+ssh:///system` (ssh to localhost) and
/// `qemu+ext:///…` (a program that may go anywhere), and so do names without `://` (aliases
/// from libvirt's own configuration, which `vm` cannot read): taking a remote host for this one
/// would write addresses and delete files that are not here, while taking this machine for a
/// remote one only refuses `--network user` and leaves logs for libvirt's own rotation.
pub fn is_local(uri: &str) -> bool {
    parts(uri).is_some_and(|p| p.host.is_empty() && matches!(p.transport, None | Some("unix")))
}

/// Refuses the URI parameters that turn SSH host key verification off (`no_verify=1` adds
/// `-o StrictHostKeyChecking=no` to the `ssh` command line; `known_hosts_verify=ignore` skips
/// the check of the `libssh`/`libssh2` transports): `vm` never talks to a host it has not
/// verified.
pub fn refuse_unverified(uri: &str) -> Result<(), String> {
    let Some(parts) = parts(uri) else {
        return Ok(());
    };
    for param in parts.query.split('&') {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        let off = match key {
            "no_verify" => value.parse::<i64>().map_or(!value.is_empty(), |v| v != 0),
            "known_hosts_verify" => value.eq_ignore_ascii_case("ignore"),
            _ => false,
        };
        if off {
            return Err(format!(
                "the libvirt URI {uri} turns SSH host key verification off ({param}); vm only \
                 talks to hosts it can verify: remove {key}, and put the host's key in \
                 known_hosts (README: Remote libvirt hosts)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_uris_without_a_host_over_a_local_transport_are_local() {
        for local in [
            "qemu:///system",
            "qemu:///session",
            "test:///default",
            "qemu+unix:///system",
            "qemu+unix:///system?socket=/run/libvirt/libvirt-sock",
        ] {
            assert!(is_local(local), "{local} should be local");
        }
        for remote in [
            "qemu+ssh://host/system",
            "qemu+ssh://root@127.0.0.1:2222/system?keyfile=/k&command=/usr/bin/ssh",
            "qemu+ssh://[::1]:22/system",
            "qemu+ssh:///system",
            "qemu+libssh2://user@host/system?known_hosts=/k",
            "qemu+libssh://host/system",
            "qemu+tcp://host/system",
            "qemu+tls://host.example:16514/system",
            "qemu://host/system",
            "qemu+ext:///system?command=/opt/connect",
            "qemu+unix://host/system",
            "myalias",
        ] {
            assert!(!is_local(remote), "{remote} should be remote");
        }
    }

    #[test]
    fn uris_that_turn_host_key_checks_off_are_refused() {
        for bad in [
            "qemu+ssh://h/system?no_verify=1",
            "qemu+ssh://h/system?keyfile=/k&no_verify=1",
            "qemu+libssh2://h/system?known_hosts_verify=ignore",
            "qemu+libssh://h/system?known_hosts_verify=IGNORE",
        ] {
            let message = refuse_unverified(bad).unwrap_err();
            assert!(message.contains("verification off"), "{message}");
        }
        for good in [
            "qemu:///system",
            "qemu+ssh://h/system?no_verify=0",
            "qemu+ssh://h/system?command=/usr/local/bin/ssh-vm&no_tty=1",
            "qemu+libssh2://h/system?known_hosts=/k&known_hosts_verify=normal",
        ] {
            assert_eq!(refuse_unverified(good), Ok(()), "{good}");
        }
    }
}
