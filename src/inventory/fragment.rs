//! One VM's fragment, `ansible/inventory.d/<name>.ini`: validated input, rendered through the
//! `inventory.ini.tera` template, written atomically, recognised again by its marker line.
//!
//! Only fragments that start with the marker are "managed": only those are ever replaced,
//! removed or pruned by the tool. A hand-written fragment is merged like any other and never
//! touched.

use std::fs;
use std::io::Write;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};

use crate::fsutil;

use super::ini::is_line_break;
use super::pyliteral::{Value, parse_value, python_str_literal};
use super::shlex;

/// The marker's first characters; the rest of the line is `key=value` pairs.
pub const MARKER_PREFIX: &str = "# vm-managed:";

/// The template shipped in the binary; a project's own `templates/inventory.ini.tera` wins.
const DEFAULT_TEMPLATE: &str = include_str!("../../templates/inventory.ini.tera");

/// Bad input for a fragment; nothing has been written when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FragmentInputError {
    /// A VM or host name outside the rules.
    #[error(
        "invalid name {0:?}: {1}. Use 1 to 63 letters, digits, '-', '_' or '.', starting and \
         ending with a letter or digit"
    )]
    Name(String, &'static str),
    /// An address that is neither an IP nor a host name, or a bad port.
    #[error(
        "invalid address {0:?}: {1}. Give an IPv4 address, a host name, or an IPv6 address, \
         with an optional port: 10.0.0.5:2222, [fe80::1]:2222"
    )]
    Address(String, &'static str),
    /// A group name Ansible would warn about or that is reserved.
    #[error("invalid group {0:?}: {1}. Use letters, digits and '_', not starting with a digit")]
    Group(String, &'static str),
    /// A `--var` that is not `KEY=VALUE` or whose key is not a valid variable name.
    #[error("invalid variable {0:?}: {1}")]
    Var(String, String),
    /// A marker field that would break the marker line.
    #[error("invalid {0} {1:?}: it must not contain spaces or control characters")]
    MarkerField(&'static str, String),
}

/// Why a fragment could not be rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum FragmentError {
    /// The (project's own) template failed.
    #[error("cannot render the fragment template {template}: {message}")]
    Template {
        /// Which template.
        template: String,
        /// Tera's message.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{action} {path}: {source}; check that its folder exists and is writable by you")]
    Io {
        /// What we were doing.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Checks a VM / host name: it becomes a file name, an Ansible host name and (later) a libvirt
/// domain name, so it must be safe for all three.
pub fn validate_name(name: &str) -> Result<(), FragmentInputError> {
    let bad = |why| Err(FragmentInputError::Name(name.to_string(), why));
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > 63 {
        return bad("it is longer than 63 characters");
    }
    if name.contains("..") {
        return bad("it contains '..'");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(FragmentInputError::Name(
            name.to_string(),
            match c {
                '/' => "it contains '/'",
                c if c.is_whitespace() => "it contains white space",
                _ => "it contains a character other than letters, digits, '-', '_' and '.'",
            },
        ));
    }
    let first_last = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_last(name.chars().next()) {
        return bad("it must start with a letter or digit");
    }
    if !first_last(name.chars().last()) {
        return bad("it must end with a letter or digit");
    }
    if matches!(name, "all" | "ungrouped" | "localhost") {
        return bad("it is reserved by Ansible");
    }
    Ok(())
}

/// An address with an optional port, as `inventory add` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// IP address or host name.
    pub host: String,
    /// SSH port; `None` means 22.
    pub port: Option<u16>,
}

/// Parses `10.0.0.5`, `10.0.0.5:2222`, `host.example`, `host:2222`, `fe80::1`, `[fe80::1]:2222`.
pub fn parse_address(text: &str) -> Result<Address, FragmentInputError> {
    let bad = |why| Err(FragmentInputError::Address(text.to_string(), why));
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return bad("missing ']'");
        };
        if host.parse::<Ipv6Addr>().is_err() {
            return bad("only an IPv6 address goes in brackets");
        }
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return bad("unexpected text after ']'"),
        }
    } else if text.parse::<Ipv6Addr>().is_ok() {
        (text, None)
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => return bad("the port must be a number from 1 to 65535"),
            Ok(22) => None,
            Ok(p) => Some(p),
        },
    };
    if host.parse::<IpAddr>().is_err() && !is_hostname(host) {
        return bad("not an IP address or a DNS host name");
    }
    Ok(Address {
        host: host.to_string(),
        port,
    })
}

