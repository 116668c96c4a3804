//! Host patterns: what Ansible's INI plugin makes of the first token of a host line.
//!
//! [`expand_hostpattern`] is `ansible.plugins.inventory.ini.InventoryModule._expand_hostpattern`
//! of ansible-core 2.19, run on CPython 3.11, reproduced step by step because users' inventories
//! must mean the same to `vm` as to Ansible, mistakes included:
//!
//! 1. `parse_address(token, allow_ranges=True)` (`parsing/utils/addresses.py`): peel a port off
//!    with the `bracketed_hostport` regex and then, on what is left, *also* with `hostport`
//!    (`[h:1]:99` ends with host `h`, port 1), then require the rest to match `ipv4`, `ipv6` or
//!    `hostname` (`re.I`, Unicode `\w`, Python's `$` that also matches before a final `"\n"`).
//!    Any failure, including `int(port)` refusing more than 4300 digits, means "no address":
//!    the raw token becomes the pattern, with no port.
//! 2. If the pattern contains `[`, `expand_hostname_range` (`plugins/inventory/__init__.py`),
//!    whose string surgery (`replace('[', '|', 1)`, `split('|')`, unpacking into three parts),
//!    `string.ascii_letters.index` substring search, slicing, Python `int()` and `range()` all
//!    leak their own exceptions; their messages are reproduced verbatim.
//! 3. The INI checks: a token ending in `:` without a port, and a host named `---`.
//!
//! Where `vm` stops short of Python, it fails with its own message instead of guessing:
//! more than [`MAX_HOSTS_PER_PATTERN`] names, range numbers beyond ±10^30, a port beyond
//! `u64`. See [`HostPatternError`].

mod address;
mod python;
mod range;
mod tables;
#[cfg(test)]
mod tests;

use thiserror::Error;

use address::parse_address;
use python::py_strip;
use range::expand_hostname_range;

/// The most host names one pattern may expand to. Ansible has no limit and would try to build
/// every name (`web[0:99999999]` exhausts memory); `vm` refuses instead.
pub const MAX_HOSTS_PER_PATTERN: usize = 100_000;

/// How many nested `expand_hostname_range` calls Ansible survives. Each range recurses once;
/// under `ansible-inventory` 2.19.14 the 986th hits Python's recursion limit (measured: 985
/// `[0:0]` ranges parse, 986 fail). The exact boundary depends on the caller's stack depth.
const MAX_NESTED_RANGES: usize = 985;

/// CPython 3.11's default `sys.get_int_max_str_digits()`.
const PY_INT_MAX_STR_DIGITS: usize = 4300;

/// Range bounds and steps are computed in `i128`; beyond this magnitude `vm` refuses them.
const RANGE_NUMBER_LIMIT: i128 = 1_000_000_000_000_000_000_000_000_000_000;

