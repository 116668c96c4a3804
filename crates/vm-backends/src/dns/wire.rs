//! The wire side of DNS: RFC 2136 updates signed with TSIG (RFC 8945) over TCP, and plain
//! queries, with `hickory-proto` (no async runtime) and `std::net`. The answer's TSIG is
//! verified; an unsigned answer to a signed request is never taken for success.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode, UpdateMessage};
use hickory_proto::rr::rdata::tsig::{TsigAlgorithm, TsigError};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType, TSigner};

/// Fudge we put in our TSIG records (BIND ignores it and uses its own 300 s window).
pub const FUDGE: u16 = 300;

// ---------------------------------------------------------------- errors

#[derive(Debug)]
pub enum WireError {
    // --- transport
    ConnectionRefused(SocketAddr),
    Timeout(SocketAddr),
    Io(io::Error),
    // --- DNS rcodes (RFC 1035 / 2136)
    FormErr,
    ServFail,
    NxDomain,
    NotImp,
    Refused,
    YxDomain,
    YxRrset,
    NxRrset,
    /// Server is not authoritative for the zone, or (with a TSIG error) the signature was rejected.
    NotAuth,
    NotZone,
    OtherRcode(u16),
    // --- TSIG errors (RFC 8945), reported in the TSIG RR's error field with rcode NOTAUTH
    BadSig,
    BadKey,
    /// `server_time` comes from the TSIG "other data" (48-bit), `client_time` is what we signed with.
    BadTime {
        client_time: u64,
        server_time: Option<u64>,
    },
    TsigOther(u16),
    // --- client-side verification of the response
    /// Signed request got an unsigned NOERROR answer: MUST NOT be accepted.
    UnsignedResponse,
    ResponseSignatureInvalid(String),
    /// Response TSIG valid, but its time is outside the fudge window of *our* clock.
    ResponseTimeOutsideFudge {
        our_time: u64,
        server_time: u64,
    },
    // --- misc
    Protocol(String),
    KeyFile(String),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use WireError::*;
        match self {
            ConnectionRefused(a) => write!(f, "connection refused by {a}"),
            Timeout(a) => write!(f, "timeout talking to {a}"),
            Io(e) => write!(f, "I/O error: {e}"),
            FormErr => f.write_str("server says FORMERR (malformed request)"),
            ServFail => f.write_str("server says SERVFAIL"),
            NxDomain => f.write_str("server says NXDOMAIN"),
            NotImp => f.write_str("server says NOTIMP"),
            Refused => f.write_str("server says REFUSED (not allowed by policy)"),
            YxDomain => f.write_str("server says YXDOMAIN"),
            YxRrset => f.write_str("server says YXRRSET"),
            NxRrset => f.write_str("server says NXRRSET"),
            NotAuth => f.write_str("server says NOTAUTH (not authoritative for zone)"),
            NotZone => f.write_str("server says NOTZONE (name not in zone)"),
            OtherRcode(c) => write!(f, "server returned rcode {c}"),
            BadSig => f.write_str(
                "TSIG BADSIG: server could not verify our signature (wrong secret/algorithm?)",
            ),
            BadKey => f.write_str("TSIG BADKEY: server does not know this key name/algorithm"),
            BadTime {
                client_time,
                server_time: Some(s),
            } => write!(
                f,
                "TSIG BADTIME: clock skew, we signed with {client_time}, server time {s} (skew {} s)",
                *client_time as i64 - *s as i64
            ),
            BadTime {
                client_time,
                server_time: None,
            } => {
                write!(f, "TSIG BADTIME: clock skew, we signed with {client_time}")
            }
            TsigOther(c) => write!(f, "TSIG error {c}"),
            UnsignedResponse => f.write_str("response to signed request is not signed"),
            ResponseSignatureInvalid(e) => write!(f, "response TSIG invalid: {e}"),
            ResponseTimeOutsideFudge {
                our_time,
                server_time,
            } => write!(
                f,
                "response TSIG time {server_time} outside fudge of our time {our_time}"
            ),
            Protocol(e) => write!(f, "protocol error: {e}"),
            KeyFile(e) => write!(f, "key file: {e}"),
        }
    }
}

impl std::error::Error for WireError {}