fn is_hostname(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Checks a group name: Ansible-safe (no "invalid characters" warning), not a built-in group.
pub fn validate_group(group: &str) -> Result<(), FragmentInputError> {
    let bad = |why| Err(FragmentInputError::Group(group.to_string(), why));
    if !is_identifier(group) {
        return bad("not a valid Ansible group name");
    }
    if matches!(group, "all" | "ungrouped") {
        return bad("it is built into Ansible");
    }
    Ok(())
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 255
}

/// Splits and checks a `--var KEY=VALUE`. The value is any string; `reserved` keys are set by
/// other flags.
pub fn parse_var(text: &str, reserved: &[&str]) -> Result<(String, String), FragmentInputError> {
    let bad = |why: String| Err(FragmentInputError::Var(text.to_string(), why));
    let Some((key, value)) = text.split_once('=') else {
        return bad("expected KEY=VALUE".to_string());
    };
    if !is_identifier(key) {
        return bad(format!(
            "{key:?} is not a valid variable name (letters, digits, '_', not starting with a digit)"
        ));
    }
    if reserved.contains(&key) {
        return bad(format!(
            "{key} is set from its own argument, not with --var"
        ));
    }
    Ok((key.to_string(), value.to_string()))
}

/// Variables set from their own arguments, never with `--var`.
pub const RESERVED_VARS: &[&str] = &["ansible_host", "ansible_port", "ansible_user"];

/// A host's groups and string variables, as `host_settings` returns them.
pub type HostSettings = (Vec<String>, Vec<(String, String)>);

/// Checks the groups and `--var`s of host `name`: valid, not the host's own name, repeats
/// dropped (first place kept).
pub fn host_settings(
    name: &str,
    groups: Vec<String>,
    vars: &[String],
) -> Result<HostSettings, FragmentInputError> {
    let mut unique = Vec::new();
    for group in groups {
        validate_group(&group)?;
        if group == name {
            return Err(FragmentInputError::Group(
                group,
                "it is the host's own name; Ansible would confuse the two",
            ));
        }
        if !unique.contains(&group) {
            unique.push(group);
        }
    }
    let vars = vars
        .iter()
        .map(|v| parse_var(v, RESERVED_VARS))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((unique, vars))
}

/// The `key=value` token for a string variable: the value comes back from Ansible as exactly
/// `value`. Plain values that Ansible keeps as strings anyway are written as they are; anything
/// Ansible would turn into another type (`22`, `True`, `[1]`) or mangle is written as a Python
/// string literal. Shlex quoting is applied later, by the template's escape function.
pub fn string_var(key: &str, value: &str) -> String {
    // A line break cannot stand on a host line, and control characters are better spelled out:
    // those go through a Python string literal, whose escapes Ansible decodes.
    let printable = !value.chars().any(|c| c.is_control() || is_line_break(c));
    if printable && matches!(parse_value(value), Ok(Value::Str(ref s)) if s == value) {
        format!("{key}={value}")
    } else {
        format!("{key}={}", python_str_literal(value))
    }
}

/// What a fragment says about the VM it describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// Which backend made the VM (`libvirt`, `terraform`, or `external` for `inventory add`).
    pub backend: String,
    /// How to reach that backend again (a libvirt URI, a Terraform folder, a Proxmox URL, `-`).
    pub connection: String,
    /// What else finds the VM again (Proxmox: `node`, `vmid`), in order.
    pub details: Vec<(String, String)>,
}

