//! Python's int(), repr(), str.strip() and \w

use std::borrow::Cow;
use std::fmt::Write as _;

use super::tables::{PY_CHAR_CLASSES, PY_DECIMAL_RUNS};
use super::{HostPatternError, PY_INT_MAX_STR_DIGITS, RANGE_NUMBER_LIMIT};

/// A value Python's `int()` accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PyInt {
    /// Within ±[`RANGE_NUMBER_LIMIT`].
    Small(i128),
    /// Beyond it: Python has the value, `vm` only its sign.
    Huge { negative: bool },
}

/// CPython 3.11 `int(text)` (base 10): `_PyUnicode_TransformDecimalAndSpaceToASCII`, then
/// `PyLong_FromString`. Surrounding whitespace, a sign, single underscores between digits and
/// Unicode decimal digits are accepted; the digit limit is checked before trailing junk.
pub(super) fn py_int(text: &str) -> Result<PyInt, HostPatternError> {
    let invalid = || HostPatternError::InvalidLiteral {
        repr: py_repr(text).chars().take(200).collect(),
    };
    let bytes: Cow<'_, [u8]> = if text.is_ascii() {
        Cow::Borrowed(text.as_bytes())
    } else {
        let mut ascii = Vec::with_capacity(text.len());
        for c in text.chars() {
            if (c as u32) < 127 {
                ascii.push(c as u8);
            } else if py_isspace(c) {
                ascii.push(b' ');
            } else if let Some(digit) = py_decimal(c) {
                ascii.push(b'0' + digit);
            } else {
                // CPython writes '?' and stops converting: nothing after it can matter.
                ascii.push(b'?');
                break;
            }
        }
        Cow::Owned(ascii)
    };
    let is_c_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r');
    let mut at = bytes.iter().take_while(|&&b| is_c_space(b)).count();
    let negative = bytes.get(at) == Some(&b'-');
    if matches!(bytes.get(at), Some(b'+' | b'-')) {
        at += 1;
    }
    if bytes.get(at) == Some(&b'_') {
        return Err(invalid());
    }
    let mut digits = 0usize;
    let mut value: i128 = 0;
    let mut huge = false;
    let mut previous = 0u8;
    while let Some(&b) = bytes.get(at) {
        if b == b'_' {
            if previous == b'_' {
                return Err(invalid());
            }
        } else if b.is_ascii_digit() {
            digits += 1;
            if !huge {
                value = value * 10 + i128::from(b - b'0');
                huge = value > RANGE_NUMBER_LIMIT;
            }
        } else {
            break;
        }
        previous = b;
        at += 1;
    }
    if previous == b'_' {
        return Err(invalid());
    }
    if digits > PY_INT_MAX_STR_DIGITS {
        return Err(HostPatternError::TooManyDigits { digits });
    }
    if digits == 0 {
        return Err(invalid());
    }
    at += bytes[at..].iter().take_while(|&&b| is_c_space(b)).count();
    if at != bytes.len() {
        return Err(invalid());
    }
    Ok(match (huge, negative) {
        (true, _) => PyInt::Huge { negative },
        (false, true) => PyInt::Small(-value),
        (false, false) => PyInt::Small(value),
    })
}

/// Python's `repr(str)`.
fn py_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        let code = c as u32;
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ if c == quote => {
                out.push('\\');
                out.push(c);
            }
            _ if (0x20..0x7f).contains(&code)
                || (code > 0x7f && char_class(c) != CLASS_UNPRINTABLE) =>
            {
                out.push(c);
            }
            // Writing to a `String` cannot fail.
            _ if code <= 0xff => drop(write!(out, "\\x{code:02x}")),
            _ if code <= 0xffff => drop(write!(out, "\\u{code:04x}")),
            _ => drop(write!(out, "\\U{code:08x}")),
        }
    }
    out.push(quote);
    out
}

/// Python's `str.strip()` with no argument.
pub(super) fn py_strip(s: &str) -> &str {
    s.trim_matches(py_isspace)
}