fn rcode_result(rc: ResponseCode) -> Result<(), WireError> {
    use WireError::*;
    Err(match rc {
        ResponseCode::NoError => return Ok(()),
        ResponseCode::FormErr => FormErr,
        ResponseCode::ServFail => ServFail,
        ResponseCode::NXDomain => NxDomain,
        ResponseCode::NotImp => NotImp,
        ResponseCode::Refused => Refused,
        ResponseCode::YXDomain => YxDomain,
        ResponseCode::YXRRSet => YxRrset,
        ResponseCode::NXRRSet => NxRrset,
        ResponseCode::NotAuth => NotAuth,
        ResponseCode::NotZone => NotZone,
        // 16..18 can only appear as rcode via EDNS extended rcode; normally they are in TSIG
        ResponseCode::BADSIG => BadSig,
        ResponseCode::BADKEY => BadKey,
        ResponseCode::BADTIME => BadTime {
            client_time: 0,
            server_time: None,
        },
        other => OtherRcode(u16::from(other)),
    })
}

fn proto<E: fmt::Display>(e: E) -> WireError {
    WireError::Protocol(e.to_string())
}

// ---------------------------------------------------------------- key file

#[derive(Clone)]
pub struct TsigKey {
    pub name: String,
    pub algorithm: TsigAlgorithm,
    pub secret: Vec<u8>,
}

impl fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secret.
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl TsigKey {
    pub fn signer(&self) -> Result<TSigner, WireError> {
        // Name::from_ascii("vm-key") is NOT fqdn; TSigner::new() calls set_fqdn(true),
        // so "vm-key" and "vm-key." end up identical on the wire (and comparisons work).
        let name = Name::from_ascii(&self.name).map_err(proto)?;
        TSigner::new(self.secret.clone(), self.algorithm.clone(), name, FUDGE).map_err(proto)
    }
}

fn algorithm_from_str(s: &str) -> Result<TsigAlgorithm, WireError> {
    // hickory's TsigAlgorithm::from_name is case-sensitive; normalise ourselves.
    match s.trim_end_matches('.').to_ascii_lowercase().as_str() {
        "hmac-sha256" => Ok(TsigAlgorithm::HmacSha256),
        "hmac-sha384" => Ok(TsigAlgorithm::HmacSha384),
        "hmac-sha512" => Ok(TsigAlgorithm::HmacSha512),
        other => Err(WireError::KeyFile(format!(
            "unsupported TSIG algorithm {other:?} (hickory supports hmac-sha256/384/512)"
        ))),
    }
}

/// Parses the first `key "name" { algorithm ...; secret "..."; };` clause of
/// tsig-keygen / ddns-confgen output (comments `#`, `//`, `/* */` allowed).
pub fn parse_key_file(text: &str) -> Result<TsigKey, WireError> {
    let toks = tokenize(text)?;
    let mut i = 0;
    while i < toks.len() && toks[i] != "key" {
        i += 1;
    }
    let err = |m: &str| WireError::KeyFile(m.to_string());
    let name = toks
        .get(i + 1)
        .ok_or_else(|| err("no `key \"name\"` clause"))?
        .clone();
    if toks.get(i + 2).map(String::as_str) != Some("{") {
        return Err(err("expected `{` after key name"));
    }
    i += 3;
    let (mut alg, mut secret) = (None, None);
    while i < toks.len() && toks[i] != "}" {
        let stmt: Vec<&String> = toks[i..].iter().take_while(|t| *t != ";").collect();
        i += stmt.len() + 1;
        match stmt.as_slice() {
            [k, v] if k.as_str() == "algorithm" => alg = Some(algorithm_from_str(v)?),
            [k, v] if k.as_str() == "secret" => {
                secret = Some(
                    data_encoding::BASE64
                        .decode(v.as_bytes())
                        .map_err(|e| WireError::KeyFile(format!("secret is not base64: {e}")))?,
                )
            }
            _ => {}
        }
    }
    Ok(TsigKey {
        name: name.trim_end_matches('.').to_string(),
        algorithm: alg.ok_or_else(|| err("missing algorithm"))?,
        secret: secret.ok_or_else(|| err("missing secret"))?,
    })
}