impl Marker {
    /// Builds a marker after checking both fields fit on the marker line.
    pub fn new(backend: &str, connection: &str) -> Result<Marker, FragmentInputError> {
        for (what, value) in [("backend", backend), ("connection", connection)] {
            if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(FragmentInputError::MarkerField(what, value.to_string()));
            }
        }
        Ok(Marker {
            backend: backend.to_string(),
            connection: connection.to_string(),
            details: Vec::new(),
        })
    }

    /// Adds `key=value` to the marker line, after checking both fit on it (a key of
    /// lower-case letters and '_', a value without white space).
    pub fn with_detail(mut self, key: &str, value: &str) -> Result<Marker, FragmentInputError> {
        let key_ok = !key.is_empty()
            && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            && !matches!(key, "backend" | "connection");
        if !key_ok {
            return Err(FragmentInputError::MarkerField("detail", key.to_string()));
        }
        if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(FragmentInputError::MarkerField("detail", value.to_string()));
        }
        self.details.push((key.to_string(), value.to_string()));
        Ok(self)
    }

    /// The value of detail `key`, if the marker has it.
    pub fn detail(&self, key: &str) -> Option<&str> {
        self.details
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The marker line.
    pub fn line(&self) -> String {
        let mut line = format!(
            "{MARKER_PREFIX} backend={} connection={}",
            self.backend, self.connection
        );
        for (key, value) in &self.details {
            line.push_str(&format!(" {key}={value}"));
        }
        line
    }

    /// Reads the marker from a fragment's first line, if it has one.
    pub fn parse(text: &str) -> Option<Marker> {
        let first = text.lines().next()?;
        let rest = first.strip_prefix(MARKER_PREFIX)?;
        let mut backend = None;
        let mut connection = None;
        let mut details = Vec::new();
        for pair in rest.split_whitespace() {
            match pair.split_once('=') {
                Some(("backend", v)) => backend = Some(v),
                Some(("connection", v)) => connection = Some(v),
                Some((k, v)) => details.push((k, v)),
                None => {}
            }
        }
        let mut marker = Marker::new(backend?, connection?).ok()?;
        for (key, value) in details {
            // A detail this version cannot read does not make the fragment hand-written.
            if let Ok(with) = marker.clone().with_detail(key, value) {
                marker = with;
            }
        }
        Some(marker)
    }
}

/// Everything a fragment holds, validated.
#[derive(Debug, Clone)]
pub struct FragmentSpec {
    /// Host name (the VM's name).
    pub name: String,
    /// Where Ansible connects.
    pub address: Address,
    /// `ansible_user`, when set.
    pub user: Option<String>,
    /// Groups, in the order given, without repeats.
    pub groups: Vec<String>,
    /// Extra string variables, in the order given.
    pub vars: Vec<(String, String)>,
    /// Who manages the VM.
    pub marker: Marker,
}

impl FragmentSpec {
    /// The fragment's file name.
    pub fn file_name(&self) -> String {
        format!("{}.ini", self.name)
    }

    /// Renders the fragment with the project's template if it has one, else the built-in one.
    pub fn render(&self, project_templates: &Path) -> Result<String, FragmentError> {
        let custom = project_templates.join("inventory.ini.tera");
        let (source, name) = match fs::read_to_string(&custom) {
            Ok(text) => (text, custom.display().to_string()),
            Err(_) => (
                DEFAULT_TEMPLATE.to_string(),
                "templates/inventory.ini.tera (built in)".to_string(),
            ),
        };
        let template_error = |e: tera::Error| FragmentError::Template {
            template: name.clone(),
            message: e.to_string(),
        };
        let mut tera = tera::Tera::default();
        tera.set_escape_fn(escape_token);
        tera.autoescape_on([".ini"]);
        tera.add_raw_template("fragment.ini", &source)
            .map_err(template_error)?;
        let mut vars = vec![string_var("ansible_host", &self.address.host)];
        if let Some(port) = self.address.port {
            vars.push(format!("ansible_port={port}"));
        }
        if let Some(user) = &self.user {
            vars.push(string_var("ansible_user", user));
        }
        vars.extend(self.vars.iter().map(|(k, v)| string_var(k, v)));
        let mut context = tera::Context::new();
        context.insert("marker", &self.marker.line());
        context.insert("host", &self.name);
        context.insert("groups", &self.groups);
        context.insert("vars", &vars);
        tera.render("fragment.ini", &context)
            .map_err(template_error)
    }
}

/// The template's escape function: every inserted value becomes exactly one shlex token.
fn escape_token(input: &str, output: &mut dyn Write) -> std::io::Result<()> {
    output.write_all(shlex::quote_readable(input).as_bytes())
}

