//! The Proxmox VE API over verified TLS, with an API token. Calls go to `/api2/extjs/…`: the
//! same handlers as `/api2/json`, whose answers carry PVE's error message in the body (the JSON
//! format puts it only in the HTTP reason phrase, which the HTTP client does not keep).
//! Transient lock errors are retried with backoff; tasks are waited for by their UPID.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use vm::settings::{ProxmoxSettings, parse_fingerprint};

use super::tls::{self, Tls};

/// How long one HTTP call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Tries of a call that meets a transient lock ("can't lock file … got timeout").
const LOCK_TRIES: u32 = 8;

/// The API token `user@realm!tokenid=secret`; its secret never reaches a message.
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token({}=…)", self.id())
    }
}

impl Token {
    /// `VM_PROXMOX_TOKEN`, else `token_file` (which must be 0600 or stricter).
    pub fn read(settings: &ProxmoxSettings) -> Result<Token, String> {
        if let Some(token) = std::env::var("VM_PROXMOX_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
        {
            return Token::parse(&token, "VM_PROXMOX_TOKEN");
        }
        let Some(path) = &settings.token_file else {
            return Err(
                "no Proxmox API token: set VM_PROXMOX_TOKEN=user@realm!tokenid=secret, or \
                 token_file in vm.toml's [proxmox] (a file of mode 0600)"
                    .into(),
            );
        };
        check_private(path)?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the Proxmox token file {}: {e}", path.display()))?;
        Token::parse(text.trim(), &path.display().to_string())
    }

    fn parse(text: &str, source: &str) -> Result<Token, String> {
        let well_formed = text.split_once('=').is_some_and(|(id, secret)| {
            id.split_once('!')
                .is_some_and(|(user, name)| user.contains('@') && !name.is_empty())
                && !secret.is_empty()
                && !text.chars().any(|c| c.is_whitespace() || c.is_control())
        });
        if well_formed {
            Ok(Token(text.to_string()))
        } else {
            Err(format!(
                "the Proxmox API token in {source} is not user@realm!tokenid=secret \
                 (create one with `pveum user token add USER TOKENID`)"
            ))
        }
    }

    /// `user@realm!tokenid`: says whose rights are used, without the secret.
    pub fn id(&self) -> &str {
        self.0.split_once('=').map_or("", |(id, _)| id)
    }

    fn header(&self) -> String {
        format!("PVEAPIToken={}", self.0)
    }
}

/// A token file readable by others is refused: the token is as good as a password.
fn check_private(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| format!("cannot read the Proxmox token file {}: {e}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "the Proxmox token file {} is readable by others (mode {:o}); `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        ));
    }
    Ok(())
}

/// What went wrong with a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// TLS refused the server (or the server could not be reached).
    Connect(String),
    /// 401: the token was refused.
    Auth,
    /// 403: PVE's message, which names the path and the privilege.
    Forbidden(String),
    /// A lock that did not go away in time.
    Locked(String),
    /// Any other error: HTTP status, PVE's message, per-parameter errors.
    Failed {
        /// HTTP status PVE gave.
        status: u16,
        /// Its message.
        message: String,
    },
}

impl ApiError {
    /// PVE's message, for matching ("already exists", "not running").
    pub fn message(&self) -> &str {
        match self {
            ApiError::Connect(m) | ApiError::Forbidden(m) | ApiError::Locked(m) => m,
            ApiError::Failed { message, .. } => message,
            ApiError::Auth => "authentication failure",
        }
    }
}

/// One Proxmox VE cluster, reached through one of its nodes' API.
pub struct Api {
    agent: ureq::Agent,
    url: String,
    token: Token,
    reporter: vm::output::Reporter,
}

impl Api {
    /// An API client for `settings.url`, trusting what `ca_file` or `fingerprint` say.
    pub fn new(settings: &ProxmoxSettings, reporter: vm::output::Reporter) -> Result<Api, String> {
        let url = settings
            .url
            .clone()
            .ok_or("no Proxmox URL: set url = \"https://HOST:8006\" in vm.toml's [proxmox]")?;
        let tls = match (&settings.ca_file, &settings.fingerprint) {
            (Some(ca), _) => Tls::CaFile(ca.clone()),
            (None, Some(fingerprint)) => Tls::Fingerprint(parse_fingerprint(fingerprint)?),
            (None, None) => {
                return Err(format!(
                    "no way to verify {url}'s certificate: set ca_file (the PVE cluster CA, \
                     /etc/pve/pve-root-ca.pem) or fingerprint (`pvenode cert info`) in vm.toml's [proxmox]"
                ));
            }
        };
        let agent = tls::agent(&tls, CALL_TIMEOUT).map_err(|e| e.to_string())?;
        Ok(Api {
            agent,
            url,
            token: Token::read(settings)?,
            reporter,
        })
    }

    /// The cluster's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The token's id, for messages.
    pub fn token_id(&self) -> &str {
        self.token.id()
    }

    /// `GET path?query`.
    pub fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, ApiError> {
        self.call("GET", path, query)
    }

    /// `POST path` with a form body; retried while a lock is held.
    pub fn post(&self, path: &str, form: &[(&str, &str)]) -> Result<Value, ApiError> {
        self.retrying(|| self.call("POST", path, form))
    }

    /// `PUT path` with a form body; retried while a lock is held.
    pub fn put(&self, path: &str, form: &[(&str, &str)]) -> Result<Value, ApiError> {
        self.retrying(|| self.call("PUT", path, form))
    }

    /// `DELETE path?query`; retried while a lock is held.
    pub fn delete(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, ApiError> {
        self.retrying(|| self.call("DELETE", path, query))
    }

    /// Calls `call` again while PVE answers with a transient lock error, backing off from
    /// 0.25 s to 4 s, at most [`LOCK_TRIES`] times.
    pub fn retrying(
        &self,
        mut call: impl FnMut() -> Result<Value, ApiError>,
    ) -> Result<Value, ApiError> {
        let mut delay = Duration::from_millis(250);
        for _ in 1..LOCK_TRIES {
            match call() {
                Err(ApiError::Locked(why)) => {
                    self.reporter
                        .detail(format!("{why}; retrying in {}", vm::output::human(delay)));
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(4));
                }
                other => return other,
            }
        }
        call()
    }

    fn call(&self, method: &str, path: &str, params: &[(&str, &str)]) -> Result<Value, ApiError> {
        let url = format!("{}/api2/extjs{path}", self.url);
        let auth = self.token.header();
        let response = match method {
            "GET" | "DELETE" => {
                let request = if method == "GET" {
                    self.agent.get(&url)
                } else {
                    self.agent.delete(&url)
                };
                request
                    .header("Authorization", &auth)
                    .query_pairs(params.iter().copied())
                    .call()
            }
            _ => {
                let request = if method == "POST" {
                    self.agent.post(&url)
                } else {
                    self.agent.put(&url)
                };
                request
                    .header("Authorization", &auth)
                    .send_form(params.iter().copied())
            }
        };
        let mut response = response.map_err(|e| ApiError::Connect(tls::describe(&e)))?;
        let status = response.status().as_u16();
        let body: Value = response.body_mut().read_json().unwrap_or(Value::Null);
        // The ExtJS envelope: HTTP 200 with success/status/message; PVE answers some errors
        // (authentication) before formatting, with a plain HTTP status.
        let status = body
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(status);
        let success = body.get("success").and_then(as_int).unwrap_or(0) == 1;
        if status < 400 && success {
            return Ok(body.get("data").cloned().unwrap_or(Value::Null));
        }
        let mut message = body
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_string();
        if let Some(errors) = body.get("errors").and_then(Value::as_object) {
            for (param, why) in errors {
                let why = why.as_str().unwrap_or("").trim();
                message.push_str(&format!("; {param}: {why}"));
            }
        }
        if message.is_empty() {
            message = format!("HTTP {status} from {method} {path}");
        }
        Err(match status {
            401 => ApiError::Auth,
            403 => ApiError::Forbidden(message),
            _ if message.contains("can't lock file") => ApiError::Locked(message),
            _ => ApiError::Failed { status, message },
        })
    }

    /// Waits for task `upid` on `node` to stop, at most `timeout`. Success is `OK` or
    /// `WARNINGS: n` (returned, for a note); a failure carries the last lines of the task log.
    pub fn wait_task(
        &self,
        node: &str,
        upid: &str,
        timeout: Duration,
    ) -> Result<Option<String>, TaskError> {
        let start = Instant::now();
        let path = format!("/nodes/{node}/tasks/{}/status", encode(upid));
        let mut delay = Duration::from_millis(100);
        loop {
            let status = self.get(&path, &[]).map_err(TaskError::Api)?;
            if status.get("status").and_then(Value::as_str) == Some("stopped") {
                let exit = status
                    .get("exitstatus")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                return match exit.as_str() {
                    "OK" => Ok(None),
                    warnings if warnings.starts_with("WARNINGS") => Ok(Some(exit)),
                    _ => Err(TaskError::Failed {
                        exit,
                        log: self.task_log_tail(node, upid),
                    }),
                };
            }
            if start.elapsed() >= timeout {
                return Err(TaskError::Timeout(start.elapsed()));
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    /// The last lines of a task's log, for a failure message (empty when unreadable).
    fn task_log_tail(&self, node: &str, upid: &str) -> String {
        let path = format!("/nodes/{node}/tasks/{}/log", encode(upid));
        let Ok(Value::Array(lines)) = self.get(&path, &[("limit", "500")]) else {
            return String::new();
        };
        let texts: Vec<&str> = lines
            .iter()
            .filter_map(|l| l.get("t").and_then(Value::as_str))
            .collect();
        texts[texts.len().saturating_sub(10)..].join("\n")
    }
}

/// Why a task did not end well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskError {
    /// Asking for its status failed.
    Api(ApiError),
    /// It ended with an error.
    Failed {
        /// Its exit status.
        exit: String,
        /// The last lines of its log.
        log: String,
    },
    /// It was still running after this long.
    Timeout(Duration),
}

/// An integer PVE may send as a number or a string.
pub fn as_int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

/// Percent-encoding `encodeURIComponent` style: PVE wants `sshkeys` encoded so before the
/// form body encodes it again, and UPIDs in paths.
pub fn encode(text: &str) -> String {
    vm::fsutil::percent_encode(text)
}

/// The inverse of [`encode`] (PVE returns `sshkeys` encoded).
#[cfg(test)]
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_keys_survive_the_encoding_pve_wants() {
        let key = "ssh-ed25519 AAAAC3Nza+/x= me: laptop+work@host";
        let encoded = encode(key);
        assert_eq!(
            encoded,
            "ssh-ed25519%20AAAAC3Nza%2B%2Fx%3D%20me%3A%20laptop%2Bwork%40host"
        );
        assert!(
            encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.!~*'()%".contains(&b))
        );
        assert_eq!(decode(&encoded), key);
    }

    #[test]
    fn tokens_are_checked_and_never_shown() {
        let token = Token::parse("vm@pve!ci=0b2c-secret", "test").unwrap();
        assert_eq!(token.id(), "vm@pve!ci");
        assert!(!format!("{token:?}").contains("secret"));
        for bad in [
            "vm@pve!ci",
            "vm!ci=x",
            "vm@pve=x",
            "vm@pve!ci=",
            "vm@pve!ci=a b",
        ] {
            let error = Token::parse(bad, "test").unwrap_err();
            assert!(!error.contains(bad) || bad.len() < 4, "{error}");
        }
    }

    #[test]
    fn a_token_file_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "vm@pve!ci=secret\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(check_private(&file).unwrap_err().contains("chmod 600"));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(check_private(&file).is_ok());
    }
}
