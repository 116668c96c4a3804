//! How Ansible types an INI variable value, reproduced exactly.
//!
//! ansible-core 2.19's INI plugin hands every variable value (after `key=` on a host line or in a
//! `[group:vars]` section) to CPython's `ast.literal_eval`. A `SyntaxError` or `ValueError` keeps the
//! raw string; any other exception fails the whole parse. A successful result is then coerced:
//! tuples and sets become lists, complex numbers and `...` become their text, bytes are decoded.
//! `vm` must agree with that bit for bit, because the inventory it writes is read by Ansible, so this
//! module re-implements the pipeline instead of guessing with a few regular expressions:
//!
//! 1. a tokenizer and a recognizer for the whole Python 3.11 expression grammar (a literal buried in an
//!    invalid expression is not a literal, and `{[1]: 0, 2: f(x)}` fails only because `f(x)` *parses*);
//! 2. `literal_eval`'s conversion, in Python's evaluation order, with Python's hashing, equality and
//!    set iteration order (so `{3, 1, 2}` lists as `[1, 2, 3]` and `{[1]: 2}` fails like Python);
//! 3. the INI plugin's coercion and the checks Ansible applies before it can use or print the value
//!    (dict keys that cannot be tagged, nesting that overflows Python's stack, keys that cannot be
//!    serialised).
//!
//! Where CPython's behaviour depends on the interpreter's stack depth (absurd nesting), the limits
//! were measured against `ansible-inventory` and are documented on the constants below.
//!
//! Known differences from Ansible, all for inputs no inventory contains:
//! - `\N{NAME}` escapes need Unicode's name table, which is not embedded: a string literal using one
//!   is kept as raw text (Python would decode the character, or fail if other parts of the same value
//!   make the parse fail).
//! - A lone surrogate (`'\ud800'`, or undecodable bytes in `b'\xff'`) cannot live in a Rust string; it
//!   becomes `?`, which is what `ansible-inventory` prints for it.
//! - Text decoded from bytes (`b'x'`) is a plain [`Value::Str`], but Ansible does not trust it as a
//!   template and `ansible-inventory` prints it as `{"__ansible_unsafe": "x"}`: [`Value::to_json`]
//!   cannot know, [`ansible_json`] (which takes the source) prints it exactly.
//! - Sets holding strings, bytes, `None` or `...` have no stable order in Python (string hashing is
//!   randomised per process); their elements keep source order here.
//! - Python's parser stack limit (a `MemoryError` for thousands of nested operators) is estimated
//!   from measured per-construct costs, so its exact threshold may be off by a few levels for
//!   unusual mixes of constructs. Python's `MemoryError` has no message; [`LiteralError`] gets one.
//! - The nesting limit Ansible hits while walking a stored value depends on where the value sits
//!   (a `[group:vars]` value listed with `--export` may nest one level deeper than a host variable);
//!   `vm` refuses at the strictest measured limit.

mod bigint;
mod coerce;
mod convert;
mod hash;
mod lexer;
mod parser;
mod repr;
mod strings;
#[cfg(test)]
mod tests;
mod unicode;

use std::collections::HashMap;
use std::fmt::Write as _;

use coerce::{Co, coerce, output_check};
use convert::{ConvErr, Converter};
use parser::{Fail, Parser};
use repr::float_repr;
use unicode::is_printable;

/// A value as Ansible holds it after parsing an INI variable.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Python `None`.
    Null,
    /// Python `True` / `False`.
    Bool(bool),
    /// A Python int that fits in 64 bits.
    Int(i64),
    /// A Python int beyond `i64`, as decimal text (with a leading `-` when negative).
    BigInt(String),
    /// A Python float (may be infinite: `1e999`).
    Float(f64),
    /// A Python str, also what complex numbers, `...` and bytes become.
    Str(String),
    /// A Python list, also what tuples and sets become.
    List(Vec<Value>),
    /// A Python dict in insertion order. Keys equal in Python (`1`, `1.0`, `True`) appear once: the
    /// first key stays in its place and the last value wins, exactly like a Python dict. Keys are
    /// always scalars (`Null`, `Bool`, `Int`, `BigInt`, `Float`, `Str`).
    Dict(Vec<(Value, Value)>),
}

/// Why Ansible's parse of a value fails, carrying Python's exception message
/// (e.g. `unhashable type: 'list'`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct LiteralError(pub String);