/// Mode of a fragment: what `File::create` gave it under the usual umask 022; it holds no
/// secrets, and Ansible run by another user must read it.
pub const FRAGMENT_MODE: u32 = 0o644;

/// Writes `text` to `path` (mode 0644) through [`fsutil::replace`]: a hidden temp file in the same
/// folder (neither Ansible nor the merge reads it), fsynced and renamed.
pub fn write(path: &Path, text: &str) -> Result<(), FragmentError> {
    fsutil::replace(path, text.as_bytes(), FRAGMENT_MODE).map_err(|source| FragmentError::Io {
        action: "cannot write the fragment",
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a fragment's marker; `Ok(None)` when the file has none (hand-written).
pub fn read_marker(path: &Path) -> Result<Option<Marker>, FragmentError> {
    let text = fs::read_to_string(path).map_err(|source| FragmentError::Io {
        action: "cannot read the fragment",
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Marker::parse(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_details_round_trip_and_refuse_what_does_not_fit_the_line() {
        let marker = Marker::new("proxmox", "https://pve:8006")
            .and_then(|m| m.with_detail("node", "pve1"))
            .and_then(|m| m.with_detail("vmid", "101"))
            .unwrap();
        let line = marker.line();
        assert!(line.ends_with("backend=proxmox connection=https://pve:8006 node=pve1 vmid=101"));
        let read = Marker::parse(&format!("{line} Odd=x\n[web]\n")).unwrap();
        assert_eq!(read, marker);
        assert_eq!(read.detail("vmid"), Some("101"));
        assert!(marker.clone().with_detail("vmid", "a b").is_err());
        assert!(marker.with_detail("backend", "x").is_err());
    }

    #[test]
    fn names_that_break_paths_or_ansible_are_refused() {
        for bad in [
            "", "-x", ".x", "a/b", "..", "a..b", "a b", "x-", "all", "a#b", "a:b", "a[1]", "é",
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(validate_name(&"a".repeat(64)).is_err());
        for good in ["web-vm", "db1", "a.b", "x_y", &"a".repeat(63)] {
            assert!(validate_name(good).is_ok(), "{good:?} should pass");
        }
    }

    #[test]
    fn addresses_parse_with_optional_ports_and_port_22_is_implicit() {
        let a = |s: &str| parse_address(s).map(|a| (a.host, a.port));
        assert_eq!(a("10.0.0.5"), Ok(("10.0.0.5".into(), None)));
        assert_eq!(a("10.0.0.5:2222"), Ok(("10.0.0.5".into(), Some(2222))));
        assert_eq!(a("10.0.0.5:22"), Ok(("10.0.0.5".into(), None)));
        assert_eq!(a("fe80::1"), Ok(("fe80::1".into(), None)));
        assert_eq!(a("[fe80::1]:2200"), Ok(("fe80::1".into(), Some(2200))));
        assert_eq!(a("db.example.org"), Ok(("db.example.org".into(), None)));
        for bad in [
            "",
            "10.0.0.5:0",
            "10.0.0.5:70000",
            "a b",
            "[10.0.0.1]:22",
            "x:",
            "-a",
        ] {
            assert!(parse_address(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn fragments_are_written_0644_whatever_the_file_was_and_leave_no_temp_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.ini");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        write(&path, "[web]\nweb-1\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "[web]\nweb-1\n");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o644
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn markers_round_trip_and_refuse_spaces() {
        let m = Marker::new("libvirt", "qemu:///system").unwrap();
        assert_eq!(Marker::parse(&format!("{}\n[web]\n", m.line())), Some(m));
        assert!(Marker::new("libvirt", "a b").is_err());
        assert_eq!(Marker::parse("# hand written\n"), None);
    }

    #[test]
    fn string_vars_stay_plain_when_ansible_keeps_them_as_strings() {
        assert_eq!(string_var("ansible_user", "admin"), "ansible_user=admin");
        assert_eq!(string_var("x", "22"), "x='22'");
        assert_eq!(string_var("x", "True"), "x='True'");
        assert_eq!(string_var("x", "a\nb"), "x='a\\x0ab'");
    }
}
