//! `vm::dns::Dns` on a real server: signed updates and queries over TCP (`wire.rs`), the key
//! read from a file nobody else may read, timeouts and SERVFAIL retried, every other answer
//! turned into a message that says what to do.

mod wire;

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::time::{Duration, Instant};

use hickory_proto::op::UpdateMessage;
use hickory_proto::rr::rdata::PTR;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use vm::dns::{Dns, DnsError, DnsSettings};

use wire::{SignOpts, TsigKey, WireError};

/// Tries of an exchange that timed out or met SERVFAIL.
const TRIES: u32 = 3;

/// The zone's primary server, with the key.
pub struct Server {
    settings: DnsSettings,
    address: SocketAddr,
    key: TsigKey,
}

/// Opens the server of `[dns]`: reads and checks the key file; resolves the server's address.
pub fn open(settings: &DnsSettings) -> Result<Box<dyn Dns>, DnsError> {
    let key = read_key(&settings.key_file)?;
    // `host:port` and `[v6]:port` name their port; `host`, `v6` and `[v6]` get 53.
    let server = &settings.server;
    let has_port = if server.starts_with('[') {
        server.contains("]:")
    } else {
        server.matches(':').count() == 1
    };
    let with_port = match (has_port, server.parse::<std::net::Ipv6Addr>()) {
        (true, _) => server.clone(),
        (false, Ok(v6)) => format!("[{v6}]:53"),
        (false, Err(_)) => format!("{server}:53"),
    };
    let address = with_port
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            DnsError::Other(format!(
                "cannot resolve the DNS server {:?} ([dns] server in vm.toml)",
                settings.server
            ))
        })?;
    Ok(Box::new(Server {
        settings: settings.clone(),
        address,
        key,
    }))
}