const ASCII_LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Why a host pattern is refused. `Display` is exactly what Python/Ansible print, except for
/// the three variants marked as `vm`'s own.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HostPatternError {
    /// A range with fewer than 2 or more than 3 `:`-separated parts (`h[1]`, `h[1:2:3:4]`).
    #[error("host range must be begin:end or begin:end:step")]
    RangeShape,
    /// `h[1:]`.
    #[error("host range must specify end value")]
    RangeWithoutEnd,
    /// A zero-padded begin whose length differs from the end's (`h[01:100]`).
    #[error("host range must specify equal-length begin and end formats")]
    RangeWidthMismatch,
    /// A letter range whose begin comes after its end in `a..zA..Z` (`h[b:a]`).
    #[error("host range must have begin <= end")]
    RangeBackwards,
    /// Python's unpacking error when the first `[`…`]` is incomplete (`h[1`).
    #[error("not enough values to unpack (expected 3, got {got})")]
    NotEnoughParts {
        /// How many `|`-separated parts Python found.
        got: usize,
    },
    /// Python's unpacking error when the pattern contains `|` (`a|b[1:2]`).
    #[error("too many values to unpack (expected 3)")]
    TooManyParts,
    /// Python's `int()` refusing a range bound or step; `repr` is Python's `%.200R` of it.
    #[error("invalid literal for int() with base 10: {repr}")]
    InvalidLiteral {
        /// `repr()` of the text, cut to 200 characters as Python does.
        repr: String,
    },
    /// Python's `int()` refusing more than 4300 digits.
    #[error(
        "Exceeds the limit (4300 digits) for integer string conversion: value has {digits} digits; use sys.set_int_max_str_digits() to increase the limit"
    )]
    TooManyDigits {
        /// How many decimal digits the text has.
        digits: usize,
    },
    /// `range()` with a step of 0 (`h[1:3:0]`).
    #[error("range() arg 3 must not be zero")]
    ZeroStep,
    /// More nested ranges than Python's recursion limit lets Ansible expand.
    #[error("maximum recursion depth exceeded while calling a Python object")]
    TooManyRanges,
    /// A token ending in `:` that is not `name:port`.
    #[error(
        "Invalid host pattern '{pattern}' supplied, ending in ':' is not allowed, this character is reserved to provide a port."
    )]
    TrailingColon {
        /// The token as written.
        pattern: String,
    },
    /// A host named `---`, the sign of a YAML file read as INI.
    #[error(
        "Invalid host pattern '{pattern}' supplied, '---' is normally a sign this is a YAML file."
    )]
    YamlMarker {
        /// The token as written.
        pattern: String,
    },
    /// `vm`'s own: Ansible would try to build all these names.
    #[error(
        "host pattern '{pattern}' expands to more than {MAX_HOSTS_PER_PATTERN} host names; split it into smaller ranges"
    )]
    TooManyHosts {
        /// The token as written.
        pattern: String,
    },
    /// `vm`'s own: Ansible would compute with such a number; `vm` does not.
    #[error(
        "host pattern '{pattern}' has a range bound or step beyond ±10^30, which vm does not support"
    )]
    NumberTooLarge {
        /// The token as written.
        pattern: String,
    },
    /// `vm`'s own: Ansible would set `ansible_port` to this number.
    #[error("host pattern '{pattern}' has port {port}, which is too large")]
    PortTooLarge {
        /// The token as written.
        pattern: String,
        /// The port digits as written.
        port: String,
    },
}

/// What the INI plugin makes of the first token of a host line: the host names it expands to
/// and an optional port.
///
/// The port is returned as parsed, leading zeros dropped; `Some(0)` is possible (`h:0`) and,
/// as in Ansible (`Host.__init__` does `if port:`), means "no `ansible_port`" to the caller.
/// Names are returned in Ansible's order (ranges expand left first) and may be empty
/// (`h[3:1]`), in which case the line adds no host.
///
/// # Errors
///
/// Every error Ansible raises for the token, with its message (see [`HostPatternError`]),
/// and `vm`'s own refusals of what Ansible would compute but `vm` will not.
pub fn expand_hostpattern(token: &str) -> Result<(Vec<String>, Option<u64>), HostPatternError> {
    // `_expand_hostpattern`: `except Exception` turns every parse failure into "raw token".
    let (pattern, port) = parse_address(token).unwrap_or((token, None));
    let hostnames = if pattern.contains('[') {
        expand_hostname_range(pattern, token)?
    } else {
        vec![pattern.to_string()]
    };
    if port.is_none() && py_strip(token).ends_with(':') {
        return Err(HostPatternError::TrailingColon {
            pattern: token.to_string(),
        });
    }
    if hostnames.iter().any(|name| py_strip(name) == "---") {
        return Err(HostPatternError::YamlMarker {
            pattern: token.to_string(),
        });
    }
    let port = port
        .map(|digits| {
            digits
                .parse::<u64>()
                .map_err(|_| HostPatternError::PortTooLarge {
                    pattern: token.to_string(),
                    port: digits.to_string(),
                })
        })
        .transpose()?;
    Ok((hostnames, port))
}