fn tokenize(text: &str) -> Result<Vec<String>, WireError> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'#' || (c == b'/' && b.get(i + 1) == Some(&b'/')) {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i = text[i + 2..]
                .find("*/")
                .map(|p| i + 2 + p + 2)
                .unwrap_or(b.len());
        } else if c == b'"' {
            let end = text[i + 1..]
                .find('"')
                .ok_or_else(|| WireError::KeyFile("unterminated string".into()))?;
            out.push(text[i + 1..i + 1 + end].to_string());
            i += end + 2;
        } else if matches!(c, b'{' | b'}' | b';') {
            out.push((c as char).to_string());
            i += 1;
        } else {
            let s = i;
            while i < b.len()
                && !b[i].is_ascii_whitespace()
                && !matches!(b[i], b'{' | b'}' | b';' | b'"')
            {
                i += 1;
            }
            out.push(text[s..i].to_string());
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- transport

pub(super) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn io_err(server: SocketAddr, e: io::Error) -> WireError {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => WireError::ConnectionRefused(server),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => WireError::Timeout(server),
        _ => WireError::Io(e),
    }
}

/// One request/response exchange over TCP (RFC 1035 4.2.2 / RFC 7766: 2-byte big-endian length prefix).
fn tcp_exchange(
    server: SocketAddr,
    request: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, WireError> {
    let len = u16::try_from(request.len()).map_err(|_| proto("request > 65535 bytes"))?;
    let mut s = TcpStream::connect_timeout(&server, timeout).map_err(|e| io_err(server, e))?;
    s.set_read_timeout(Some(timeout)).map_err(WireError::Io)?;
    s.set_write_timeout(Some(timeout)).map_err(WireError::Io)?;
    s.set_nodelay(true).ok();
    // one write_all of prefix+message (avoids a 2-byte segment)
    let mut buf = Vec::with_capacity(request.len() + 2);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(request);
    s.write_all(&buf).map_err(|e| io_err(server, e))?;
    let mut lenb = [0u8; 2];
    s.read_exact(&mut lenb).map_err(|e| io_err(server, e))?;
    let mut resp = vec![0u8; u16::from_be_bytes(lenb) as usize];
    s.read_exact(&mut resp).map_err(|e| io_err(server, e))?;
    Ok(resp)
}

// ---------------------------------------------------------------- updates

pub(super) fn fqdn(s: &str) -> Result<Name, WireError> {
    let mut n = Name::from_ascii(s).map_err(proto)?;
    n.set_fqdn(true);
    Ok(n)
}

pub(super) fn new_update(zone: &Name) -> Message {
    // Zone section: ZNAME=zone, ZTYPE=SOA, ZCLASS=IN
    let mut msg = Message::new(rand_id(), MessageType::Query, OpCode::Update);
    let mut q = Query::query(zone.clone(), RecordType::SOA);
    q.set_query_class(DNSClass::IN);
    msg.add_zone(q);
    msg
}

fn rand_id() -> u16 {
    // hickory-proto already depends on `rand`; Message::query() uses it too. Here: std-only.
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(SystemTime::now()) as u16
}

/// RFC 2136 2.5.2 "Delete an RRset": NAME/TYPE, CLASS=ANY, TTL=0, RDLENGTH=0
pub(super) fn delete_rrset(name: &Name, rtype: RecordType) -> Record {
    let mut r = Record::update0(name.clone(), 0, rtype);
    r.dns_class = DNSClass::ANY;
    r
}

pub(super) fn ip_record(name: &Name, ip: IpAddr, ttl: u32) -> Record {
    match ip {
        IpAddr::V4(v4) => Record::from_rdata(name.clone(), ttl, RData::A(A(v4))),
        IpAddr::V6(v6) => Record::from_rdata(name.clone(), ttl, RData::AAAA(AAAA(v6))),
    }
}

/// Knobs used by the test CLI to provoke error cases. `Default` = normal behaviour.
#[derive(Default, Clone, Debug)]
pub struct SignOpts {
    /// Added to the TSIG "time signed" (simulate clock skew → BADTIME).
    pub clock_skew: i64,
}

/// Signs `msg`, sends it, verifies the answer. Returns the verified response.
pub fn send_signed(
    server: SocketAddr,
    mut msg: Message,
    key: &TsigKey,
    opts: &SignOpts,
    timeout: Duration,
) -> Result<Message, WireError> {
    let signer = key.signer()?;
    let t = now_unix().saturating_add_signed(opts.clock_skew);
    // finalize() = sign_message(): builds the TSIG RR over the wire form and stores it in
    // msg.signature; to_vec() then emits it as the LAST additional record (ARCOUNT+1).
    msg.finalize(&signer, t).map_err(proto)?;
    let req_mac = msg
        .signature()
        .ok_or_else(|| proto("the request was not signed"))?
        .data
        .mac
        .clone();
    let req_id = msg.metadata.id;
    let wire = msg.to_vec().map_err(proto)?;

    let resp_bytes = tcp_exchange(server, &wire, timeout)?;
    let resp = Message::from_vec(&resp_bytes).map_err(proto)?;
    if resp.metadata.id != req_id || resp.metadata.message_type != MessageType::Response {
        return Err(proto(format!(
            "response id {} != request id {req_id}",
            resp.metadata.id
        )));
    }

    let Some(tsig_rr) = resp.signature() else {
        // RFC 8945 5.3: a client MUST NOT accept an unsigned response to a signed request.
        // BIND answers unsigned only for errors it hits before TSIG processing (e.g. FORMERR);
        // treat an unsigned error as that error, never an unsigned NOERROR as success.
        rcode_result(resp.metadata.response_code)?;
        return Err(WireError::UnsignedResponse);
    };
    let tsig = &tsig_rr.data;

    match tsig.error {
        // BADSIG / BADKEY responses are UNSIGNED (empty MAC) by spec: nothing to verify.
        Some(TsigError::BadSig) => return Err(WireError::BadSig),
        Some(TsigError::BadKey) => return Err(WireError::BadKey),
        _ => {}
    }

    // Verify response MAC: TBS = len(request MAC) | request MAC | response w/o TSIG | TSIG vars.
    let (_mac, resp_time, window) = signer
        .verify_message_byte(&resp_bytes, Some(&req_mac), true)
        .map_err(|e| WireError::ResponseSignatureInvalid(e.to_string()))?;

    match tsig.error {
        Some(TsigError::BadTime) => {
            // Signed BADTIME: "time signed" echoes ours, "other data" = 48-bit server time.
            let server_time = (tsig.other.len() == 6).then(|| {
                tsig.other
                    .iter()
                    .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
            });
            return Err(WireError::BadTime {
                client_time: t,
                server_time,
            });
        }
        Some(other) => return Err(WireError::TsigOther(u16::from(other))),
        None => {}
    }
    // RFC 8945 5.4.2: check the response's time against our clock (±fudge of the response).
    let our = now_unix();
    if !window.contains(&our) && our != window.end {
        return Err(WireError::ResponseTimeOutsideFudge {
            our_time: our,
            server_time: resp_time,
        });
    }
    rcode_result(resp.metadata.response_code)?;
    Ok(resp)
}

// ---------------------------------------------------------------- queries

/// Plain (unsigned) query over TCP. NXDOMAIN / NODATA → Ok(empty).
pub fn query(
    server: SocketAddr,
    name: &str,
    rtype: RecordType,
    timeout: Duration,
) -> Result<Vec<RData>, WireError> {
    let name = fqdn(name)?;
    let mut msg = Message::new(rand_id(), MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = false; // we ask the authoritative server directly
    msg.add_query(Query::query(name.clone(), rtype));
    let resp_bytes = tcp_exchange(server, &msg.to_vec().map_err(proto)?, timeout)?;
    let resp = Message::from_vec(&resp_bytes).map_err(proto)?;
    if resp.metadata.id != msg.metadata.id {
        return Err(proto("response id mismatch"));
    }
    match resp.metadata.response_code {
        ResponseCode::NXDomain => return Ok(Vec::new()),
        rc => rcode_result(rc)?,
    }
    Ok(resp
        .answers
        .iter()
        .filter(|r| r.record_type() == rtype && r.name == name)
        .map(|r| r.data.clone())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tsig_keygen_output() {
        let k = parse_key_file(
            "# c\nkey \"vm-key.\" {\n\talgorithm HMAC-SHA512;\n\tsecret \"AAECAw==\";\n};\n",
        )
        .unwrap();
        assert_eq!(k.name, "vm-key");
        assert_eq!(k.algorithm, TsigAlgorithm::HmacSha512);
        assert_eq!(k.secret, vec![0, 1, 2, 3]);
    }
}
