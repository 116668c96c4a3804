//! DNS names for VMs: `<name>.<zone>` kept pointing at each VM's address by RFC 2136 updates
//! signed with TSIG. The seam lives here; the wire protocol (hickory-proto) lives in
//! `crates/vm-backends/src/dns/`, so the light `vm` never links it, and reaches the commands
//! as a [`DnsOpener`].

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// `[dns]` of vm.toml. The key's secret is never here: `key_file` names a file nobody else may
/// read.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    /// The primary server, `host:port` (port 53 when omitted).
    pub server: String,
    /// The zone records go to: `<vm name>.<zone>`.
    pub zone: String,
    /// `tsig-keygen` output: `key "name" { algorithm hmac-sha256; secret "…"; };`.
    pub key_file: PathBuf,
    /// Time to live of the records, seconds (default 300).
    pub ttl: Option<u32>,
    /// Also a PTR record in the matching reverse zone.
    #[serde(default)]
    pub reverse: bool,
    /// What `ansible_host` is: the VM's `address` (default) or its DNS `name`.
    pub ansible_host: Option<AnsibleHost>,
    /// Seconds to wait for the server's answer (default 5).
    pub timeout: Option<u64>,
}

/// What the fragment's `ansible_host` holds when DNS is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnsibleHost {
    /// The address (the default): Ansible does not depend on DNS.
    Address,
    /// The DNS name.
    Name,
}

/// `[dns]`, checked.
#[derive(Debug, Clone)]
pub struct DnsSettings {
    /// Server address and port.
    pub server: String,
    /// Zone, without the trailing dot, lower case.
    pub zone: String,
    /// The key file.
    pub key_file: PathBuf,
    /// TTL.
    pub ttl: u32,
    /// PTR records too.
    pub reverse: bool,
    /// What `ansible_host` holds.
    pub ansible_host: AnsibleHost,
    /// Bound of one exchange with the server.
    pub timeout: Duration,
}

impl DnsSettings {
    /// Checks `[dns]`: a zone that is a DNS name, a server `host[:port]`; relative key files are
    /// relative to the project.
    pub fn from_config(config: &DnsConfig, root: &std::path::Path) -> Result<DnsSettings, String> {
        let zone = config.zone.trim_end_matches('.').to_ascii_lowercase();
        if !is_dns_name(&zone) {
            return Err(format!(
                "zone {:?} is not a DNS name (labels of letters, digits and '-', dot-separated)",
                config.zone
            ));
        }
        if config.server.trim().is_empty() || config.server.contains(char::is_whitespace) {
            return Err(format!(
                "server {:?} must be HOST or HOST:PORT, e.g. 192.168.1.13:53",
                config.server
            ));
        }
        let ttl = config.ttl.unwrap_or(300);
        if ttl == 0 || ttl > 604_800 {
            return Err(format!("ttl {ttl} must be 1 to 604800 seconds"));
        }
        Ok(DnsSettings {
            server: config.server.clone(),
            zone,
            key_file: root.join(&config.key_file),
            ttl,
            reverse: config.reverse,
            ansible_host: config.ansible_host.unwrap_or(AnsibleHost::Address),
            timeout: Duration::from_secs(config.timeout.unwrap_or(5).clamp(1, 120)),
        })
    }

    /// `<name>.<zone>`.
    pub fn fqdn(&self, name: &str) -> String {
        format!("{}.{}", name.to_ascii_lowercase(), self.zone)
    }
}