/// Types `src` the way ansible-core 2.19's INI plugin does (`_parse_value`).
///
/// Returns `Ok(Value::Str(src))` whenever Python keeps the string (it is not a literal, or not even
/// Python), and `Err` only where Ansible's parse of the inventory fails because of this value.
pub fn parse_value(src: &str) -> Result<Value, LiteralError> {
    parse_value_traced(src).0
}

/// The value of `src` exactly as `ansible-inventory --list` prints it: [`Value::to_json`], except
/// that text decoded from a bytes literal (`b'x'`) is wrapped as `{"__ansible_unsafe": "x"}`, as
/// Ansible does for strings it does not trust as templates. [`Value`] has no room for that mark, so
/// printing a value exactly needs its source.
pub fn ansible_json(src: &str) -> Result<serde_json::Value, LiteralError> {
    parse_traced(src).0.map(|parsed| match parsed {
        Parsed::Kept => serde_json::Value::String(src.to_owned()),
        Parsed::Fast(v) => v.to_json(),
        Parsed::Coerced(co) => co.into_json(),
    })
}

/// [`parse_value`], also telling whether the result contains a set whose order Python randomises
/// (the differential test compares those order-insensitively).
fn parse_value_traced(src: &str) -> (Result<Value, LiteralError>, bool) {
    let (result, unordered) = parse_traced(src);
    let value = result.map(|parsed| match parsed {
        Parsed::Kept => Value::Str(src.to_owned()),
        Parsed::Fast(v) => v,
        Parsed::Coerced(co) => co.into_value(),
    });
    (value, unordered)
}

/// What the pipeline made of a value, before it is shaped as a [`Value`] or as Ansible's JSON.
enum Parsed {
    /// Python keeps the source string.
    Kept,
    /// Known without parsing.
    Fast(Value),
    /// `literal_eval` produced a value, coerced and checked like Ansible does.
    Coerced(Co),
}

fn parse_traced(src: &str) -> (Result<Parsed, LiteralError>, bool) {
    // `ast.literal_eval` strips leading spaces and tabs (only those) before parsing.
    let s = src.trim_start_matches([' ', '\t']);
    match fast_path(s) {
        Fast::Keep => return (Ok(Parsed::Kept), false),
        Fast::Value(v) => return (Ok(Parsed::Fast(v)), false),
        Fast::Slow => {}
    }
    // The parser recurses once per bracket (and per lambda default); operator chains are iterative.
    // Input that could nest deeply gets a thread with a stack big enough for anything Python accepts
    // (200 brackets per parser, f-strings nesting a few parsers), whatever the caller's stack.
    let nesting = s
        .bytes()
        .filter(|b| matches!(b, b'(' | b'[' | b'{' | b'='))
        .count();
    if nesting > BIG_STACK_NESTING {
        let owned = src.to_owned();
        let worker = std::thread::Builder::new()
            .stack_size(BIG_STACK_BYTES)
            .spawn(move || slow_path(&owned));
        match worker {
            Ok(handle) => match handle.join() {
                Ok(result) => return result,
                Err(panic) => std::panic::resume_unwind(panic),
            },
            // Could not spawn (resource limits): parse here, the stack usually suffices.
            Err(_) => return slow_path(src),
        }
    }
    slow_path(src)
}

/// Inputs with more openers than this are parsed on a thread with [`BIG_STACK_BYTES`] of stack.
/// Below it the parse needs at most ~250 KiB of stack in a debug build (~10 KiB per level).
const BIG_STACK_NESTING: usize = 24;
const BIG_STACK_BYTES: usize = 256 << 20;

/// Plain inputs whose outcome is known without tokenizing: they are most values in an inventory.
enum Fast {
    Keep,
    Value(Value),
    Slow,
}

/// A value starting with a name (not `True`/`False`/`None`, not `set`, not a string prefix) can only
/// be a `SyntaxError` or convert its leftmost name first, which is a `ValueError`: the string is kept.
/// The only other outcome, a parser stack overflow, needs far longer input than this.
const FAST_KEEP_MAX: usize = 256;