/// Python 3.11's `str.isspace()`.
pub(super) fn py_isspace(c: char) -> bool {
    matches!(
        c,
        '\t'..='\r'
            | '\x1c'..='\x1f'
            | ' '
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// Python 3.11's `unicodedata.decimal(c)`.
fn py_decimal(c: char) -> Option<u8> {
    let code = c as u32;
    let run = PY_DECIMAL_RUNS
        .chunks_exact(2)
        .find(|run| run[0] <= code && code <= run[1])?;
    // Every run starts at a zero and its length is a multiple of ten.
    u8::try_from((code - run[0]) % 10).ok()
}

/// Python's `\w` (str patterns): `str.isalnum()` or `_`.
pub(super) fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || c == '_'
    } else {
        char_class(c) == CLASS_WORD
    }
}

const CLASS_UNPRINTABLE: u32 = 0;
const CLASS_WORD: u32 = 2;

/// Where `c` falls in [`PY_CHAR_CLASSES`].
fn char_class(c: char) -> u32 {
    let code = c as u32;
    let after = PY_CHAR_CLASSES.partition_point(|&entry| entry >> 2 <= code);
    // The first entry starts at U+0000, so `after >= 1`.
    PY_CHAR_CLASSES[after.saturating_sub(1)] & 3
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::hostpattern::tests::{json_list, oracle};
    use crate::inventory::test_oracle::{XorShift, json_str};

    #[test]
    fn python_repr_escapes_like_python() {
        assert_eq!(py_repr("a'b"), "\"a'b\"");
        assert_eq!(py_repr("a'\"b"), "'a\\'\"b'");
        assert_eq!(
            py_repr("\t\x7f\u{85}é\u{200b}\u{e0001}\\"),
            "'\\t\\x7f\\x85é\\u200b\\U000e0001\\\\'"
        );
    }

    const INT_ORACLE: &str = r#"
import json, sys
cases = json.loads(sys.stdin.buffer.read().decode("utf-8"))
bad = 0
for text, rust in cases:
    try:
        value = int(text)
        if abs(value) > 10**30:
            py = {"huge": value < 0}
        else:
            py = {"ok": value}
    except ValueError as e:
        py = {"err": str(e)}
    if py != rust:
        bad += 1
        print("MISMATCH", ascii(text), "python:", ascii(py), "rust:", ascii(rust))
print(f"{len(cases) - bad}/{len(cases)} int() cases agree")
sys.exit(1 if bad else 0)
"#;

    #[test]
    fn python_int_emulation_agrees_with_python() {
        let pieces = [
            "0",
            "1",
            "9",
            "_",
            "__",
            "+",
            "-",
            " ",
            "\t",
            "\x0b",
            "\x1c",
            "\u{a0}",
            "\u{3000}",
            "\u{661}",
            "𝟗",
            "a",
            "x",
            "é",
            "\0",
            "00000000000000000000",
            "99999999999",
        ];
        let mut cases: Vec<String> = [
            "",
            " ",
            "1",
            "-0",
            "+_1",
            "0_1",
            "1_",
            "1__0",
            "1\0",
            "\x1c1",
            "\u{85}1\u{2028}",
            "1000000000000000000000000000000",
            "1000000000000000000000000000001",
            "-1000000000000000000000000000001",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        cases.push("1".repeat(4300));
        cases.push(format!("{}x", "1".repeat(4301)));
        cases.push(format!("{}_", "1".repeat(4301)));
        cases.push(format!("{}é", "\u{661}".repeat(4301)));
        let mut rng = XorShift(0x1A7E_6E25_0000_0003);
        for _ in 0..600 {
            cases.push(rng.text(&pieces, 1, 5));
        }
        let input = json_list(&cases, |text| {
            let result = match py_int(text) {
                Ok(PyInt::Small(v)) => format!("{{\"ok\":{v}}}"),
                Ok(PyInt::Huge { negative }) => format!("{{\"huge\":{negative}}}"),
                Err(e) => format!("{{\"err\":{}}}", json_str(&e.to_string())),
            };
            format!("[{},{result}]", json_str(text))
        });
        let report = oracle(INT_ORACLE, &input);
        assert!(report.contains(&format!("{0}/{0} int() cases agree", cases.len())));
        println!("{report}");
    }
}