/// Whether `text` is a DNS name of labels of letters, digits and '-' (not at either end).
pub fn is_dns_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// What went wrong with a DNS update or query; every message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// The key file.
    #[error("{0}")]
    Key(String),
    /// The server's TSIG check failed: the secret is wrong.
    #[error(
        "{server} refused the update of {record}: BADSIG, the TSIG signature is wrong — the secret in {key_file} is not the one the server has for key {key}"
    )]
    BadSig {
        /// Server.
        server: String,
        /// Record.
        record: String,
        /// Key file.
        key_file: String,
        /// Key name.
        key: String,
    },
    /// The server does not know the key (name or algorithm).
    #[error(
        "{server} refused the update of {record}: BADKEY, it has no key {key} with that algorithm — check the key's name and algorithm in {key_file} against the server's configuration"
    )]
    BadKey {
        /// Server.
        server: String,
        /// Record.
        record: String,
        /// Key file.
        key_file: String,
        /// Key name.
        key: String,
    },
    /// The clocks of this machine and the server differ too much.
    #[error(
        "{server} refused the update of {record}: BADTIME, the clocks differ{skew}; set this machine's clock (and the server's) right, e.g. with NTP"
    )]
    BadTime {
        /// Server.
        server: String,
        /// Record.
        record: String,
        /// ", by N s" when the server said its time.
        skew: String,
    },
    /// The zone's update policy does not allow this.
    #[error(
        "{server} refused the update of {record} (REFUSED): the zone's update-policy does not grant key {key} this name or type; allow it, e.g. `update-policy {{ grant {key} zonesub A AAAA PTR; }};`"
    )]
    Refused {
        /// Server.
        server: String,
        /// Record.
        record: String,
        /// Key name.
        key: String,
    },
    /// The server is not authoritative for the zone.
    #[error(
        "{server} is not authoritative for {zone} (NOTAUTH): point [dns] server at the zone's primary, or fix zone"
    )]
    NotAuth {
        /// Server.
        server: String,
        /// Zone.
        zone: String,
    },
    /// The server failed (after retries).
    #[error(
        "{server} failed to update {record} (SERVFAIL, tried {tries} times); see the server's log"
    )]
    ServFail {
        /// Server.
        server: String,
        /// Record.
        record: String,
        /// Tries.
        tries: u32,
    },
    /// No answer in time (after retries).
    #[error(
        "no answer from {server} within {} ({what}); check that it runs and that [dns] server is right",
        crate::output::human(*waited)
    )]
    Timeout {
        /// Server.
        server: String,
        /// What was not answered.
        what: String,
        /// How long.
        waited: Duration,
    },
    /// Anything else the server or the network said.
    #[error("{0}")]
    Other(String),
}

/// A DNS server that holds the project's zone.
pub trait Dns {
    /// Before anything is made: the server answers a query signed with the key, for the zone
    /// (so a wrong secret, an unknown key, a server that is down or does not serve the zone
    /// are found with nothing to undo).
    fn preflight(&self) -> Result<(), DnsError>;

    /// Replaces the A and AAAA sets of `name` with `ip` in one signed update (atomic on the
    /// server), and its PTR record when `reverse` is set.
    fn replace(&self, name: &str, ip: IpAddr) -> Result<(), DnsError>;

    /// Deletes the A and AAAA sets of `name` (and the PTR record of `ip`, when given and
    /// `reverse` is set).
    fn delete(&self, name: &str, ip: Option<IpAddr>) -> Result<(), DnsError>;

    /// The A and AAAA records of `name`, asked of the server itself.
    fn lookup(&self, name: &str) -> Result<Vec<IpAddr>, DnsError>;

    /// The `nsupdate` lines that delete `name`'s records by hand.
    fn nsupdate_lines(&self, name: &str) -> String;
}

/// Opens the DNS of the settings (`vm-backends` provides it; the light `vm` has none).
pub type DnsOpener = fn(&DnsSettings) -> Result<Box<dyn Dns>, DnsError>;

/// The opener of a program without DNS code.
pub fn no_dns(_: &DnsSettings) -> Result<Box<dyn Dns>, DnsError> {
    Err(DnsError::Other(
        "internal error: DNS needs vm-backends; run the command through vm".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_are_checked() {
        for good in ["home.lab", "a", "x-1.example.org"] {
            assert!(is_dns_name(good), "{good}");
        }
        for bad in ["", "a..b", "-a.lab", "a_b.lab", "a b", &"a".repeat(64)] {
            assert!(!is_dns_name(bad), "{bad}");
        }
    }
}