fn fast_path(s: &str) -> Fast {
    let b = s.as_bytes();
    let Some(&first) = b.first() else {
        return Fast::Keep; // empty source: SyntaxError
    };
    if first.is_ascii_digit() {
        if !b.iter().all(u8::is_ascii_digit) {
            return Fast::Slow;
        }
        if first == b'0' {
            // `00` is zero, `007` is a SyntaxError (leading zeros).
            return if b.iter().all(|&c| c == b'0') {
                Fast::Value(Value::Int(0))
            } else {
                Fast::Keep
            };
        }
        return match s.parse::<i64>() {
            Ok(v) => Fast::Value(Value::Int(v)),
            Err(_) => Fast::Slow,
        };
    }
    if first.is_ascii_alphabetic() || first == b'_' {
        let len = b
            .iter()
            .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
            .unwrap_or(b.len());
        if len < b.len() && (b[len] >= 0x80 || b[len] == b'\'' || b[len] == b'"') {
            return Fast::Slow; // a non-ASCII identifier (maybe `ｓｅｔ`) or a string prefix
        }
        let whole = len == b.len();
        match &s[..len] {
            "True" | "False" | "None" | "set" => {
                if whole {
                    return match &s[..len] {
                        "True" => Fast::Value(Value::Bool(true)),
                        "False" => Fast::Value(Value::Bool(false)),
                        "None" => Fast::Value(Value::Null),
                        _ => Fast::Keep,
                    };
                }
                return Fast::Slow;
            }
            _ => {}
        }
        if whole || b.len() <= FAST_KEEP_MAX {
            return Fast::Keep;
        }
    }
    Fast::Slow
}

/// The full pipeline: parse, check AST depth, convert, coerce, check, build the [`Value`].
fn slow_path(src: &str) -> (Result<Parsed, LiteralError>, bool) {
    let keep = || (Ok(Parsed::Kept), false);
    let s = src.trim_start_matches([' ', '\t']);
    // CPython 3.11 refuses source with a NUL byte with a ValueError: the string is kept.
    if s.contains('\0') {
        return keep();
    }
    // Compiling a str translates `\r\n` and `\r` to `\n`, inside string literals too.
    let normalized;
    let s = if s.contains('\r') {
        normalized = s.replace("\r\n", "\n").replace('\r', "\n");
        normalized.as_str()
    } else {
        s
    };
    let expr = match Parser::new(s, false).parse() {
        Ok(e) => e,
        Err(Fail::Syntax | Fail::UnknownName) => return keep(),
        Err(Fail::Memory) => return (Err(LiteralError(MEMORY_ERROR.to_owned())), false),
    };
    // `ast.parse` builds Python objects recursively; the +1 is the `Expression` node.
    if expr.depth + 1 > AST_DEPTH_LIMIT {
        return (Err(LiteralError(AST_RECURSION_ERROR.to_owned())), false);
    }
    let mut conv = Converter { unordered: false };
    let py = match conv.convert(expr) {
        Ok(p) => p,
        Err(ConvErr::Value) => return keep(),
        Err(ConvErr::Fatal(msg)) => return (Err(LiteralError(msg)), false),
    };
    let result = coerce(py).and_then(|co| {
        if co.height() > MAX_VALUE_HEIGHT {
            return Err(LiteralError(VISIT_RECURSION_ERROR.to_owned()));
        }
        output_check(&co)?;
        Ok(Parsed::Coerced(co))
    });
    (result, conv.unordered)
}

/// Python's parser gives up with an empty `MemoryError` when its rule stack passes 6000 levels;
/// an empty message would help nobody, so this one says what happened.
const MEMORY_ERROR: &str = "MemoryError: the expression is nested too deeply for Python's parser";

/// `ast.parse` converts the C AST to Python objects with a recursion limit of 3 × the interpreter's
/// (3000) minus 3 × the current stack depth. Inside `ansible-inventory` that leaves 2955 nested AST
/// nodes, counting the `Expression` root (measured: a chain of 2953 unary minus signs parses, 2954
/// fail, both on host lines and in `:vars`).
const AST_DEPTH_LIMIT: u32 = 2955;
const AST_RECURSION_ERROR: &str = "maximum recursion depth exceeded during ast construction";

/// Ansible re-walks every variable (when storing it and when printing it) with about six stack
/// frames per nesting level. Measured with `ansible-inventory --list` and `--list --export`, from host
/// lines and `:vars`: a value nested 162 deep (root = 1, a leaf counts) passes everywhere, 163 fails
/// at least somewhere. `vm` takes the strict side: 163 is refused. The exact limit depends on
/// Ansible's stack depth (a directory inventory adds frames), so this is the common case, not a law.
const MAX_VALUE_HEIGHT: usize = 162;
const VISIT_RECURSION_ERROR: &str =
    "maximum recursion depth exceeded while calling a Python object";

