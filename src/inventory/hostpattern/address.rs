//! `parse_address`.

use std::sync::LazyLock;

use regex::Regex;

use super::PY_INT_MAX_STR_DIGITS;
use super::python::is_word_char;

/// `parse_address(address, allow_ranges=True)`: the host part and the port digits, or `None`
/// where Python raises.
pub(super) fn parse_address(address: &str) -> Option<(&str, Option<&str>)> {
    let mut address = address;
    let mut port = None;
    // Both port patterns are tried in turn, the second on what the first left.
    for matcher in [bracketed_hostport, hostport] {
        if let Some((host, digits)) = matcher(address) {
            if digits.len() > PY_INT_MAX_STR_DIGITS {
                return None; // `int(port)` raises ValueError.
            }
            address = host;
            port = Some(digits);
        }
    }
    // The `ipv4` pattern is not needed: every string it matches, `hostname` matches too (its
    // components are digits or numeric ranges, both valid label parts).
    let body = before_final_newline(address);
    (is_hostname(body) || IPV6.is_match(body)).then_some((address, port))
}

/// Python's `$` matches at the end and also just before a final `"\n"`. None of the address
/// patterns can end with a newline, so a full match is a match of the text without it.
fn before_final_newline(s: &str) -> &str {
    s.strip_suffix('\n').unwrap_or(s)
}

/// `^(.*):([0-9]+)$` split: the port can only be the digits after the last `:`.
fn split_port(s: &str) -> Option<(&str, &str)> {
    let (host, digits) = before_final_newline(s).rsplit_once(':')?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some((host, digits))
}

/// `^\[(.+)\]:([0-9]+)$`.
fn bracketed_hostport(s: &str) -> Option<(&str, &str)> {
    let (host, digits) = split_port(s)?;
    let inner = host.strip_prefix('[')?.strip_suffix(']')?;
    (!inner.is_empty() && !inner.contains('\n')).then_some((inner, digits))
}

/// `^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$`: no `:` or `]` outside complete `[…]` groups.
fn hostport(s: &str) -> Option<(&str, &str)> {
    let (host, digits) = split_port(s)?;
    let mut rest = host;
    while let Some(at) = rest.find([':', '[', ']']) {
        if !rest[at..].starts_with('[') {
            return None;
        }
        let close = rest[at..].find(']')?;
        rest = &rest[at + close + 1..];
    }
    Some((host, digits))
}

/// The `hostname` pattern: `.`-separated labels. A label is `\w` characters, `-` and
/// alphanumeric ranges, not starting with `-` and not ending with `-` or `_` (the lookbehind).
fn is_hostname(s: &str) -> bool {
    s.split('.').all(is_label)
}

fn is_label(label: &str) -> bool {
    let mut chars = label.chars();
    let mut last = None;
    while let Some(c) = chars.next() {
        let ok = match c {
            '[' => alphanumeric_range(&mut chars),
            '-' => last.is_some(),
            _ => is_word_char(c),
        };
        if !ok {
            return false;
        }
        last = Some(c);
    }
    !matches!(last, None | Some('-' | '_'))
}

/// After a `[`: `(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]` under `re.I`, consumed.
fn alphanumeric_range(chars: &mut std::str::Chars<'_>) -> bool {
    let next = match chars.next() {
        Some(c) if is_range_letter(c) => {
            if chars.next() != Some(':') || !chars.next().is_some_and(is_range_letter) {
                return false;
            }
            chars.next()
        }
        Some(c) if c.is_ascii_digit() => {
            if skip_digits(chars) != Some(':') || !chars.next().is_some_and(|c| c.is_ascii_digit())
            {
                return false;
            }
            skip_digits(chars)
        }
        _ => return false,
    };
    let next = if next == Some(':') {
        if !chars.next().is_some_and(|c| c.is_ascii_digit()) {
            return false;
        }
        skip_digits(chars)
    } else {
        next
    };
    next == Some(']')
}

/// Consumes ASCII digits; returns the first other character.
fn skip_digits(chars: &mut std::str::Chars<'_>) -> Option<char> {
    chars.find(|c| !c.is_ascii_digit())
}

/// `[a-z]` under `re.I`: ASCII letters plus the four characters whose case folding reaches
/// them: `İ` (U+0130), `ı` (U+0131), `ſ` (U+017F) and the Kelvin sign (U+212A).
pub(super) fn is_range_letter(c: char) -> bool {
    c.is_ascii_alphabetic() || matches!(c, '\u{130}' | '\u{131}' | '\u{17f}' | '\u{212a}')
}

/// The `ipv6` pattern. Its `[0-9a-f]` and `ffff` under `re.I` are exactly ASCII hex digits.
pub(super) static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    let range = r"\[[0-9a-fA-F]+:[0-9a-fA-F]+(?::[0-9]+)?\]";
    let c = format!("(?:[0-9a-fA-F]{{1,4}}|{range})");
    let v4 = format!(r"(?:{c}\.){{3}}{c}");
    let alternatives = [
        format!("(?:{c}:){{7}}{c}"),
        format!("(?:{c}:){{1,6}}:"),
        format!("(?:{c}:)(?::{c}){{1,6}}"),
        format!("(?:{c}:){{2}}(?::{c}){{1,5}}"),
        format!("(?:{c}:){{3}}(?::{c}){{1,4}}"),
        format!("(?:{c}:){{4}}(?::{c}){{1,3}}"),
        format!("(?:{c}:){{5}}(?::{c}){{1,2}}"),
        format!("(?:{c}:){{6}}(?::{c})"),
        format!(":(?::{c}){{1,6}}"),
        format!("{c}?::"),
        format!("(?:0:){{6}}{v4}"),
        format!("::(?:[fF]{{4}}:)?{v4}"),
        format!("(?:0:){{5}}[fF]{{4}}:{v4}"),
    ];
    // The pattern is a constant; `ipv6_pattern_compiles` proves it valid.
    Regex::new(&format!(r"\A(?:{})\z", alternatives.join("|")))
        .expect("the ipv6 pattern is a valid regex")
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_pattern_compiles() {
        assert!(IPV6.is_match("1:2:3:4:5:6:7:8"));
        assert!(IPV6.is_match("fe80::[a:f]"));
        assert!(!IPV6.is_match("1:2:3:4:5:6:7:8:9"));
    }
}