/// Reads a `tsig-keygen` key file, refusing one others can read.
fn read_key(path: &Path) -> Result<TsigKey, DnsError> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display();
    let mode = std::fs::metadata(path)
        .map_err(|e| {
            DnsError::Key(format!(
                "cannot read the TSIG key file {shown}: {e} ([dns] key_file)"
            ))
        })?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(DnsError::Key(format!(
            "the TSIG key file {shown} is readable by others (mode {:o}); `chmod 600 {shown}`",
            mode & 0o777
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| DnsError::Key(format!("cannot read the TSIG key file {shown}: {e}")))?;
    wire::parse_key_file(&text).map_err(|e| {
        DnsError::Key(format!(
            "{shown} is not a key `tsig-keygen` writes ({e}): expected key \"NAME\" {{ algorithm hmac-sha256; secret \"…\"; }};"
        ))
    })
}

impl Server {
    fn fqdn(&self, name: &str) -> String {
        self.settings.fqdn(name)
    }

    /// Sends `message` signed, retrying timeouts and SERVFAIL; maps the answer for `record`.
    fn send(
        &self,
        record: &str,
        build: impl Fn() -> Result<hickory_proto::op::Message, WireError>,
    ) -> Result<(), DnsError> {
        let start = Instant::now();
        let mut tries = 0;
        loop {
            tries += 1;
            let message = build().map_err(|e| self.error(record, e, tries, start))?;
            match wire::send_signed(
                self.address,
                message,
                &self.key,
                &SignOpts::default(),
                self.settings.timeout,
            ) {
                Ok(_) => return Ok(()),
                Err(WireError::Timeout(_) | WireError::ServFail) if tries < TRIES => {
                    std::thread::sleep(Duration::from_millis(300 * u64::from(tries)));
                }
                Err(e) => return Err(self.error(record, e, tries, start)),
            }
        }
    }

    fn error(&self, record: &str, error: WireError, tries: u32, start: Instant) -> DnsError {
        let server = self.settings.server.clone();
        let key = self.key.name.clone();
        let key_file = self.settings.key_file.display().to_string();
        match error {
            WireError::BadSig => DnsError::BadSig {
                server,
                record: record.into(),
                key_file,
                key,
            },
            WireError::BadKey => DnsError::BadKey {
                server,
                record: record.into(),
                key_file,
                key,
            },
            WireError::BadTime {
                client_time,
                server_time,
            } => DnsError::BadTime {
                server,
                record: record.into(),
                skew: server_time.map_or(String::new(), |s| {
                    format!(" by {} s", client_time as i64 - s as i64)
                }),
            },
            WireError::ResponseTimeOutsideFudge {
                our_time,
                server_time,
            } => DnsError::BadTime {
                server,
                record: record.into(),
                skew: format!(" by {} s", our_time as i64 - server_time as i64),
            },
            WireError::Refused => DnsError::Refused {
                server,
                record: record.into(),
                key,
            },
            WireError::NotAuth | WireError::NotZone => DnsError::NotAuth {
                server,
                zone: self.settings.zone.clone(),
            },
            WireError::ServFail => DnsError::ServFail {
                server,
                record: record.into(),
                tries,
            },
            WireError::Timeout(_) | WireError::ConnectionRefused(_) => DnsError::Timeout {
                what: match error {
                    WireError::ConnectionRefused(_) => format!("{record}: connection refused"),
                    _ => record.to_string(),
                },
                server,
                waited: start.elapsed().max(self.settings.timeout),
            },
            other => DnsError::Other(format!(
                "DNS update of {record} at {server} failed: {other}"
            )),
        }
    }

    /// The reverse zone's name for `ip` and the PTR owner name: the zone is the owner's parent
    /// (a /24 for IPv4, a /64 for IPv6).
    fn reverse(&self, ip: IpAddr) -> Result<(Name, Name), WireError> {
        let owner: Name = ip.into();
        let labels = match ip {
            IpAddr::V4(_) => 1,
            IpAddr::V6(_) => 16,
        };
        let mut zone = owner.clone();
        for _ in 0..labels {
            zone = zone.base_name();
        }
        Ok((zone, owner))
    }

    fn update_ptr(&self, ip: IpAddr, target: Option<&str>) -> Result<(), DnsError> {
        let record = format!("the PTR record of {ip}");
        self.send(&record, || {
            let (zone, owner) = self.reverse(ip)?;
            let mut message = wire::new_update(&zone);
            message.add_update(wire::delete_rrset(&owner, RecordType::PTR));
            if let Some(target) = target {
                message.add_update(Record::from_rdata(
                    owner.clone(),
                    self.settings.ttl,
                    RData::PTR(PTR(wire::fqdn(target)?)),
                ));
            }
            Ok(message)
        })
    }
}

impl Dns for Server {
    fn preflight(&self) -> Result<(), DnsError> {
        let zone = self.settings.zone.clone();
        // A signed query of the zone's SOA: the key and the zone are checked, nothing changes.
        self.send(&format!("the zone {zone}"), || {
            let zone = wire::fqdn(&zone)?;
            let mut message = hickory_proto::op::Message::new(
                wire_id(),
                hickory_proto::op::MessageType::Query,
                hickory_proto::op::OpCode::Query,
            );
            message.metadata.recursion_desired = false;
            message.add_query(hickory_proto::op::Query::query(zone, RecordType::SOA));
            Ok(message)
        })
        .map_err(|e| match e {
            // A server that does not serve the zone refuses to answer for it.
            DnsError::Refused { server, .. } => DnsError::NotAuth {
                server,
                zone: self.settings.zone.clone(),
            },
            other => other,
        })
    }

    fn replace(&self, name: &str, ip: IpAddr) -> Result<(), DnsError> {
        let fqdn = self.fqdn(name);
        self.send(&fqdn, || {
            let zone = wire::fqdn(&self.settings.zone)?;
            let owner = wire::fqdn(&fqdn)?;
            let mut message = wire::new_update(&zone);
            message.add_update(wire::delete_rrset(&owner, RecordType::A));
            message.add_update(wire::delete_rrset(&owner, RecordType::AAAA));
            message.add_update(wire::ip_record(&owner, ip, self.settings.ttl));
            Ok(message)
        })?;
        if self.settings.reverse {
            self.update_ptr(ip, Some(&fqdn))?;
        }
        Ok(())
    }

    fn delete(&self, name: &str, ip: Option<IpAddr>) -> Result<(), DnsError> {
        let fqdn = self.fqdn(name);
        // The PTR records to delete: of the address given, else of what the name points at now.
        let reverse: Vec<IpAddr> = match (self.settings.reverse, ip) {
            (false, _) => Vec::new(),
            (true, Some(ip)) => vec![ip],
            (true, None) => self.lookup(name)?,
        };
        self.send(&fqdn, || {
            let zone = wire::fqdn(&self.settings.zone)?;
            let owner = wire::fqdn(&fqdn)?;
            let mut message = wire::new_update(&zone);
            message.add_update(wire::delete_rrset(&owner, RecordType::A));
            message.add_update(wire::delete_rrset(&owner, RecordType::AAAA));
            Ok(message)
        })?;
        for ip in reverse {
            self.update_ptr(ip, None)?;
        }
        Ok(())
    }

    fn lookup(&self, name: &str) -> Result<Vec<IpAddr>, DnsError> {
        let fqdn = self.fqdn(name);
        let mut found = Vec::new();
        for kind in [RecordType::A, RecordType::AAAA] {
            let answers = wire::query(self.address, &fqdn, kind, self.settings.timeout)
                .map_err(|e| self.error(&fqdn, e, 1, Instant::now()))?;
            found.extend(answers.into_iter().filter_map(|data| match data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            }));
        }
        Ok(found)
    }

    fn nsupdate_lines(&self, name: &str) -> String {
        let (host, port) = match self.settings.server.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => (host.to_string(), port.to_string()),
            _ => (self.settings.server.clone(), "53".to_string()),
        };
        let fqdn = self.fqdn(name);
        format!(
            "server {host} {port}\nzone {}\nupdate delete {fqdn} A\nupdate delete {fqdn} AAAA\nsend",
            self.settings.zone
        )
    }
}

/// A message id for a query.
fn wire_id() -> u16 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now()) as u16
}