/// Python's `sys.int_max_str_digits` default: printing a longer int raises ValueError, and a decimal
/// literal longer than this is a SyntaxError.
const INT_MAX_STR_DIGITS: usize = 4300;
const INT_DIGITS_ERROR: &str = "Exceeds the limit (4300 digits) for integer string conversion; use \
                                sys.set_int_max_str_digits() to increase the limit";

impl Value {
    /// The value as `ansible-inventory --list` prints it, in `serde_json` form.
    ///
    /// Dict keys are stringified like Python's `json` (`True` → `"true"`, `None` → `"null"`,
    /// `1.5` → `"1.5"`, `1e16` → `"1e+16"`), keys that collide after that keep the last value, and
    /// keys are sorted, as Ansible dumps with `sort_keys=True`. JSON cannot carry what Python prints
    /// as bare `Infinity`/`-Infinity`/`NaN` (`1e999` is a float infinity), so those floats become
    /// `{"$nonfinite": "Infinity"}` (or `"-Infinity"`, `"NaN"`): unambiguous, unlike a string, and
    /// the form the project's Ansible oracle writes. Ints beyond `i64` are a JSON integer when they
    /// fit in `u64`, else the nearest `f64`, else their decimal text.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::BigInt(text) => {
                if let Ok(u) = text.parse::<u64>() {
                    return J::from(u);
                }
                match text.parse::<f64>() {
                    Ok(f) if f.is_finite() => float_json(f),
                    _ => J::String(text.clone()),
                }
            }
            Value::Float(f) => float_json(*f),
            Value::Str(s) => J::String(s.clone()),
            Value::List(items) => J::Array(items.iter().map(Value::to_json).collect()),
            Value::Dict(entries) => {
                json_object(entries.iter().map(|(k, v)| (k.json_key(), v.to_json())))
            }
        }
    }

    /// A dict key as Python's `json` writes it. Lists and dicts never are keys of a parsed value;
    /// should one be built by hand, its JSON text stands in.
    fn json_key(&self) -> String {
        match self {
            Value::Null => "null".to_owned(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::BigInt(s) | Value::Str(s) => s.clone(),
            Value::Float(f) => float_json_text(*f),
            Value::List(_) | Value::Dict(_) => self.to_json().to_string(),
        }
    }
}

/// A JSON object as Python's `json` writes a dict of already stringified keys with `sort_keys`:
/// a later duplicate key replaces the value; keys sort by code point (UTF-8 byte order).
fn json_object(entries: impl Iterator<Item = (String, serde_json::Value)>) -> serde_json::Value {
    let mut by_key: Vec<(String, serde_json::Value)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (key, value) in entries {
        match index.get(&key) {
            Some(&i) => by_key[i].1 = value,
            None => {
                index.insert(key.clone(), by_key.len());
                by_key.push((key, value));
            }
        }
    }
    by_key.sort_by(|a, b| a.0.cmp(&b.0));
    serde_json::Value::Object(by_key.into_iter().collect())
}

fn float_json(f: f64) -> serde_json::Value {
    match serde_json::Number::from_f64(f) {
        Some(n) => serde_json::Value::Number(n),
        None => serde_json::json!({ "$nonfinite": float_json_text(f) }),
    }
}

/// `json.dumps(float)`: `float.__repr__`, with JavaScript's names for the non-finite values.
fn float_json_text(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 {
            "Infinity".to_owned()
        } else {
            "-Infinity".to_owned()
        }
    } else {
        float_repr(f, true)
    }
}

/// A single-quoted Python string literal that `ast.literal_eval` turns back into exactly `s`.
///
/// Backslash and `'` are escaped; so is every control, line-breaking or otherwise non-printable
/// character (as `\xNN`, `\uNNNN` or `\UNNNNNNNN`), which keeps the literal on one INI line: it
/// contains none of the characters `str.splitlines()` breaks at, and no NUL. Printable non-ASCII text
/// stays readable. (Unassigned code points are left as they are: they are valid and break no line.)
pub fn python_str_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c if !is_printable(c) => {
                let cp = c as u32;
                // Writing to a String cannot fail.
                let _ = if cp <= 0xff {
                    write!(out, "\\x{cp:02x}")
                } else if cp <= 0xffff {
                    write!(out, "\\u{cp:04x}")
                } else {
                    write!(out, "\\U{cp:08x}")
                };
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}
