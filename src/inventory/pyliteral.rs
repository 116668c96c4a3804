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

use std::collections::HashMap;
use std::fmt::Write as _;

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

/// Python's `str.isprintable` for assigned characters: not a control, format, private-use,
/// separator (other than space) or surrogate character.
fn is_printable(c: char) -> bool {
    let cp = c as u32;
    if cp < 0x80 {
        return (0x20..0x7f).contains(&cp);
    }
    !in_ranges(NON_PRINTABLE, cp)
}

fn in_ranges(table: &[(u32, u32)], cp: u32) -> bool {
    match table.binary_search_by(|&(lo, _)| lo.cmp(&cp)) {
        Ok(_) => true,
        Err(0) => false,
        Err(i) => cp <= table[i - 1].1,
    }
}

// ---------------------------------------------------------------------------------------------
// Tokenizer: CPython 3.11's `tokenizer.c`, for one expression.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tok {
    Name,
    Number(Num),
    Str,
    Op(Op),
    Kw(Kw),
    Newline,
    End,
    /// A tokenizer error: the parse is a SyntaxError once the parser reaches it.
    Error,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Num {
    Int(u32),
    Float,
    Imag,
}

/// Hard keywords; only those an expression may contain are told apart.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kw {
    False,
    None,
    True,
    And,
    Async,
    Await,
    Else,
    For,
    From,
    If,
    In,
    Is,
    Lambda,
    Not,
    Or,
    Yield,
    Other,
}

/// Operators an expression may contain. Statement-only tokens (`;`, `->`, `+=`, …) and characters
/// that are no token (`$`, `?`, `!` alone, `<>` without the Barry-as-FLUFL future) are tokenizer
/// errors here: for an expression they are a SyntaxError either way.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    LPar,
    RPar,
    LSqb,
    RSqb,
    LBrace,
    RBrace,
    Colon,
    Comma,
    Plus,
    Minus,
    Star,
    Slash,
    VBar,
    Amper,
    Less,
    Greater,
    Equal,
    Dot,
    Percent,
    Tilde,
    Circumflex,
    At,
    EqEqual,
    NotEqual,
    LessEqual,
    GreaterEqual,
    LeftShift,
    RightShift,
    DoubleStar,
    DoubleSlash,
    ColonEqual,
    Ellipsis,
}

#[derive(Clone, Copy, Debug)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

/// Python's tokenizer refuses to open a bracket when 200 are already open.
const MAX_PAREN_LEVEL: usize = 200;

struct Lexer<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
    parens: Vec<u8>,
    at_line_start: bool,
    line_has_token: bool,
    newline_emitted: bool,
    finished: Option<Tok>,
}

fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

impl<'a> Lexer<'a> {
    fn new(s: &'a str) -> Self {
        Lexer {
            s,
            b: s.as_bytes(),
            pos: 0,
            parens: Vec::new(),
            at_line_start: true,
            line_has_token: false,
            newline_emitted: false,
            finished: None,
        }
    }

    fn at(&self, p: usize) -> u8 {
        self.b.get(p).copied().unwrap_or(0)
    }

    fn next_token(&mut self) -> Token {
        if let Some(tok) = self.finished {
            return Token {
                tok,
                start: self.pos,
                end: self.pos,
            };
        }
        let tok = self.lex();
        if let Tok::End | Tok::Error = tok.tok {
            self.finished = Some(tok.tok);
        }
        tok
    }

    fn error(&self) -> Token {
        Token {
            tok: Tok::Error,
            start: self.pos,
            end: self.pos,
        }
    }

    fn lex(&mut self) -> Token {
        let len = self.b.len();
        loop {
            if self.at_line_start && self.parens.is_empty() {
                // Indentation of a new line. Blank and comment-only lines are skipped; the first real
                // line must not be indented (eval input has no INDENT), and nothing may follow the
                // expression's line.
                let mut col = 0usize;
                while self.pos < len {
                    match self.b[self.pos] {
                        b' ' => col += 1,
                        b'\t' => col = (col / 8 + 1) * 8,
                        b'\x0c' => col = 0,
                        _ => break,
                    }
                    self.pos += 1;
                }
                match self.b.get(self.pos) {
                    None => {}
                    Some(b'#') | Some(b'\n') => {
                        while self.pos < len && self.b[self.pos] != b'\n' {
                            self.pos += 1;
                        }
                        if self.pos < len {
                            self.pos += 1;
                            continue;
                        }
                    }
                    Some(_) => {
                        if self.newline_emitted || col != 0 {
                            return self.error();
                        }
                        self.at_line_start = false;
                    }
                }
            }
            while self.pos < len && matches!(self.b[self.pos], b' ' | b'\t' | b'\x0c') {
                self.pos += 1;
            }
            if self.at(self.pos) == b'#' {
                while self.pos < len && self.b[self.pos] != b'\n' {
                    self.pos += 1;
                }
            }
            if self.pos >= len {
                if !self.parens.is_empty() {
                    return self.error();
                }
                if self.line_has_token && !self.newline_emitted {
                    self.newline_emitted = true;
                    self.line_has_token = false;
                    return Token {
                        tok: Tok::Newline,
                        start: len,
                        end: len,
                    };
                }
                return Token {
                    tok: Tok::End,
                    start: len,
                    end: len,
                };
            }
            let c = self.b[self.pos];
            if c == b'\n' {
                self.pos += 1;
                if !self.parens.is_empty() {
                    continue;
                }
                self.at_line_start = true;
                if self.line_has_token {
                    self.line_has_token = false;
                    self.newline_emitted = true;
                    return Token {
                        tok: Tok::Newline,
                        start: self.pos - 1,
                        end: self.pos,
                    };
                }
                continue;
            }
            if c == b'\\' {
                // Line continuation; anything else after a backslash is an error.
                if self.at(self.pos + 1) == b'\n' {
                    self.pos += 2;
                    if self.pos >= len {
                        return self.error();
                    }
                    continue;
                }
                return self.error();
            }
            if self.newline_emitted {
                return self.error();
            }
            self.line_has_token = true;
            let start = self.pos;
            let tok = self.token(start);
            return match tok {
                Some((tok, end)) => {
                    self.pos = end;
                    Token { tok, start, end }
                }
                None => self.error(),
            };
        }
    }

    /// One token starting at `p` (not whitespace), or None for a tokenizer error.
    fn token(&mut self, p: usize) -> Option<(Tok, usize)> {
        let c = self.b[p];
        if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            return self.name_or_string(p);
        }
        if c.is_ascii_digit() || (c == b'.' && self.at(p + 1).is_ascii_digit()) {
            return self.number(p).map(|(end, n)| (Tok::Number(n), end));
        }
        if c == b'\'' || c == b'"' {
            return self.string(p).map(|end| (Tok::Str, end));
        }
        let n1 = self.at(p + 1);
        let n2 = self.at(p + 2);
        let (op, width) = match c {
            b'(' | b'[' | b'{' => {
                if self.parens.len() >= MAX_PAREN_LEVEL {
                    return None;
                }
                self.parens.push(c);
                let op = match c {
                    b'(' => Op::LPar,
                    b'[' => Op::LSqb,
                    _ => Op::LBrace,
                };
                (op, 1)
            }
            b')' | b']' | b'}' => {
                let open = self.parens.pop()?;
                let (want, op) = match c {
                    b')' => (b'(', Op::RPar),
                    b']' => (b'[', Op::RSqb),
                    _ => (b'{', Op::RBrace),
                };
                if open != want {
                    return None;
                }
                (op, 1)
            }
            b'.' if n1 == b'.' && n2 == b'.' => (Op::Ellipsis, 3),
            b'.' => (Op::Dot, 1),
            b'*' if n1 == b'*' && n2 == b'=' => return None,
            b'*' if n1 == b'*' => (Op::DoubleStar, 2),
            b'/' if n1 == b'/' && n2 == b'=' => return None,
            b'/' if n1 == b'/' => (Op::DoubleSlash, 2),
            b'<' if n1 == b'<' && n2 == b'=' => return None,
            b'<' if n1 == b'<' => (Op::LeftShift, 2),
            b'>' if n1 == b'>' && n2 == b'=' => return None,
            b'>' if n1 == b'>' => (Op::RightShift, 2),
            b'=' if n1 == b'=' => (Op::EqEqual, 2),
            b'!' if n1 == b'=' => (Op::NotEqual, 2),
            b'<' if n1 == b'=' => (Op::LessEqual, 2),
            b'>' if n1 == b'=' => (Op::GreaterEqual, 2),
            b'<' if n1 == b'>' => return None,
            b':' if n1 == b'=' => (Op::ColonEqual, 2),
            b'-' if n1 == b'>' => return None,
            b'+' | b'-' | b'*' | b'/' | b'%' | b'&' | b'|' | b'^' | b'@' if n1 == b'=' => {
                return None;
            }
            b':' => (Op::Colon, 1),
            b',' => (Op::Comma, 1),
            b'+' => (Op::Plus, 1),
            b'-' => (Op::Minus, 1),
            b'*' => (Op::Star, 1),
            b'/' => (Op::Slash, 1),
            b'|' => (Op::VBar, 1),
            b'&' => (Op::Amper, 1),
            b'<' => (Op::Less, 1),
            b'>' => (Op::Greater, 1),
            b'=' => (Op::Equal, 1),
            b'%' => (Op::Percent, 1),
            b'~' => (Op::Tilde, 1),
            b'^' => (Op::Circumflex, 1),
            b'@' => (Op::At, 1),
            _ => return None,
        };
        Some((Tok::Op(op), p + width))
    }

    fn name_or_string(&self, p: usize) -> Option<(Tok, usize)> {
        // String prefixes: any case of r, u, b, f, br/rb, fr/rf; `ur`, `bu`, `ub`… are names.
        let (mut saw_b, mut saw_r, mut saw_u, mut saw_f) = (false, false, false, false);
        let mut q = p;
        loop {
            match self.at(q).to_ascii_lowercase() {
                b'b' if !(saw_b || saw_u || saw_f) => saw_b = true,
                b'u' if !(saw_b || saw_u || saw_r || saw_f) => saw_u = true,
                b'r' if !(saw_r || saw_u) => saw_r = true,
                b'f' if !(saw_f || saw_b || saw_u) => saw_f = true,
                _ => break,
            }
            q += 1;
            if matches!(self.at(q), b'\'' | b'"') {
                return self.string(q).map(|end| (Tok::Str, end));
            }
        }
        let mut end = p;
        let mut nonascii = false;
        while end < self.b.len() && is_ident_byte(self.b[end]) {
            nonascii |= self.b[end] >= 0x80;
            end += 1;
        }
        let text = &self.s[p..end];
        if nonascii {
            return verify_identifier(text).then_some((Tok::Name, end));
        }
        let tok = match text {
            "False" => Tok::Kw(Kw::False),
            "None" => Tok::Kw(Kw::None),
            "True" => Tok::Kw(Kw::True),
            "and" => Tok::Kw(Kw::And),
            "async" => Tok::Kw(Kw::Async),
            "await" => Tok::Kw(Kw::Await),
            "else" => Tok::Kw(Kw::Else),
            "for" => Tok::Kw(Kw::For),
            "from" => Tok::Kw(Kw::From),
            "if" => Tok::Kw(Kw::If),
            "in" => Tok::Kw(Kw::In),
            "is" => Tok::Kw(Kw::Is),
            "lambda" => Tok::Kw(Kw::Lambda),
            "not" => Tok::Kw(Kw::Not),
            "or" => Tok::Kw(Kw::Or),
            "yield" => Tok::Kw(Kw::Yield),
            "as" | "assert" | "break" | "class" | "continue" | "def" | "del" | "elif"
            | "except" | "finally" | "global" | "import" | "nonlocal" | "pass" | "raise"
            | "return" | "try" | "while" | "with" => Tok::Kw(Kw::Other),
            _ => Tok::Name,
        };
        Some((tok, end))
    }

    /// The end of a string literal whose opening quote is at `q`.
    fn string(&self, q: usize) -> Option<usize> {
        let quote = self.b[q];
        let mut p = q + 1;
        let triple = self.at(p) == quote && self.at(p + 1) == quote;
        if triple {
            p += 2;
        } else if self.at(p) == quote {
            return Some(p + 1); // empty string
        }
        let size = if triple { 3 } else { 1 };
        let mut closing = 0;
        while closing != size {
            let c = *self.b.get(p)?;
            p += 1;
            if size == 1 && c == b'\n' {
                return None;
            }
            if c == quote {
                closing += 1;
            } else {
                closing = 0;
                if c == b'\\' && p < self.b.len() {
                    p += 1; // the escaped byte; a multi-byte char continues harmlessly
                }
            }
        }
        Some(p)
    }

    /// A number literal starting at `p`, following `tok_get`'s state machine.
    fn number(&self, p: usize) -> Option<(usize, Num)> {
        let mut p = p;
        if self.at(p) == b'.' {
            return self.fraction(p + 1);
        }
        if self.at(p) == b'0' {
            p += 1;
            let radix = match self.at(p) {
                b'x' | b'X' => 16,
                b'o' | b'O' => 8,
                b'b' | b'B' => 2,
                _ => 10,
            };
            if radix != 10 {
                p += 1;
                let ok = |c: u8| (c as char).is_digit(radix);
                loop {
                    if self.at(p) == b'_' {
                        p += 1;
                    }
                    if !ok(self.at(p)) {
                        return None;
                    }
                    while ok(self.at(p)) {
                        p += 1;
                    }
                    if self.at(p) != b'_' {
                        break;
                    }
                }
                if radix != 16 && self.at(p).is_ascii_digit() {
                    return None; // `0o8`, `0b2`
                }
                return self.end_of_number(p).then_some((p, Num::Int(radix)));
            }
            // Zeros (with underscores), then maybe an old-style octal, which only a float may be.
            loop {
                if self.at(p) == b'_' {
                    p += 1;
                    if !self.at(p).is_ascii_digit() {
                        return None;
                    }
                }
                if self.at(p) != b'0' {
                    break;
                }
                p += 1;
            }
            let mut nonzero = false;
            if self.at(p).is_ascii_digit() {
                nonzero = true;
                p = self.decimal_tail(p)?;
            }
            return match self.at(p) {
                b'.' => self.fraction(p + 1),
                b'e' | b'E' => self.exponent(p, false),
                b'j' | b'J' => self.imaginary(p),
                _ if nonzero => None,
                _ => self.end_of_number(p).then_some((p, Num::Int(10))),
            };
        }
        p = self.decimal_tail(p)?;
        match self.at(p) {
            b'.' => self.fraction(p + 1),
            b'e' | b'E' => self.exponent(p, false),
            b'j' | b'J' => self.imaginary(p),
            _ => self.end_of_number(p).then_some((p, Num::Int(10))),
        }
    }

    /// Digits with single underscores between them, from a digit at `p`.
    fn decimal_tail(&self, mut p: usize) -> Option<usize> {
        loop {
            while self.at(p).is_ascii_digit() {
                p += 1;
            }
            if self.at(p) != b'_' {
                return Some(p);
            }
            p += 1;
            if !self.at(p).is_ascii_digit() {
                return None;
            }
        }
    }

    fn fraction(&self, mut p: usize) -> Option<(usize, Num)> {
        if self.at(p).is_ascii_digit() {
            p = self.decimal_tail(p)?;
        }
        match self.at(p) {
            b'e' | b'E' => self.exponent(p, true),
            b'j' | b'J' => self.imaginary(p),
            _ => self.end_of_number(p).then_some((p, Num::Float)),
        }
    }

    fn exponent(&self, e: usize, seen_dot: bool) -> Option<(usize, Num)> {
        let mut p = e + 1;
        match self.at(p) {
            b'+' | b'-' => {
                p += 1;
                if !self.at(p).is_ascii_digit() {
                    return None;
                }
            }
            c if c.is_ascii_digit() => {}
            _ => {
                // Not an exponent: `1else` is the number 1 and the keyword `else`.
                let kind = if seen_dot { Num::Float } else { Num::Int(10) };
                return self.end_of_number(e).then_some((e, kind));
            }
        }
        p = self.decimal_tail(p)?;
        if matches!(self.at(p), b'j' | b'J') {
            return self.imaginary(p);
        }
        self.end_of_number(p).then_some((p, Num::Float))
    }

    fn imaginary(&self, j: usize) -> Option<(usize, Num)> {
        self.end_of_number(j + 1).then_some((j + 1, Num::Imag))
    }

    /// `verify_end_of_number`: a number may run into `and`, `else`, `for`, `if`, `in`, `is`, `not`
    /// or `or` (a DeprecationWarning, ignored), but not into any other identifier character.
    fn end_of_number(&self, p: usize) -> bool {
        let next_is = |word: &[u8]| self.b.get(p + 1..p + 1 + word.len()) == Some(word);
        let keyword = match self.at(p) {
            b'a' => next_is(b"nd"),
            b'e' => next_is(b"lse"),
            b'f' => next_is(b"or"),
            b'i' => matches!(self.at(p + 1), b'f' | b'n' | b's'),
            b'o' => next_is(b"r"),
            b'n' => next_is(b"ot"),
            _ => false,
        };
        keyword || !is_ident_byte(self.at(p))
    }
}

/// Non-ASCII identifiers must be XID_Start XID_Continue* (Unicode 14, as in CPython 3.11).
fn verify_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) if c == '_' || ident_class(c) == 2 => chars.all(|c| ident_class(c) >= 1),
        _ => false,
    }
}

/// 2: may start an identifier, 1: may only continue one, 0: neither.
fn ident_class(c: char) -> u8 {
    if c.is_ascii() {
        return if c.is_ascii_alphabetic() || c == '_' {
            2
        } else if c.is_ascii_digit() {
            1
        } else {
            0
        };
    }
    let cp = c as u32;
    match IDENT_RANGES.binary_search_by(|&(lo, _, _)| lo.cmp(&cp)) {
        Ok(i) => 1 + u8::from(IDENT_RANGES[i].2),
        Err(0) => 0,
        Err(i) => {
            let (_, hi, start) = IDENT_RANGES[i - 1];
            if cp <= hi { 1 + u8::from(start) } else { 0 }
        }
    }
}

/// Whether an identifier's NFKC normalisation (what the parser stores) is `set`: `ｓｅｔ()` is
/// `set()` to `literal_eval`.
fn names_set(text: &str) -> bool {
    let mut chars = text.chars();
    let (Some(s), Some(e), Some(t), None) =
        (chars.next(), chars.next(), chars.next(), chars.next())
    else {
        return false;
    };
    (s == 's' || NFKC_S.contains(&s))
        && (e == 'e' || NFKC_E.contains(&e))
        && (t == 't' || NFKC_T.contains(&t))
}

// ---------------------------------------------------------------------------------------------
// Parser: a recognizer for CPython 3.11's expression grammar that keeps the structure
// `literal_eval` looks at, the depth of the AST `ast.parse` would build, and an estimate of the
// PEG parser's rule depth.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fail {
    /// SyntaxError (or ValueError from the parser): the string is kept.
    Syntax,
    /// A `\N{…}` escape we cannot resolve: the string is kept (documented difference).
    UnknownName,
    /// The parser's stack overflowed: MemoryError, Ansible fails.
    Memory,
}

type PResult<T> = Result<T, Fail>;

/// Whether an expression can be an assignment target (for `for` clauses in comprehensions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tgt {
    No,
    Yes,
    /// `*target`: valid inside a tuple or list target.
    Starred,
}

#[derive(Debug)]
struct Expr {
    kind: Kind,
    /// Height of this subtree in Python's AST (a leaf is 1).
    depth: u32,
    tgt: Tgt,
}

/// What `literal_eval` can see of an expression; everything else is `Other` (a ValueError).
#[derive(Debug)]
enum Kind {
    Const(Py),
    Name {
        is_set: bool,
    },
    Tuple(Vec<Expr>),
    List(Vec<Expr>),
    Set(Vec<Expr>),
    /// `None` keys are `**mapping` entries.
    Dict(Vec<(Option<Expr>, Expr)>),
    Unary {
        neg: bool,
        operand: Box<Expr>,
    },
    AddSub {
        sub: bool,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    EmptySetCall,
    Starred,
    Other,
}

impl Expr {
    fn other(depth: u32) -> Expr {
        Expr {
            kind: Kind::Other,
            depth,
            tgt: Tgt::No,
        }
    }
    fn leaf(kind: Kind) -> Expr {
        Expr {
            kind,
            depth: 1,
            tgt: Tgt::No,
        }
    }
    fn is_starred(&self) -> bool {
        matches!(self.kind, Kind::Starred)
    }
}

/// The PEG parser fails with MemoryError when a rule is entered 6000 rules deep. Levels are tracked
/// as the level of the `factor` rule for the current operand; an atom sits 5 rules below it, and the
/// top-level `factor` is at 20 (measured: 5975 unary minus signs parse, 5976 do not).
const MAX_PARSER_LEVEL: u32 = 6000;
const TOP_LEVEL: u32 = 20;
/// Measured growth of the `factor` level when an operand is nested in each construct.
mod lv {
    pub const UNARY: u32 = 1;
    pub const NOT: u32 = 1;
    pub const POW: u32 = 2;
    pub const LAMBDA_BODY: u32 = 2;
    pub const LAMBDA_DEFAULT: u32 = 8;
    pub const IF_ELSE: u32 = 1;
    pub const BOOL_OPERAND: u32 = 2;
    pub const COMPARE_OPERAND: u32 = 3;
    pub const GROUP: u32 = 28;
    pub const TUPLE_LATER: u32 = 30;
    pub const LIST: u32 = 29;
    pub const LIST_LATER: u32 = 30;
    pub const DICT: u32 = 29;
    pub const CALL_FIRST: u32 = 24;
    pub const CALL_LATER: u32 = 28;
    pub const CALL_STARRED: u32 = 27;
    pub const SUBSCRIPT: u32 = 24;
    pub const COMP_ITER: u32 = 27;
    pub const COMP_IF: u32 = 29;
    pub const WALRUS: u32 = 1;
    pub const YIELD: u32 = 29;
    pub const AWAIT: u32 = 0;
    pub const TOP_TUPLE_LATER: u32 = 2;
}

struct Parser<'a> {
    src: &'a str,
    lex: Lexer<'a>,
    toks: Vec<Token>,
    pos: usize,
    /// Parsing an f-string replacement field (`fstring: star_expressions`).
    fstring: bool,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, fstring: bool) -> Self {
        Parser {
            src,
            lex: Lexer::new(src),
            toks: Vec::new(),
            pos: 0,
            fstring,
        }
    }

    fn parse(&mut self) -> PResult<Expr> {
        // `fstring: star_expressions` is one rule deeper than `eval: expressions`.
        let e = if self.fstring {
            self.star_expressions(TOP_LEVEL + 1)?
        } else {
            self.expressions(TOP_LEVEL)?
        };
        if self.peek() == Tok::Newline {
            self.bump();
        }
        if self.peek() != Tok::End {
            return Err(Fail::Syntax);
        }
        Ok(e)
    }

    // -- token access -----------------------------------------------------------------------

    fn fill(&mut self, n: usize) {
        while self.toks.len() <= self.pos + n {
            if self
                .toks
                .last()
                .is_some_and(|last| matches!(last.tok, Tok::End | Tok::Error))
            {
                return;
            }
            let t = self.lex.next_token();
            self.toks.push(t);
        }
    }

    fn peek_n(&mut self, n: usize) -> Tok {
        self.fill(n);
        match self.toks.get(self.pos + n).or(self.toks.last()) {
            Some(t) => t.tok,
            None => Tok::End,
        }
    }

    fn peek(&mut self) -> Tok {
        self.peek_n(0)
    }

    fn bump(&mut self) -> Token {
        self.fill(0);
        let t = self.toks.get(self.pos).or(self.toks.last()).copied();
        let t = t.unwrap_or(Token {
            tok: Tok::End,
            start: self.src.len(),
            end: self.src.len(),
        });
        if !matches!(t.tok, Tok::End | Tok::Error) {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, tok: Tok) -> bool {
        if self.peek() == tok {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat_op(&mut self, op: Op) -> bool {
        self.eat(Tok::Op(op))
    }

    fn eat_kw(&mut self, kw: Kw) -> bool {
        self.eat(Tok::Kw(kw))
    }

    fn expect_op(&mut self, op: Op) -> PResult<()> {
        if self.eat_op(op) {
            Ok(())
        } else {
            Err(Fail::Syntax)
        }
    }

    fn at_op(&mut self, op: Op) -> bool {
        self.peek() == Tok::Op(op)
    }

    fn at_kw(&mut self, kw: Kw) -> bool {
        self.peek() == Tok::Kw(kw)
    }

    fn at_comp(&mut self) -> bool {
        self.at_kw(Kw::For) || self.at_kw(Kw::Async)
    }

    /// `NAME ':='`: the start of an assignment expression.
    fn at_walrus(&mut self) -> bool {
        self.peek() == Tok::Name && self.peek_n(1) == Tok::Op(Op::ColonEqual)
    }

    fn starts_expression(&mut self) -> bool {
        match self.peek() {
            Tok::Name | Tok::Number(_) | Tok::Str => true,
            Tok::Kw(k) => matches!(
                k,
                Kw::True | Kw::False | Kw::None | Kw::Not | Kw::Lambda | Kw::Await
            ),
            Tok::Op(o) => matches!(
                o,
                Op::LPar | Op::LSqb | Op::LBrace | Op::Minus | Op::Plus | Op::Tilde | Op::Ellipsis
            ),
            _ => false,
        }
    }

    fn check_level(level: u32) -> PResult<()> {
        if level + 5 > MAX_PARSER_LEVEL {
            Err(Fail::Memory)
        } else {
            Ok(())
        }
    }

    // -- expressions ------------------------------------------------------------------------

    /// `expressions: expression (',' expression)* [',']` (the top of eval input; no `*`).
    fn expressions(&mut self, level: u32) -> PResult<Expr> {
        let first = self.expression(level)?;
        if !self.at_op(Op::Comma) {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_op(Op::Comma) {
            if matches!(self.peek(), Tok::Newline | Tok::End) {
                break;
            }
            items.push(self.expression(level + lv::TOP_TUPLE_LATER)?);
        }
        Ok(seq_expr(Kind::Tuple, items))
    }

    /// `star_expressions`: like `expressions` but `*x` items are allowed.
    fn star_expressions(&mut self, level: u32) -> PResult<Expr> {
        let first = self.star_expression(level)?;
        if !self.at_op(Op::Comma) {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_op(Op::Comma) {
            if !(self.starts_expression() || self.at_op(Op::Star)) {
                break;
            }
            items.push(self.star_expression(level + lv::TOP_TUPLE_LATER)?);
        }
        Ok(seq_expr(Kind::Tuple, items))
    }

    fn star_expression(&mut self, level: u32) -> PResult<Expr> {
        if self.eat_op(Op::Star) {
            let inner = self.bitwise_or(level)?;
            return Ok(starred(inner));
        }
        self.expression(level)
    }

    /// `expression`: lambdas and conditional expressions (chains of them iteratively), else a
    /// disjunction.
    fn expression(&mut self, level: u32) -> PResult<Expr> {
        let mut level = level;
        let mut frames: Vec<u32> = Vec::new();
        let last = loop {
            if self.eat_kw(Kw::Lambda) {
                let args = self.lambda_params(level)?;
                self.expect_op(Op::Colon)?;
                frames.push(args);
                level += lv::LAMBDA_BODY;
                Self::check_level(level)?;
                continue;
            }
            let body = self.disjunction(level)?;
            if self.eat_kw(Kw::If) {
                let cond = self.disjunction(level)?;
                if !self.eat_kw(Kw::Else) {
                    return Err(Fail::Syntax);
                }
                frames.push(body.depth.max(cond.depth));
                level += lv::IF_ELSE;
                Self::check_level(level)?;
                continue;
            }
            break body;
        };
        if frames.is_empty() {
            return Ok(last);
        }
        let depth = frames
            .iter()
            .rev()
            .fold(last.depth, |inner, &own| 1 + inner.max(own));
        Ok(Expr::other(depth))
    }

    /// Lambda parameters up to (not including) the `:`; returns the height of the `arguments` node.
    fn lambda_params(&mut self, level: u32) -> PResult<u32> {
        #[derive(PartialEq)]
        enum Star {
            None,
            Bare,
            Named,
        }
        let mut depth = 0u32;
        let (mut seen_default, mut seen_slash, mut seen_kwargs) = (false, false, false);
        let mut positional = 0usize;
        let mut kwonly = 0usize;
        let mut star = Star::None;
        if self.at_op(Op::Colon) {
            return Ok(1);
        }
        loop {
            match self.peek() {
                Tok::Name => {
                    self.bump();
                    depth = depth.max(1);
                    let has_default = self.eat_op(Op::Equal);
                    if has_default {
                        let d = self.expression(level + lv::LAMBDA_DEFAULT)?;
                        depth = depth.max(d.depth);
                    }
                    if seen_kwargs {
                        return Err(Fail::Syntax);
                    }
                    if star == Star::None {
                        if !has_default && seen_default {
                            return Err(Fail::Syntax); // non-default argument follows default argument
                        }
                        seen_default |= has_default;
                        positional += 1;
                    } else {
                        kwonly += 1;
                    }
                }
                Tok::Op(Op::Slash) => {
                    if seen_slash || star != Star::None || seen_kwargs || positional == 0 {
                        return Err(Fail::Syntax);
                    }
                    self.bump();
                    seen_slash = true;
                }
                Tok::Op(Op::Star) => {
                    if star != Star::None || seen_kwargs {
                        return Err(Fail::Syntax);
                    }
                    self.bump();
                    if self.eat(Tok::Name) {
                        depth = depth.max(1);
                        star = Star::Named;
                    } else {
                        star = Star::Bare;
                    }
                }
                Tok::Op(Op::DoubleStar) => {
                    if seen_kwargs {
                        return Err(Fail::Syntax);
                    }
                    self.bump();
                    if !self.eat(Tok::Name) {
                        return Err(Fail::Syntax);
                    }
                    depth = depth.max(1);
                    seen_kwargs = true;
                }
                _ => return Err(Fail::Syntax),
            }
            if self.eat_op(Op::Comma) {
                if self.at_op(Op::Colon) {
                    break;
                }
                continue;
            }
            if self.at_op(Op::Colon) {
                break;
            }
            return Err(Fail::Syntax);
        }
        if star == Star::Bare && kwonly == 0 {
            return Err(Fail::Syntax); // named arguments must follow bare *
        }
        Ok(1 + depth)
    }

    fn disjunction(&mut self, level: u32) -> PResult<Expr> {
        self.bool_op(level, Kw::Or)
    }

    /// `a or b or c` / `a and b and c`: one flat BoolOp node.
    fn bool_op(&mut self, level: u32, kw: Kw) -> PResult<Expr> {
        let first = if kw == Kw::Or {
            self.bool_op(level, Kw::And)?
        } else {
            self.inversion(level)?
        };
        if !self.at_kw(kw) {
            return Ok(first);
        }
        let mut depth = first.depth;
        while self.eat_kw(kw) {
            let operand_level = level + lv::BOOL_OPERAND;
            let e = if kw == Kw::Or {
                self.bool_op(operand_level, Kw::And)?
            } else {
                self.inversion(operand_level)?
            };
            depth = depth.max(e.depth);
        }
        Ok(Expr::other(depth + 1))
    }

    fn inversion(&mut self, level: u32) -> PResult<Expr> {
        let mut n = 0u32;
        while self.eat_kw(Kw::Not) {
            n += 1;
            Self::check_level(level + n * lv::NOT)?;
        }
        let e = self.comparison(level + n * lv::NOT)?;
        if n == 0 {
            Ok(e)
        } else {
            Ok(Expr::other(e.depth + n))
        }
    }

    fn comparison(&mut self, level: u32) -> PResult<Expr> {
        let left = self.bitwise_or(level)?;
        let mut depth = left.depth;
        let mut any = false;
        loop {
            match self.peek() {
                Tok::Op(
                    Op::EqEqual
                    | Op::NotEqual
                    | Op::Less
                    | Op::LessEqual
                    | Op::Greater
                    | Op::GreaterEqual,
                )
                | Tok::Kw(Kw::In) => {
                    self.bump();
                }
                Tok::Kw(Kw::Is) => {
                    self.bump();
                    self.eat_kw(Kw::Not);
                }
                Tok::Kw(Kw::Not) if self.peek_n(1) == Tok::Kw(Kw::In) => {
                    self.bump();
                    self.bump();
                }
                _ => break,
            }
            let right = self.bitwise_or(level + lv::COMPARE_OPERAND)?;
            depth = depth.max(right.depth);
            any = true;
        }
        if any {
            Ok(Expr::other(depth + 1))
        } else {
            Ok(left)
        }
    }

    fn bitwise_or(&mut self, level: u32) -> PResult<Expr> {
        self.binary(level, 1)
    }

    /// Left-associative binary operators by precedence climbing (`|` lowest, `* / // % @` highest).
    fn binary(&mut self, level: u32, min_prec: u8) -> PResult<Expr> {
        let mut left = self.factor(level)?;
        loop {
            let (prec, addsub) = match self.peek() {
                Tok::Op(Op::VBar) => (1, None),
                Tok::Op(Op::Circumflex) => (2, None),
                Tok::Op(Op::Amper) => (3, None),
                Tok::Op(Op::LeftShift | Op::RightShift) => (4, None),
                Tok::Op(Op::Plus) => (5, Some(false)),
                Tok::Op(Op::Minus) => (5, Some(true)),
                Tok::Op(Op::Star | Op::Slash | Op::DoubleSlash | Op::Percent | Op::At) => (6, None),
                _ => break,
            };
            if prec < min_prec {
                break;
            }
            self.bump();
            let right = self.binary(level, prec + 1)?;
            let depth = 1 + left.depth.max(right.depth);
            left = match addsub {
                Some(sub) => Expr {
                    kind: Kind::AddSub {
                        sub,
                        left: Box::new(left),
                        right: Box::new(right),
                    },
                    depth,
                    tgt: Tgt::No,
                },
                None => Expr::other(depth),
            };
        }
        Ok(left)
    }

    /// Prefix `+`, `-`, `~` (iteratively: thousands of them must not recurse), then a power.
    fn factor(&mut self, level: u32) -> PResult<Expr> {
        let mut n = 0u32;
        let mut single_sign = None;
        loop {
            let sign = match self.peek() {
                Tok::Op(Op::Minus) => Some(true),
                Tok::Op(Op::Plus) => Some(false),
                Tok::Op(Op::Tilde) => None,
                _ => break,
            };
            self.bump();
            n += 1;
            single_sign = sign;
            Self::check_level(level + n * lv::UNARY)?;
        }
        let operand = self.power(level + n * lv::UNARY)?;
        match (n, single_sign) {
            (0, _) => Ok(operand),
            (1, Some(neg)) => {
                let depth = operand.depth + 1;
                Ok(Expr {
                    kind: Kind::Unary {
                        neg,
                        operand: Box::new(operand),
                    },
                    depth,
                    tgt: Tgt::No,
                })
            }
            _ => Ok(Expr::other(operand.depth + n)),
        }
    }

    /// `power: await_primary '**' factor`, right-associative, parsed iteratively.
    fn power(&mut self, level: u32) -> PResult<Expr> {
        let base = self.await_primary(level)?;
        if !self.at_op(Op::DoubleStar) {
            return Ok(base);
        }
        // Each right operand is `prefix-ops* await_primary`; the prefix ops wrap the rest of the chain.
        let mut operands: Vec<(u32, u32)> = vec![(0, base.depth)];
        let mut level = level;
        while self.eat_op(Op::DoubleStar) {
            level += lv::POW;
            let mut n = 0u32;
            while matches!(self.peek(), Tok::Op(Op::Minus | Op::Plus | Op::Tilde)) {
                self.bump();
                n += 1;
                Self::check_level(level + n)?;
            }
            level += n;
            let operand = self.await_primary(level)?;
            operands.push((n, operand.depth));
        }
        let mut acc = 0u32;
        let mut prefix_of_acc = 0u32;
        for (i, &(prefix, depth)) in operands.iter().enumerate().rev() {
            if i + 1 == operands.len() {
                acc = depth;
            } else {
                acc = 1 + depth.max(prefix_of_acc + acc);
            }
            prefix_of_acc = prefix;
        }
        Ok(Expr::other(acc))
    }

    fn await_primary(&mut self, level: u32) -> PResult<Expr> {
        if self.eat_kw(Kw::Await) {
            let p = self.primary(level + lv::AWAIT)?;
            return Ok(Expr::other(p.depth + 1));
        }
        self.primary(level)
    }

    /// An atom followed by `.name`, `(args)` and `[slices]` trailers.
    fn primary(&mut self, level: u32) -> PResult<Expr> {
        let mut e = self.atom(level)?;
        loop {
            match self.peek() {
                Tok::Op(Op::Dot) => {
                    self.bump();
                    if !self.eat(Tok::Name) {
                        return Err(Fail::Syntax);
                    }
                    e = Expr {
                        kind: Kind::Other,
                        depth: e.depth + 1,
                        tgt: Tgt::Yes,
                    };
                }
                Tok::Op(Op::LPar) => {
                    let args = self.call_args(level)?;
                    e = match (&e.kind, args) {
                        (Kind::Name { is_set: true }, None) => Expr {
                            kind: Kind::EmptySetCall,
                            depth: e.depth + 1,
                            tgt: Tgt::No,
                        },
                        _ => Expr::other(1 + e.depth.max(args.unwrap_or(0))),
                    };
                }
                Tok::Op(Op::LSqb) => {
                    let slice = self.slices(level)?;
                    e = Expr {
                        kind: Kind::Other,
                        depth: 1 + e.depth.max(slice),
                        tgt: Tgt::Yes,
                    };
                }
                _ => return Ok(e),
            }
        }
    }

    /// Call arguments from `(` to `)`; None when there are none at all.
    fn call_args(&mut self, level: u32) -> PResult<Option<u32>> {
        self.bump(); // (
        if self.eat_op(Op::RPar) {
            return Ok(None);
        }
        // 0: positional allowed; 1: after a keyword (no positional); 2: after `**` (no `*` either).
        let mut phase = 0u8;
        let mut depth = 0u32;
        let mut first = true;
        loop {
            if self.at_op(Op::RPar) {
                break;
            }
            if self.eat_op(Op::Star) {
                if phase == 2 {
                    return Err(Fail::Syntax);
                }
                let v = self.expression(level + lv::CALL_STARRED)?;
                depth = depth.max(v.depth + 1);
            } else if self.eat_op(Op::DoubleStar) {
                let v = self.expression(level + lv::CALL_STARRED)?;
                depth = depth.max(v.depth + 1);
                phase = 2;
            } else if self.peek() == Tok::Name && self.peek_n(1) == Tok::Op(Op::Equal) {
                self.bump();
                self.bump();
                let v = self.expression(level + lv::CALL_STARRED)?;
                depth = depth.max(v.depth + 1);
                phase = phase.max(1);
            } else {
                if phase > 0 {
                    return Err(Fail::Syntax); // positional argument follows keyword argument
                }
                let arg_level = level
                    + if first {
                        lv::CALL_FIRST
                    } else {
                        lv::CALL_LATER
                    };
                let e = self.named_expression(arg_level)?;
                if first && self.at_comp() {
                    // `f(x for x in y)`: the generator expression must be the only argument. Its
                    // clauses sit 2 rules shallower than in a bracketed comprehension (measured).
                    let comps = self.comprehension(level.saturating_sub(2))?;
                    self.expect_op(Op::RPar)?;
                    return Ok(Some(1 + e.depth.max(comps)));
                }
                if self.at_op(Op::Equal) {
                    return Err(Fail::Syntax);
                }
                depth = depth.max(e.depth);
            }
            first = false;
            if !self.eat_op(Op::Comma) {
                break;
            }
        }
        self.expect_op(Op::RPar)?;
        Ok(Some(depth))
    }

    /// Subscript contents from `[` to `]`; returns the height of the slice node.
    fn slices(&mut self, level: u32) -> PResult<u32> {
        self.bump(); // [
        let level = level + lv::SUBSCRIPT;
        let mut depth = 0u32;
        let mut items = 0usize;
        let mut tuple = false;
        loop {
            let d = if self.eat_op(Op::Star) {
                tuple = true; // `a[*b]` is a one-element tuple
                self.expression(level)?.depth + 1
            } else if self.at_walrus() {
                self.named_expression(level)?.depth
            } else {
                let lower = if self.at_op(Op::Colon) {
                    None
                } else {
                    Some(self.expression(level)?)
                };
                if self.eat_op(Op::Colon) {
                    let mut d = lower.map_or(0, |e| e.depth);
                    if self.starts_expression() {
                        d = d.max(self.expression(level)?.depth);
                    }
                    if self.eat_op(Op::Colon) && self.starts_expression() {
                        d = d.max(self.expression(level)?.depth);
                    }
                    d + 1
                } else {
                    if self.at_op(Op::ColonEqual) {
                        return Err(Fail::Syntax);
                    }
                    match lower {
                        Some(e) => e.depth,
                        None => return Err(Fail::Syntax),
                    }
                }
            };
            depth = depth.max(d);
            items += 1;
            if !self.eat_op(Op::Comma) {
                break;
            }
            tuple = true;
            if self.at_op(Op::RSqb) {
                break;
            }
        }
        self.expect_op(Op::RSqb)?;
        Ok(if tuple || items > 1 { depth + 1 } else { depth })
    }

    fn atom(&mut self, level: u32) -> PResult<Expr> {
        Self::check_level(level)?;
        match self.peek() {
            Tok::Name => {
                let t = self.bump();
                let is_set = names_set(&self.src[t.start..t.end]);
                Ok(Expr {
                    kind: Kind::Name { is_set },
                    depth: 1,
                    tgt: Tgt::Yes,
                })
            }
            Tok::Kw(Kw::True) => {
                self.bump();
                Ok(Expr::leaf(Kind::Const(Py::Bool(true))))
            }
            Tok::Kw(Kw::False) => {
                self.bump();
                Ok(Expr::leaf(Kind::Const(Py::Bool(false))))
            }
            Tok::Kw(Kw::None) => {
                self.bump();
                Ok(Expr::leaf(Kind::Const(Py::None)))
            }
            Tok::Number(kind) => {
                let t = self.bump();
                let value = number_value(&self.src[t.start..t.end], kind)?;
                Ok(Expr::leaf(Kind::Const(value)))
            }
            Tok::Str => self.strings(),
            Tok::Op(Op::Ellipsis) => {
                self.bump();
                Ok(Expr::leaf(Kind::Const(Py::Ellipsis)))
            }
            Tok::Op(Op::LPar) => self.paren(level),
            Tok::Op(Op::LSqb) => self.list(level),
            Tok::Op(Op::LBrace) => self.brace(level),
            _ => Err(Fail::Syntax),
        }
    }

    /// `(…)`: empty tuple, parenthesised yield, generator expression, tuple, or a group (which is
    /// transparent: `(1)` is the constant 1).
    fn paren(&mut self, level: u32) -> PResult<Expr> {
        self.bump(); // (
        if self.eat_op(Op::RPar) {
            return Ok(Expr {
                kind: Kind::Tuple(Vec::new()),
                depth: 1,
                tgt: Tgt::Yes,
            });
        }
        if self.eat_kw(Kw::Yield) {
            let d = self.yield_expr(level + lv::YIELD)?;
            self.expect_op(Op::RPar)?;
            return Ok(Expr::other(d));
        }
        let inner = level + lv::GROUP;
        let first = self.star_named_expression(inner)?;
        if self.at_comp() {
            if first.is_starred() {
                return Err(Fail::Syntax);
            }
            let comps = self.comprehension(level)?;
            self.expect_op(Op::RPar)?;
            return Ok(Expr::other(1 + first.depth.max(comps)));
        }
        if self.at_op(Op::Comma) {
            let mut items = vec![first];
            while self.eat_op(Op::Comma) {
                if self.at_op(Op::RPar) {
                    break;
                }
                items.push(self.star_named_expression(level + lv::TUPLE_LATER)?);
            }
            self.expect_op(Op::RPar)?;
            return Ok(seq_expr(Kind::Tuple, items));
        }
        self.expect_op(Op::RPar)?;
        if first.is_starred() {
            return Err(Fail::Syntax); // cannot use starred expression here
        }
        Ok(first)
    }

    /// After `yield`: `yield from x`, `yield`, or `yield a, *b`.
    fn yield_expr(&mut self, level: u32) -> PResult<u32> {
        if self.eat_kw(Kw::From) {
            return Ok(self.expression(level)?.depth + 1);
        }
        if self.starts_expression() || self.at_op(Op::Star) {
            return Ok(self.star_expressions(level)?.depth + 1);
        }
        Ok(1)
    }

    fn list(&mut self, level: u32) -> PResult<Expr> {
        self.bump(); // [
        if self.eat_op(Op::RSqb) {
            return Ok(Expr {
                kind: Kind::List(Vec::new()),
                depth: 1,
                tgt: Tgt::Yes,
            });
        }
        let inner = level + lv::LIST;
        let first = self.star_named_expression(inner)?;
        if self.at_comp() {
            if first.is_starred() {
                return Err(Fail::Syntax);
            }
            let comps = self.comprehension(level)?;
            self.expect_op(Op::RSqb)?;
            return Ok(Expr::other(1 + first.depth.max(comps)));
        }
        let mut items = vec![first];
        while self.eat_op(Op::Comma) {
            if self.at_op(Op::RSqb) {
                break;
            }
            items.push(self.star_named_expression(level + lv::LIST_LATER)?);
        }
        self.expect_op(Op::RSqb)?;
        Ok(seq_expr(Kind::List, items))
    }

    /// `{…}`: dict, set, or their comprehensions.
    fn brace(&mut self, level: u32) -> PResult<Expr> {
        self.bump(); // {
        if self.eat_op(Op::RBrace) {
            return Ok(Expr::leaf(Kind::Dict(Vec::new())));
        }
        let inner = level + lv::DICT;
        let later = level + lv::LIST_LATER;
        if self.eat_op(Op::DoubleStar) {
            let v = self.bitwise_or(inner)?;
            if self.at_comp() {
                return Err(Fail::Syntax); // dict unpacking cannot be used in dict comprehension
            }
            return self.dict_rest(vec![(None, v)], later);
        }
        let first = if self.at_op(Op::Star) || self.at_walrus() {
            self.star_named_expression(inner)?
        } else {
            let key = self.expression(inner)?;
            if self.eat_op(Op::Colon) {
                let value = self.expression(inner)?;
                if self.at_comp() {
                    let comps = self.comprehension(level)?;
                    self.expect_op(Op::RBrace)?;
                    return Ok(Expr::other(1 + key.depth.max(value.depth).max(comps)));
                }
                return self.dict_rest(vec![(Some(key), value)], later);
            }
            if self.at_op(Op::ColonEqual) {
                return Err(Fail::Syntax);
            }
            key
        };
        if self.at_comp() {
            if first.is_starred() {
                return Err(Fail::Syntax);
            }
            let comps = self.comprehension(level)?;
            self.expect_op(Op::RBrace)?;
            return Ok(Expr::other(1 + first.depth.max(comps)));
        }
        let mut items = vec![first];
        while self.eat_op(Op::Comma) {
            if self.at_op(Op::RBrace) {
                break;
            }
            items.push(self.star_named_expression(later)?);
        }
        self.expect_op(Op::RBrace)?;
        let mut e = seq_expr(Kind::Set, items);
        e.tgt = Tgt::No;
        Ok(e)
    }

    fn dict_rest(&mut self, mut pairs: Vec<(Option<Expr>, Expr)>, level: u32) -> PResult<Expr> {
        while self.eat_op(Op::Comma) {
            if self.at_op(Op::RBrace) {
                break;
            }
            if self.eat_op(Op::DoubleStar) {
                let v = self.bitwise_or(level)?;
                pairs.push((None, v));
            } else {
                let k = self.expression(level)?;
                self.expect_op(Op::Colon)?;
                let v = self.expression(level)?;
                pairs.push((Some(k), v));
            }
        }
        self.expect_op(Op::RBrace)?;
        let depth = 1 + pairs
            .iter()
            .map(|(k, v)| k.as_ref().map_or(0, |k| k.depth).max(v.depth))
            .max()
            .unwrap_or(0);
        Ok(Expr {
            kind: Kind::Dict(pairs),
            depth,
            tgt: Tgt::No,
        })
    }

    fn star_named_expression(&mut self, level: u32) -> PResult<Expr> {
        if self.eat_op(Op::Star) {
            let inner = self.bitwise_or(level)?;
            return Ok(starred(inner));
        }
        self.named_expression(level)
    }

    /// `NAME ':=' expression | expression !':='`.
    fn named_expression(&mut self, level: u32) -> PResult<Expr> {
        if self.at_walrus() {
            self.bump();
            self.bump();
            let value = self.expression(level + lv::WALRUS)?;
            return Ok(Expr::other(1 + value.depth.max(1)));
        }
        let e = self.expression(level)?;
        if self.at_op(Op::ColonEqual) {
            return Err(Fail::Syntax);
        }
        Ok(e)
    }

    /// `for_if_clauses`; returns the height of the tallest `comprehension` node.
    fn comprehension(&mut self, level: u32) -> PResult<u32> {
        let mut depth = 0u32;
        loop {
            let is_async = self.eat_kw(Kw::Async);
            if !self.eat_kw(Kw::For) {
                if is_async || depth == 0 {
                    return Err(Fail::Syntax);
                }
                return Ok(depth);
            }
            let target = self.star_targets(level)?;
            if !self.eat_kw(Kw::In) {
                return Err(Fail::Syntax);
            }
            let mut d = target.max(self.disjunction(level + lv::COMP_ITER)?.depth);
            while self.eat_kw(Kw::If) {
                d = d.max(self.disjunction(level + lv::COMP_IF)?.depth);
            }
            depth = depth.max(d + 1);
            if !self.at_comp() {
                return Ok(depth);
            }
        }
    }

    /// The target of a `for` clause; returns its height.
    fn star_targets(&mut self, level: u32) -> PResult<u32> {
        let first = self.star_target(level)?;
        if !self.at_op(Op::Comma) {
            return Ok(first);
        }
        let mut depth = first;
        while self.eat_op(Op::Comma) {
            if self.at_kw(Kw::In) {
                break;
            }
            depth = depth.max(self.star_target(level)?);
        }
        Ok(depth + 1)
    }

    fn star_target(&mut self, level: u32) -> PResult<u32> {
        if self.eat_op(Op::Star) {
            let t = self.primary(level)?;
            if t.tgt != Tgt::Yes {
                return Err(Fail::Syntax);
            }
            return Ok(t.depth + 1);
        }
        let t = self.primary(level)?;
        if t.tgt != Tgt::Yes {
            return Err(Fail::Syntax);
        }
        Ok(t.depth)
    }

    /// Adjacent string literals: all str (with f-strings) or all bytes.
    fn strings(&mut self) -> PResult<Expr> {
        let mut bytes_mode = None;
        let mut any_f = false;
        let mut parts: Vec<(usize, usize)> = Vec::new();
        while self.peek() == Tok::Str {
            let t = self.bump();
            let lit = StrLit::split(&self.src[t.start..t.end]);
            match bytes_mode {
                None => bytes_mode = Some(lit.bytes),
                Some(b) if b != lit.bytes => return Err(Fail::Syntax), // cannot mix bytes and nonbytes
                Some(_) => {}
            }
            any_f |= lit.f;
            parts.push((t.start, t.end));
        }
        if bytes_mode == Some(true) {
            let mut out = Vec::new();
            for &(a, b) in &parts {
                let lit = StrLit::split(&self.src[a..b]);
                if !lit.body.is_ascii() {
                    return Err(Fail::Syntax); // bytes can only contain ASCII literal characters
                }
                decode_bytes(lit.body, lit.raw, &mut out)?;
            }
            return Ok(Expr::leaf(Kind::Const(Py::Bytes(out))));
        }
        if any_f {
            // A JoinedStr: validated (escapes, replacement fields), never a literal.
            let mut depth = 0u32;
            for &(a, b) in &parts {
                let lit = StrLit::split(&self.src[a..b]);
                if lit.f {
                    depth = depth.max(fstring_check(lit.body, lit.raw)?);
                } else if !lit.body.is_empty() {
                    if !lit.raw {
                        decode_str(lit.body)?;
                    }
                    depth = depth.max(1);
                }
            }
            return Ok(Expr::other(depth + 1));
        }
        let mut out = String::new();
        for &(a, b) in &parts {
            let lit = StrLit::split(&self.src[a..b]);
            if lit.raw {
                out.push_str(lit.body);
            } else {
                out.push_str(&decode_str(lit.body)?);
            }
        }
        Ok(Expr::leaf(Kind::Const(Py::Str(out))))
    }
}

fn starred(inner: Expr) -> Expr {
    let tgt = if inner.tgt == Tgt::Yes {
        Tgt::Starred
    } else {
        Tgt::No
    };
    Expr {
        kind: Kind::Starred,
        depth: inner.depth + 1,
        tgt,
    }
}

/// A tuple/list/set display; as a target it is valid when every element is.
fn seq_expr(make: fn(Vec<Expr>) -> Kind, items: Vec<Expr>) -> Expr {
    let depth = 1 + items.iter().map(|e| e.depth).max().unwrap_or(0);
    let tgt = if items.iter().all(|e| e.tgt != Tgt::No) {
        Tgt::Yes
    } else {
        Tgt::No
    };
    Expr {
        kind: make(items),
        depth,
        tgt,
    }
}

/// A string token split into prefix flags and body.
struct StrLit<'s> {
    bytes: bool,
    raw: bool,
    f: bool,
    body: &'s str,
}

impl<'s> StrLit<'s> {
    fn split(token: &'s str) -> StrLit<'s> {
        let q = token.find(['\'', '"']).unwrap_or(0);
        let prefix = &token[..q];
        let quote = &token[q..q + 1];
        let triple = token[q..].starts_with(&quote.repeat(3)) && token.len() - q >= 6;
        let width = if triple { 3 } else { 1 };
        let body = token
            .get(q + width..token.len().saturating_sub(width))
            .unwrap_or("");
        let has = |c: char| prefix.chars().any(|p| p.eq_ignore_ascii_case(&c));
        StrLit {
            bytes: has('b'),
            raw: has('r'),
            f: has('f'),
            body,
        }
    }
}

/// The value of a number token.
fn number_value(text: &str, kind: Num) -> PResult<Py> {
    let clean: String = text.chars().filter(|&c| c != '_').collect();
    match kind {
        Num::Int(radix) => {
            let digits = if radix == 10 { &clean[..] } else { &clean[2..] };
            if radix == 10 {
                let significant = digits.trim_start_matches('0');
                if significant.len() > INT_MAX_STR_DIGITS {
                    return Err(Fail::Syntax); // the parser turns the ValueError into a SyntaxError
                }
            }
            Ok(Py::Int(Int::parse(digits, radix)))
        }
        Num::Float => Ok(Py::Float(parse_float(&clean))),
        Num::Imag => Ok(Py::Complex(0.0, parse_float(&clean[..clean.len() - 1]))),
    }
}

/// Python's float() of a literal: correctly rounded, like Rust's parser.
fn parse_float(text: &str) -> f64 {
    // The tokenizer admitted only well-formed literals, which Rust parses too (`1.`, `.5`, `1.e5`).
    text.parse::<f64>().unwrap_or(f64::NAN)
}

// ---------------------------------------------------------------------------------------------
// String literals.
// ---------------------------------------------------------------------------------------------

/// A str literal body with escapes (CPython's `unicode_escape` rules after the parser's
/// pre-processing). A trailing backslash (only possible in an f-string chunk) is literal. Lone
/// surrogates become `?` (see the module docs).
fn decode_str(body: &str) -> PResult<String> {
    if !body.contains('\\') {
        return Ok(body.to_owned());
    }
    let b = body.as_bytes();
    let mut out = String::with_capacity(body.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            let next = body[i..].find('\\').map_or(b.len(), |n| i + n);
            out.push_str(&body[i..next]);
            i = next;
            continue;
        }
        i += 1;
        let Some(&e) = b.get(i) else {
            out.push('\\');
            break;
        };
        i += 1;
        match e {
            b'\n' => {}
            b'\\' => out.push('\\'),
            b'\'' => out.push('\''),
            b'"' => out.push('"'),
            b'a' => out.push('\x07'),
            b'b' => out.push('\x08'),
            b'f' => out.push('\x0c'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'v' => out.push('\x0b'),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match b.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push(char::from_u32(v).unwrap_or('?'));
            }
            b'x' | b'u' | b'U' => {
                let width = match e {
                    b'x' => 2,
                    b'u' => 4,
                    _ => 8,
                };
                let digits = b.get(i..i + width).ok_or(Fail::Syntax)?;
                if !digits.iter().all(u8::is_ascii_hexdigit) {
                    return Err(Fail::Syntax); // truncated \xXX / \uXXXX / \UXXXXXXXX escape
                }
                let v = u32::from_str_radix(&body[i..i + width], 16).map_err(|_| Fail::Syntax)?;
                i += width;
                if v > 0x10ffff {
                    return Err(Fail::Syntax); // illegal Unicode character
                }
                out.push(char::from_u32(v).unwrap_or('?')); // a surrogate
            }
            b'N' => {
                // `\N{NAME}`: well-formed ones need the Unicode name table (not embedded).
                let well_formed = b.get(i) == Some(&b'{')
                    && body[i + 1..].find('}').is_some_and(|close| close > 0);
                return Err(if well_formed {
                    Fail::UnknownName
                } else {
                    Fail::Syntax
                });
            }
            _ => {
                // Unknown escapes keep their backslash (a DeprecationWarning in 3.11).
                out.push('\\');
                i -= 1; // the character itself is copied as ordinary text
            }
        }
    }
    Ok(out)
}

/// A bytes literal body (ASCII) with escapes, appended to `out`.
fn decode_bytes(body: &str, raw: bool, out: &mut Vec<u8>) -> PResult<()> {
    let b = body.as_bytes();
    if raw || !body.contains('\\') {
        out.extend_from_slice(b);
        return Ok(());
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = b.get(i) else {
            out.push(b'\\');
            break;
        };
        i += 1;
        match e {
            b'\n' => {}
            b'\\' | b'\'' | b'"' => out.push(e),
            b'a' => out.push(0x07),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match b.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push((v & 0xff) as u8); // `\777` keeps the low byte (a DeprecationWarning)
            }
            b'x' => {
                let digits = b.get(i..i + 2).ok_or(Fail::Syntax)?;
                if !digits.iter().all(u8::is_ascii_hexdigit) {
                    return Err(Fail::Syntax); // invalid \x escape
                }
                let v = u8::from_str_radix(&body[i..i + 2], 16).map_err(|_| Fail::Syntax)?;
                out.push(v);
                i += 2;
            }
            _ => {
                out.push(b'\\');
                out.push(e);
            }
        }
    }
    Ok(())
}

/// Validates an f-string body the way CPython 3.11's `string_parser.c` does; returns the height of
/// the resulting `JoinedStr`'s tallest part (its replacement fields are real expressions).
fn fstring_check(body: &str, raw: bool) -> PResult<u32> {
    let (end, depth) = fstring_parse(body, 0, raw, 0)?;
    debug_assert_eq!(end, body.len());
    Ok(depth)
}

fn fstring_parse(body: &str, mut pos: usize, raw: bool, recurse: u32) -> PResult<(usize, u32)> {
    let b = body.as_bytes();
    let end = b.len();
    let mut depth = 0u32;
    loop {
        // A literal part runs to an undoubled `{`, a `}` (end of a format spec), or the end.
        let start = pos;
        let mut doubled = false;
        while pos < end {
            let mut ch = b[pos];
            pos += 1;
            if !raw && ch == b'\\' && pos < end {
                ch = b[pos];
                pos += 1;
                if ch == b'N' {
                    // Skip `\N{…}` so its brace does not open a replacement field.
                    if pos < end {
                        let brace = b[pos];
                        pos += 1;
                        if brace == b'{' {
                            while pos < end {
                                let c = b[pos];
                                pos += 1;
                                if c == b'}' {
                                    break;
                                }
                            }
                        }
                    }
                    continue;
                }
            }
            if ch == b'{' || ch == b'}' {
                if recurse == 0 {
                    if pos < end && b[pos] == ch {
                        pos += 1;
                        doubled = true;
                        break;
                    }
                    if ch == b'}' {
                        return Err(Fail::Syntax); // single '}' is not allowed
                    }
                }
                pos -= 1;
                break;
            }
        }
        let literal_end = if doubled { pos - 1 } else { pos };
        if literal_end > start {
            if !raw {
                decode_str(&body[start..literal_end])?;
            }
            depth = depth.max(1);
        }
        if doubled {
            continue;
        }
        if pos >= end || b[pos] == b'}' {
            break;
        }
        let (next, d) = fstring_field(body, pos, raw, recurse)?;
        pos = next;
        depth = depth.max(d);
    }
    if recurse > 0 && b.get(pos) != Some(&b'}') {
        return Err(Fail::Syntax); // expecting '}'
    }
    Ok((pos, depth))
}

/// One `{expr[=][!c][:spec]}` replacement field starting at the `{` at `pos`.
fn fstring_field(body: &str, pos: usize, raw: bool, recurse: u32) -> PResult<(usize, u32)> {
    if recurse >= 2 {
        return Err(Fail::Syntax); // expressions nested too deeply
    }
    let b = body.as_bytes();
    let end = b.len();
    let expr_start = pos + 1;
    let mut pos = expr_start;
    let mut quote = 0u8;
    let mut triple = false;
    let mut nested: Vec<u8> = Vec::new();
    while pos < end {
        let ch = b[pos];
        if ch == b'\\' {
            return Err(Fail::Syntax); // expression part cannot include a backslash
        }
        if quote != 0 {
            if ch == quote {
                if triple {
                    if pos + 2 < end && b[pos + 1] == ch && b[pos + 2] == ch {
                        pos += 2;
                        quote = 0;
                        triple = false;
                    }
                } else {
                    quote = 0;
                }
            }
            pos += 1;
            continue;
        }
        match ch {
            b'\'' | b'"' => {
                if pos + 2 < end && b[pos + 1] == ch && b[pos + 2] == ch {
                    triple = true;
                    pos += 2;
                } else {
                    triple = false;
                }
                quote = ch;
            }
            b'[' | b'{' | b'(' => {
                if nested.len() >= MAX_PAREN_LEVEL {
                    return Err(Fail::Syntax);
                }
                nested.push(ch);
            }
            b'#' => return Err(Fail::Syntax),
            b'!' | b':' | b'}' | b'=' | b'>' | b'<' if nested.is_empty() => {
                if pos + 1 < end && b[pos + 1] == b'=' && ch != b':' && ch != b'}' {
                    pos += 2; // `!=`, `==`, `<=`, `>=`
                    continue;
                }
                if ch == b'>' || ch == b'<' {
                    pos += 1;
                    continue;
                }
                break;
            }
            b']' | b'}' | b')' => {
                let open = nested.pop().ok_or(Fail::Syntax)?;
                let want = match ch {
                    b']' => b'[',
                    b'}' => b'{',
                    _ => b'(',
                };
                if open != want {
                    return Err(Fail::Syntax);
                }
            }
            _ => {}
        }
        pos += 1;
    }
    if quote != 0 || !nested.is_empty() || pos >= end {
        return Err(Fail::Syntax);
    }
    let expr = &body[expr_start..pos];
    if expr
        .bytes()
        .all(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\x0c'))
    {
        return Err(Fail::Syntax); // empty expression not allowed
    }
    let wrapped = format!("({expr})");
    let value = Parser::new(&wrapped, true).parse()?;
    if b[pos] == b'=' {
        pos += 1;
        while pos < end && matches!(b[pos], b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c') {
            pos += 1;
        }
        if pos >= end {
            return Err(Fail::Syntax);
        }
    }
    if b[pos] == b'!' {
        pos += 1;
        let conversion = *b.get(pos).ok_or(Fail::Syntax)?;
        pos += 1;
        if !matches!(conversion, b's' | b'r' | b'a') {
            return Err(Fail::Syntax);
        }
    }
    let mut spec = 0u32;
    if b.get(pos) == Some(&b':') {
        pos += 1;
        if pos >= end {
            return Err(Fail::Syntax);
        }
        let (next, d) = fstring_parse(body, pos, raw, recurse + 1)?;
        pos = next;
        spec = d + 1;
    }
    if b.get(pos) != Some(&b'}') {
        return Err(Fail::Syntax);
    }
    Ok((pos + 1, 1 + value.depth.max(spec)))
}

// ---------------------------------------------------------------------------------------------
// `literal_eval`'s conversion with Python's object semantics.
// ---------------------------------------------------------------------------------------------

/// A Python object `literal_eval` can return.
#[derive(Debug, Clone)]
enum Py {
    None,
    Bool(bool),
    Int(Int),
    Float(f64),
    Complex(f64, f64),
    Str(String),
    Bytes(Vec<u8>),
    Ellipsis,
    Tuple(Vec<Py>),
    List(Vec<Py>),
    Set(Vec<Py>),
    Dict(Vec<(Py, Py)>),
}

enum ConvErr {
    /// ValueError ("malformed node or string"): the string is kept.
    Value,
    /// Any other exception: Ansible's parse fails with this message.
    Fatal(String),
}

struct Converter {
    /// Set when a set's iteration order depends on Python's randomised hashing.
    unordered: bool,
}

impl Converter {
    /// `_convert`, element by element in Python's order so the first error is Python's.
    fn convert(&mut self, e: Expr) -> Result<Py, ConvErr> {
        match e.kind {
            Kind::Const(p) => Ok(p),
            Kind::Tuple(items) => Ok(Py::Tuple(self.convert_all(items)?)),
            Kind::List(items) => Ok(Py::List(self.convert_all(items)?)),
            Kind::EmptySetCall => Ok(Py::Set(Vec::new())),
            Kind::Set(items) => {
                let mut table = SetTable::new();
                for item in items {
                    let v = self.convert(item)?;
                    let h = py_hash(&v).map_err(unhashable)?;
                    table.insert(v, h);
                }
                self.unordered |= !table.stable;
                Ok(Py::Set(table.into_items()))
            }
            Kind::Dict(pairs) => {
                let mut entries: Vec<(Py, Py)> = Vec::with_capacity(pairs.len());
                let mut index: HashMap<u64, Vec<usize>> = HashMap::new();
                for (k, v) in pairs {
                    let k = self.convert(k.ok_or(ConvErr::Value)?)?;
                    let v = self.convert(v)?;
                    let (h, _) = py_hash(&k).map_err(unhashable)?;
                    let slot = index.entry(h).or_default();
                    match slot.iter().find(|&&i| py_eq(&entries[i].0, &k)) {
                        Some(&i) => entries[i].1 = v,
                        None => {
                            slot.push(entries.len());
                            entries.push((k, v));
                        }
                    }
                }
                Ok(Py::Dict(entries))
            }
            Kind::AddSub { sub, left, right } => {
                let l = convert_signed_num(*left)?;
                let r = convert_num(*right)?;
                let (Py::Complex(re, im), Some(lf)) = (&r, as_real(&l)) else {
                    return Err(ConvErr::Value);
                };
                let lf = lf?;
                Ok(if sub {
                    Py::Complex(lf - re, 0.0 - im)
                } else {
                    Py::Complex(lf + re, 0.0 + im)
                })
            }
            Kind::Unary { .. } => convert_signed_num(e),
            Kind::Name { .. } | Kind::Starred | Kind::Other => Err(ConvErr::Value),
        }
    }

    fn convert_all(&mut self, items: Vec<Expr>) -> Result<Vec<Py>, ConvErr> {
        items.into_iter().map(|e| self.convert(e)).collect()
    }
}

fn unhashable(type_name: &'static str) -> ConvErr {
    ConvErr::Fatal(format!("unhashable type: '{type_name}'"))
}

/// `int`/`float` as a float operand of complex arithmetic (None for other types).
fn as_real(p: &Py) -> Option<Result<f64, ConvErr>> {
    match p {
        Py::Int(i) => Some(
            i.to_f64()
                .ok_or_else(|| ConvErr::Fatal("int too large to convert to float".to_owned())),
        ),
        Py::Float(f) => Some(Ok(*f)),
        _ => None,
    }
}

/// `_convert_num`: a constant int, float or complex (not bool).
fn convert_num(e: Expr) -> Result<Py, ConvErr> {
    match e.kind {
        Kind::Const(p @ (Py::Int(_) | Py::Float(_) | Py::Complex(..))) => Ok(p),
        _ => Err(ConvErr::Value),
    }
}

/// `_convert_signed_num`: one unary `+`/`-` applied to a number.
fn convert_signed_num(e: Expr) -> Result<Py, ConvErr> {
    match e.kind {
        Kind::Unary { neg, operand } => {
            let v = convert_num(*operand)?;
            if !neg {
                return Ok(v);
            }
            Ok(match v {
                Py::Int(i) => Py::Int(i.neg()),
                Py::Float(f) => Py::Float(-f),
                Py::Complex(re, im) => Py::Complex(-re, -im),
                other => other,
            })
        }
        _ => convert_num(e),
    }
}

// -- hashing and equality, as CPython 3.11 (64-bit) defines them --------------------------------

const HASH_MODULUS: u64 = (1 << 61) - 1;
const HASH_INF: i64 = 314_159;
const HASH_IMAG: u64 = 1_000_003;

/// Python's `hash()`, as `(bits, stable)`. `stable` is false for str, bytes, None and `...`, whose
/// hash changes from process to process (string hashing is randomised, `None`'s is its address); for
/// those a private hash consistent with equality is returned. Unhashable types give their name.
fn py_hash(p: &Py) -> Result<(u64, bool), &'static str> {
    Ok(match p {
        Py::Bool(b) => (u64::from(*b), true),
        Py::Int(Int::Small(v)) => (hash_i64(*v), true),
        Py::Int(Int::Big(b)) => (b.hash(), true),
        Py::Float(f) => (hash_f64(*f), true),
        Py::Complex(re, im) => {
            let h = hash_f64(*re).wrapping_add(HASH_IMAG.wrapping_mul(hash_f64(*im)));
            (if h == u64::MAX { u64::MAX - 1 } else { h }, true)
        }
        Py::Str(s) => (fnv(1, s.as_bytes()), false),
        Py::Bytes(b) => (fnv(2, b), false),
        Py::None => (0x5eed_0000_0000_0001, false),
        Py::Ellipsis => (0x5eed_0000_0000_0002, false),
        Py::Tuple(items) => {
            const P1: u64 = 11_400_714_785_074_694_791;
            const P2: u64 = 14_029_467_366_897_019_727;
            const P5: u64 = 2_870_177_450_012_600_261;
            let mut acc = P5;
            let mut stable = true;
            for item in items {
                let (lane, s) = py_hash(item)?;
                stable &= s;
                acc = acc.wrapping_add(lane.wrapping_mul(P2));
                acc = acc.rotate_left(31);
                acc = acc.wrapping_mul(P1);
            }
            acc = acc.wrapping_add((items.len() as u64) ^ (P5 ^ 3_527_539));
            (if acc == u64::MAX { 1_546_275_796 } else { acc }, stable)
        }
        Py::List(_) => return Err("list"),
        Py::Set(_) => return Err("set"),
        Py::Dict(_) => return Err("dict"),
    })
}

fn fnv(tag: u8, bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(tag);
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn finish_hash(h: i64) -> u64 {
    (if h == -1 { -2 } else { h }) as u64
}

fn hash_i64(v: i64) -> u64 {
    let m = (v.unsigned_abs() % HASH_MODULUS) as i64;
    finish_hash(if v < 0 { -m } else { m })
}

/// `_Py_HashDouble`: integral floats hash like the equal int.
fn hash_f64(v: f64) -> u64 {
    if v.is_infinite() {
        return finish_hash(if v > 0.0 { HASH_INF } else { -HASH_INF });
    }
    if v.is_nan() {
        return 0; // never produced by a literal
    }
    let (mut m, mut e) = frexp(v);
    let mut negative = false;
    if m < 0.0 {
        negative = true;
        m = -m;
    }
    let mut x: u64 = 0;
    while m != 0.0 {
        x = ((x << 28) & HASH_MODULUS) | (x >> (61 - 28));
        m *= 268_435_456.0; // 2**28
        e -= 28;
        let y = m as u64; // the integer part
        m -= y as f64;
        x += y;
        if x >= HASH_MODULUS {
            x -= HASH_MODULUS;
        }
    }
    let e = (if e >= 0 {
        e % 61
    } else {
        61 - 1 - ((-1 - e) % 61)
    }) as u32;
    x = ((x << e) & HASH_MODULUS) | (x >> (61 - e));
    if negative {
        x = x.wrapping_neg();
    }
    if x == u64::MAX { u64::MAX - 1 } else { x }
}

/// C's `frexp`: `v = m * 2**e` with `0.5 <= |m| < 1`.
fn frexp(v: f64) -> (f64, i32) {
    if v == 0.0 || !v.is_finite() {
        return (v, 0);
    }
    let bits = v.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        let (m, e) = frexp(v * 2f64.powi(64));
        return (m, e - 64);
    }
    let m = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (m, exp - 1022)
}

/// Python's `==` between hashable literal values (numbers compare exactly across types).
fn py_eq(a: &Py, b: &Py) -> bool {
    match (a, b) {
        (Py::Str(x), Py::Str(y)) => x == y,
        (Py::Bytes(x), Py::Bytes(y)) => x == y,
        (Py::None, Py::None) | (Py::Ellipsis, Py::Ellipsis) => true,
        (Py::Tuple(x), Py::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        _ => match (Number::of(a), Number::of(b)) {
            (Some(x), Some(y)) => x.eq(&y),
            _ => false,
        },
    }
}

enum Number<'a> {
    Int(std::borrow::Cow<'a, Int>),
    Float(f64),
    Complex(f64, f64),
}

impl<'a> Number<'a> {
    fn of(p: &'a Py) -> Option<Number<'a>> {
        match p {
            Py::Bool(b) => Some(Number::Int(std::borrow::Cow::Owned(Int::Small(i64::from(
                *b,
            ))))),
            Py::Int(i) => Some(Number::Int(std::borrow::Cow::Borrowed(i))),
            Py::Float(f) => Some(Number::Float(*f)),
            Py::Complex(re, im) => Some(Number::Complex(*re, *im)),
            _ => None,
        }
    }

    fn eq(&self, other: &Number) -> bool {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a == b,
            (Number::Int(i), Number::Float(f)) | (Number::Float(f), Number::Int(i)) => i.eq_f64(*f),
            (Number::Float(a), Number::Float(b)) => a == b,
            (Number::Complex(ar, ai), Number::Complex(br, bi)) => ar == br && ai == bi,
            (Number::Complex(re, im), x) | (x, Number::Complex(re, im)) => {
                *im == 0.0 && Number::Float(*re).eq(x)
            }
        }
    }
}

/// CPython's set: open addressing with linear probes then perturbed jumps; iteration is table order.
struct SetTable {
    slots: Vec<Option<(u64, usize)>>,
    fill: usize,
    items: Vec<Py>,
    stable: bool,
}

const LINEAR_PROBES: usize = 9;
const PERTURB_SHIFT: u32 = 5;

impl SetTable {
    fn new() -> Self {
        SetTable {
            slots: vec![None; 8],
            fill: 0,
            items: Vec::new(),
            stable: true,
        }
    }

    /// `set_add_entry`: equal keys keep the first one.
    fn insert(&mut self, key: Py, (hash, stable): (u64, bool)) {
        self.stable &= stable;
        let mask = self.slots.len() - 1;
        let mut perturb = hash;
        let mut i = (hash as usize) & mask;
        loop {
            let mut probes = if i + LINEAR_PROBES <= mask {
                LINEAR_PROBES
            } else {
                0
            };
            let mut j = i;
            loop {
                match self.slots[j] {
                    None => {
                        self.slots[j] = Some((hash, self.items.len()));
                        self.items.push(key);
                        self.fill += 1;
                        if self.fill * 5 >= mask * 3 {
                            let used = self.items.len();
                            self.resize(if used > 50_000 { used * 2 } else { used * 4 });
                        }
                        return;
                    }
                    Some((h, idx)) if h == hash && py_eq(&self.items[idx], &key) => return,
                    Some(_) => {}
                }
                if probes == 0 {
                    break;
                }
                probes -= 1;
                j += 1;
            }
            perturb >>= PERTURB_SHIFT;
            i = (i
                .wrapping_mul(5)
                .wrapping_add(1)
                .wrapping_add(perturb as usize))
                & mask;
        }
    }

    /// `set_table_resize` + `set_insert_clean`, reinserting in old table order.
    fn resize(&mut self, min_used: usize) {
        let mut size = 8;
        while size <= min_used {
            size <<= 1;
        }
        let old = std::mem::replace(&mut self.slots, vec![None; size]);
        let mask = size - 1;
        for (hash, idx) in old.into_iter().flatten() {
            let mut perturb = hash;
            let mut i = (hash as usize) & mask;
            'probe: loop {
                if self.slots[i].is_none() {
                    self.slots[i] = Some((hash, idx));
                    break 'probe;
                }
                if i + LINEAR_PROBES <= mask {
                    for j in i + 1..=i + LINEAR_PROBES {
                        if self.slots[j].is_none() {
                            self.slots[j] = Some((hash, idx));
                            break 'probe;
                        }
                    }
                }
                perturb >>= PERTURB_SHIFT;
                i = (i
                    .wrapping_mul(5)
                    .wrapping_add(1)
                    .wrapping_add(perturb as usize))
                    & mask;
            }
        }
    }

    /// Elements in Python's iteration order, or in source order when that order is random.
    fn into_items(self) -> Vec<Py> {
        if !self.stable {
            return self.items;
        }
        let mut items: Vec<Option<Py>> = self.items.into_iter().map(Some).collect();
        self.slots
            .into_iter()
            .flatten()
            .filter_map(|(_, idx)| items[idx].take())
            .collect()
    }
}

// -- integers beyond i64 ------------------------------------------------------------------------

/// A Python int: `Small` whenever it fits in i64 (so equal values have one representation).
#[derive(Debug, Clone, PartialEq)]
enum Int {
    Small(i64),
    Big(Big),
}

/// Magnitude in little-endian 32-bit limbs, no trailing zero limbs; always outside i64.
#[derive(Debug, Clone, PartialEq)]
struct Big {
    neg: bool,
    mag: Vec<u32>,
}

impl Int {
    /// Digits (no underscores, no prefix) in `radix` 2, 8, 10 or 16.
    fn parse(digits: &str, radix: u32) -> Int {
        let mut mag: Vec<u32> = Vec::new();
        if radix == 10 {
            for d in digits.bytes() {
                mul_add(&mut mag, 10, u32::from(d - b'0'));
            }
        } else {
            // Power-of-two radixes pack bits directly: huge hex literals stay linear.
            let bits = radix.trailing_zeros();
            let mut acc: u64 = 0;
            let mut nbits = 0u32;
            for d in digits.bytes().rev() {
                let v = (d as char).to_digit(radix).unwrap_or(0);
                acc |= u64::from(v) << nbits;
                nbits += bits;
                if nbits >= 32 {
                    mag.push(acc as u32);
                    acc >>= 32;
                    nbits -= 32;
                }
            }
            if nbits > 0 {
                mag.push(acc as u32);
            }
        }
        Int::from_mag(false, mag)
    }

    fn from_mag(neg: bool, mut mag: Vec<u32>) -> Int {
        while mag.last() == Some(&0) {
            mag.pop();
        }
        if mag.len() <= 2 {
            let v = mag
                .iter()
                .rev()
                .fold(0u128, |acc, &l| (acc << 32) | u128::from(l));
            let signed = if neg { -(v as i128) } else { v as i128 };
            if let Ok(small) = i64::try_from(signed) {
                return Int::Small(small);
            }
        }
        Int::Big(Big { neg, mag })
    }

    fn neg(self) -> Int {
        match self {
            Int::Small(v) => match v.checked_neg() {
                Some(n) => Int::Small(n),
                None => Int::from_mag(false, vec![0, 0x8000_0000]),
            },
            Int::Big(b) => Int::from_mag(!b.neg, b.mag),
        }
    }

    /// `float(int)`, correctly rounded; None when it overflows (OverflowError).
    fn to_f64(&self) -> Option<f64> {
        match self {
            Int::Small(v) => Some(*v as f64),
            Int::Big(b) => {
                if b.mag.len() > 40 {
                    return None; // ≥ 2**1248
                }
                let f: f64 = b.to_decimal().parse().ok()?;
                f.is_finite().then_some(f)
            }
        }
    }

    /// Python's exact `int == float`.
    fn eq_f64(&self, f: f64) -> bool {
        if !f.is_finite() || f.fract() != 0.0 {
            return false;
        }
        match self {
            Int::Small(v) => {
                (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f)
                    && f as i64 == *v
            }
            Int::Big(b) => {
                let (m, e) = frexp(f.abs());
                // |f| = mantissa * 2**(e - 53) with a 53-bit integer mantissa.
                let mantissa = (m * 9_007_199_254_740_992.0) as u64;
                let shift = e - 53;
                if shift < 0 {
                    return false; // |f| < 2**53 cannot equal a big int
                }
                let mut mag = vec![mantissa as u32, (mantissa >> 32) as u32];
                shl(&mut mag, shift as u32);
                Int::from_mag(f < 0.0, mag) == Int::Big(b.clone())
            }
        }
    }
}

impl Big {
    fn to_decimal(&self) -> String {
        let mut mag = self.mag.clone();
        let mut chunks: Vec<u32> = Vec::new();
        while !mag.is_empty() {
            let mut rem: u64 = 0;
            for limb in mag.iter_mut().rev() {
                let cur = (rem << 32) | u64::from(*limb);
                *limb = (cur / 1_000_000_000) as u32;
                rem = cur % 1_000_000_000;
            }
            chunks.push(rem as u32);
            while mag.last() == Some(&0) {
                mag.pop();
            }
        }
        let mut out = String::with_capacity(chunks.len() * 9 + 1);
        if self.neg {
            out.push('-');
        }
        for (i, chunk) in chunks.iter().rev().enumerate() {
            // Writing to a String cannot fail.
            let _ = if i == 0 {
                write!(out, "{chunk}")
            } else {
                write!(out, "{chunk:09}")
            };
        }
        out
    }

    /// Decimal digits (without sign) exceed `INT_MAX_STR_DIGITS`?
    fn too_many_digits(&self) -> bool {
        let bits = self.mag.len() * 32 - self.mag.last().map_or(32, |l| l.leading_zeros() as usize);
        // 10**4300 needs 14285 bits; only near that is the exact count needed.
        if bits < 14_280 {
            return false;
        }
        if bits > 14_290 {
            return true;
        }
        self.to_decimal().trim_start_matches('-').len() > INT_MAX_STR_DIGITS
    }

    fn hash(&self) -> u64 {
        let m = self.mag.iter().rev().fold(0u64, |acc, &limb| {
            (((u128::from(acc) << 32) | u128::from(limb)) % u128::from(HASH_MODULUS)) as u64
        }) as i64;
        finish_hash(if self.neg { -m } else { m })
    }
}

fn mul_add(mag: &mut Vec<u32>, mul: u32, add: u32) {
    let mut carry = u64::from(add);
    for limb in mag.iter_mut() {
        let cur = u64::from(*limb) * u64::from(mul) + carry;
        *limb = cur as u32;
        carry = cur >> 32;
    }
    if carry > 0 {
        mag.push(carry as u32);
    }
}

fn shl(mag: &mut Vec<u32>, shift: u32) {
    let limbs = (shift / 32) as usize;
    let bits = shift % 32;
    if bits > 0 {
        let mut carry = 0u32;
        for limb in mag.iter_mut() {
            let next = *limb >> (32 - bits);
            *limb = (*limb << bits) | carry;
            carry = next;
        }
        if carry > 0 {
            mag.push(carry);
        }
    }
    mag.splice(0..0, std::iter::repeat_n(0, limbs));
}

// ---------------------------------------------------------------------------------------------
// Ansible's coercion (`_parse_recursive_coerce_types_and_tag`) and the checks that follow it.
// ---------------------------------------------------------------------------------------------

/// The coerced value; dict keys are not coerced by Ansible, so tuple and bytes keys survive until
/// Ansible tries to print them.
enum Co {
    Scalar(Value),
    /// Text decoded from bytes: Ansible does not mark it as trusted, which shows when printed.
    Untrusted(String),
    Big(Big),
    List(Vec<Co>),
    Dict(Vec<(CoKey, Co)>),
}

enum CoKey {
    Scalar(Value),
    Big(Big),
    Tuple,
    Bytes,
}

fn coerce(p: Py) -> Result<Co, LiteralError> {
    Ok(match p {
        Py::None => Co::Scalar(Value::Null),
        Py::Bool(b) => Co::Scalar(Value::Bool(b)),
        Py::Int(Int::Small(v)) => Co::Scalar(Value::Int(v)),
        Py::Int(Int::Big(b)) => Co::Big(b),
        Py::Float(f) => Co::Scalar(Value::Float(f)),
        Py::Str(s) => Co::Scalar(Value::Str(s)),
        Py::Complex(re, im) => Co::Scalar(Value::Str(complex_repr(re, im))),
        Py::Ellipsis => Co::Scalar(Value::Str("...".to_owned())),
        Py::Bytes(b) => Co::Untrusted(decode_surrogateescape(&b)),
        Py::Tuple(items) | Py::List(items) | Py::Set(items) => {
            Co::List(items.into_iter().map(coerce).collect::<Result<_, _>>()?)
        }
        Py::Dict(entries) => {
            let mut out = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                // Tagging the key happens before the value is coerced.
                let key = match k {
                    Py::Complex(..) => {
                        return Err(LiteralError("<class 'complex'> is not taggable".to_owned()));
                    }
                    Py::Ellipsis => {
                        return Err(LiteralError(
                            "<class 'ellipsis'> is not taggable".to_owned(),
                        ));
                    }
                    Py::Tuple(_) => CoKey::Tuple,
                    Py::Bytes(_) => CoKey::Bytes,
                    Py::Int(Int::Big(b)) => CoKey::Big(b),
                    other => match coerce(other)? {
                        Co::Scalar(v) => CoKey::Scalar(v),
                        // Unhashable keys never reach a dict.
                        _ => CoKey::Tuple,
                    },
                };
                out.push((key, coerce(v)?));
            }
            Co::Dict(out)
        }
    })
}

/// `to_text(bytes, errors='surrogate_or_strict')`: UTF-8 with surrogateescape, each undecodable
/// byte a lone surrogate, which Ansible prints as `?`.
fn decode_surrogateescape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        out.extend(std::iter::repeat_n('?', chunk.invalid().len()));
    }
    out
}

impl Co {
    /// Nesting height as Ansible's variable visitor walks it (keys are not visited).
    fn height(&self) -> usize {
        match self {
            Co::Scalar(_) | Co::Untrusted(_) | Co::Big(_) => 1,
            Co::List(items) => 1 + items.iter().map(Co::height).max().unwrap_or(0),
            Co::Dict(entries) => 1 + entries.iter().map(|(_, v)| v.height()).max().unwrap_or(0),
        }
    }

    fn into_value(self) -> Value {
        match self {
            Co::Scalar(v) => v,
            Co::Untrusted(s) => Value::Str(s),
            Co::Big(b) => Value::BigInt(b.to_decimal()),
            Co::List(items) => Value::List(items.into_iter().map(Co::into_value).collect()),
            Co::Dict(entries) => Value::Dict(
                entries
                    .into_iter()
                    .map(|(k, v)| {
                        let key = match k {
                            CoKey::Scalar(s) => s,
                            CoKey::Big(b) => Value::BigInt(b.to_decimal()),
                            // output_check refused these before.
                            CoKey::Tuple | CoKey::Bytes => Value::Null,
                        };
                        (key, v.into_value())
                    })
                    .collect(),
            ),
        }
    }

    /// As [`Value::to_json`], with untrusted text wrapped like Ansible prints it.
    fn into_json(self) -> serde_json::Value {
        match self {
            Co::Untrusted(s) => serde_json::json!({ "__ansible_unsafe": s }),
            Co::List(items) => {
                serde_json::Value::Array(items.into_iter().map(Co::into_json).collect())
            }
            Co::Dict(entries) => json_object(entries.into_iter().map(|(k, v)| {
                let key = match k {
                    CoKey::Scalar(s) => s.json_key(),
                    CoKey::Big(b) => b.to_decimal(),
                    // output_check refused these before.
                    CoKey::Tuple | CoKey::Bytes => String::new(),
                };
                (key, v.into_json())
            })),
            other => other.into_value().to_json(),
        }
    }
}

/// What fails when Ansible prints the value with its `inventory_legacy` JSON profile, in the order
/// the encoder meets it: each dict's keys in insertion order, then its values by sorted key.
fn output_check(co: &Co) -> Result<(), LiteralError> {
    match co {
        Co::Scalar(_) | Co::Untrusted(_) => Ok(()),
        Co::Big(b) => digits_check(b),
        Co::List(items) => items.iter().try_for_each(output_check),
        Co::Dict(entries) => {
            let mut by_key: Vec<(String, &Co)> = Vec::with_capacity(entries.len());
            let mut index: HashMap<String, usize> = HashMap::new();
            for (k, v) in entries {
                let key = match k {
                    CoKey::Tuple => return Err(key_error("_AnsibleTaggedTuple")),
                    CoKey::Bytes => return Err(key_error("_AnsibleTaggedBytes")),
                    CoKey::Big(b) => {
                        digits_check(b)?;
                        b.to_decimal()
                    }
                    CoKey::Scalar(s) => s.json_key(),
                };
                match index.get(&key) {
                    Some(&i) => by_key[i].1 = v,
                    None => {
                        index.insert(key.clone(), by_key.len());
                        by_key.push((key, v));
                    }
                }
            }
            by_key.sort_by(|a, b| a.0.cmp(&b.0));
            by_key.iter().try_for_each(|(_, v)| output_check(v))
        }
    }
}

fn key_error(type_name: &str) -> LiteralError {
    LiteralError(format!(
        "Key of type '{type_name}' is not JSON serializable by the 'inventory_legacy' profile."
    ))
}

fn digits_check(b: &Big) -> Result<(), LiteralError> {
    if b.too_many_digits() {
        Err(LiteralError(INT_DIGITS_ERROR.to_owned()))
    } else {
        Ok(())
    }
}

// -- Python's float and complex repr ------------------------------------------------------------

/// `repr(float)` (`add_dot_zero`) or the `'r'` format without `.0` that `repr(complex)` uses.
fn float_repr(f: f64, add_dot_zero: bool) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "inf".to_owned()
        } else {
            "-inf".to_owned()
        };
    }
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if f == 0.0 {
        return format!("{sign}0{}", if add_dot_zero { ".0" } else { "" });
    }
    // Rust's `{:e}` gives the shortest round-tripping digits, as Python's repr does.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    let decpt = exp + 1;
    let n = digits.len() as i32;
    let mut out = String::from(sign);
    if decpt <= -4 || decpt > 16 {
        out.push_str(&digits[..1]);
        if n > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = decpt - 1;
        // Writing to a String cannot fail.
        let _ = write!(out, "e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    } else if decpt <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-decpt) as usize));
        out.push_str(&digits);
    } else if decpt >= n {
        out.push_str(&digits);
        out.push_str(&"0".repeat((decpt - n) as usize));
        if add_dot_zero {
            out.push_str(".0");
        }
    } else {
        out.push_str(&digits[..decpt as usize]);
        out.push('.');
        out.push_str(&digits[decpt as usize..]);
    }
    out
}

/// `str(complex)`: `1j`, `(1+2j)`, `(-0-0j)`, `(1-infj)`.
fn complex_repr(re: f64, im: f64) -> String {
    let imag = float_repr(im, false);
    if re == 0.0 && re.is_sign_positive() {
        return format!("{imag}j");
    }
    let signed = if imag.starts_with('-') {
        imag
    } else {
        format!("+{imag}")
    };
    format!("({}{signed}j)", float_repr(re, false))
}

// ---------------------------------------------------------------------------------------------
// Unicode tables, generated with CPython 3.11.7 (`unicodedata` 14.0.0) so identifier rules and
// printability match the interpreter Ansible runs on:
//   IDENT_RANGES: non-ASCII ranges of XID_Continue, flagged when also XID_Start
//     (`ch.isidentifier()` / `('a' + ch).isidentifier()`);
//   NON_PRINTABLE: non-ASCII assigned characters for which `str.isprintable()` is false;
//   NFKC_S/E/T: identifier characters whose NFKC form is `s`, `e` or `t`.
// ---------------------------------------------------------------------------------------------

#[rustfmt::skip]
const IDENT_RANGES: &[(u32, u32, bool)] = &[
    (0xAA, 0xAA, true), (0xB5, 0xB5, true), (0xB7, 0xB7, false), (0xBA, 0xBA, true),
    (0xC0, 0xD6, true), (0xD8, 0xF6, true), (0xF8, 0x2C1, true), (0x2C6, 0x2D1, true),
    (0x2E0, 0x2E4, true), (0x2EC, 0x2EC, true), (0x2EE, 0x2EE, true), (0x300, 0x36F, false),
    (0x370, 0x374, true), (0x376, 0x377, true), (0x37B, 0x37D, true), (0x37F, 0x37F, true),
    (0x386, 0x386, true), (0x387, 0x387, false), (0x388, 0x38A, true), (0x38C, 0x38C, true),
    (0x38E, 0x3A1, true), (0x3A3, 0x3F5, true), (0x3F7, 0x481, true), (0x483, 0x487, false),
    (0x48A, 0x52F, true), (0x531, 0x556, true), (0x559, 0x559, true), (0x560, 0x588, true),
    (0x591, 0x5BD, false), (0x5BF, 0x5BF, false), (0x5C1, 0x5C2, false), (0x5C4, 0x5C5, false),
    (0x5C7, 0x5C7, false), (0x5D0, 0x5EA, true), (0x5EF, 0x5F2, true), (0x610, 0x61A, false),
    (0x620, 0x64A, true), (0x64B, 0x669, false), (0x66E, 0x66F, true), (0x670, 0x670, false),
    (0x671, 0x6D3, true), (0x6D5, 0x6D5, true), (0x6D6, 0x6DC, false), (0x6DF, 0x6E4, false),
    (0x6E5, 0x6E6, true), (0x6E7, 0x6E8, false), (0x6EA, 0x6ED, false), (0x6EE, 0x6EF, true),
    (0x6F0, 0x6F9, false), (0x6FA, 0x6FC, true), (0x6FF, 0x6FF, true), (0x710, 0x710, true),
    (0x711, 0x711, false), (0x712, 0x72F, true), (0x730, 0x74A, false), (0x74D, 0x7A5, true),
    (0x7A6, 0x7B0, false), (0x7B1, 0x7B1, true), (0x7C0, 0x7C9, false), (0x7CA, 0x7EA, true),
    (0x7EB, 0x7F3, false), (0x7F4, 0x7F5, true), (0x7FA, 0x7FA, true), (0x7FD, 0x7FD, false),
    (0x800, 0x815, true), (0x816, 0x819, false), (0x81A, 0x81A, true), (0x81B, 0x823, false),
    (0x824, 0x824, true), (0x825, 0x827, false), (0x828, 0x828, true), (0x829, 0x82D, false),
    (0x840, 0x858, true), (0x859, 0x85B, false), (0x860, 0x86A, true), (0x870, 0x887, true),
    (0x889, 0x88E, true), (0x898, 0x89F, false), (0x8A0, 0x8C9, true), (0x8CA, 0x8E1, false),
    (0x8E3, 0x903, false), (0x904, 0x939, true), (0x93A, 0x93C, false), (0x93D, 0x93D, true),
    (0x93E, 0x94F, false), (0x950, 0x950, true), (0x951, 0x957, false), (0x958, 0x961, true),
    (0x962, 0x963, false), (0x966, 0x96F, false), (0x971, 0x980, true), (0x981, 0x983, false),
    (0x985, 0x98C, true), (0x98F, 0x990, true), (0x993, 0x9A8, true), (0x9AA, 0x9B0, true),
    (0x9B2, 0x9B2, true), (0x9B6, 0x9B9, true), (0x9BC, 0x9BC, false), (0x9BD, 0x9BD, true),
    (0x9BE, 0x9C4, false), (0x9C7, 0x9C8, false), (0x9CB, 0x9CD, false), (0x9CE, 0x9CE, true),
    (0x9D7, 0x9D7, false), (0x9DC, 0x9DD, true), (0x9DF, 0x9E1, true), (0x9E2, 0x9E3, false),
    (0x9E6, 0x9EF, false), (0x9F0, 0x9F1, true), (0x9FC, 0x9FC, true), (0x9FE, 0x9FE, false),
    (0xA01, 0xA03, false), (0xA05, 0xA0A, true), (0xA0F, 0xA10, true), (0xA13, 0xA28, true),
    (0xA2A, 0xA30, true), (0xA32, 0xA33, true), (0xA35, 0xA36, true), (0xA38, 0xA39, true),
    (0xA3C, 0xA3C, false), (0xA3E, 0xA42, false), (0xA47, 0xA48, false), (0xA4B, 0xA4D, false),
    (0xA51, 0xA51, false), (0xA59, 0xA5C, true), (0xA5E, 0xA5E, true), (0xA66, 0xA71, false),
    (0xA72, 0xA74, true), (0xA75, 0xA75, false), (0xA81, 0xA83, false), (0xA85, 0xA8D, true),
    (0xA8F, 0xA91, true), (0xA93, 0xAA8, true), (0xAAA, 0xAB0, true), (0xAB2, 0xAB3, true),
    (0xAB5, 0xAB9, true), (0xABC, 0xABC, false), (0xABD, 0xABD, true), (0xABE, 0xAC5, false),
    (0xAC7, 0xAC9, false), (0xACB, 0xACD, false), (0xAD0, 0xAD0, true), (0xAE0, 0xAE1, true),
    (0xAE2, 0xAE3, false), (0xAE6, 0xAEF, false), (0xAF9, 0xAF9, true), (0xAFA, 0xAFF, false),
    (0xB01, 0xB03, false), (0xB05, 0xB0C, true), (0xB0F, 0xB10, true), (0xB13, 0xB28, true),
    (0xB2A, 0xB30, true), (0xB32, 0xB33, true), (0xB35, 0xB39, true), (0xB3C, 0xB3C, false),
    (0xB3D, 0xB3D, true), (0xB3E, 0xB44, false), (0xB47, 0xB48, false), (0xB4B, 0xB4D, false),
    (0xB55, 0xB57, false), (0xB5C, 0xB5D, true), (0xB5F, 0xB61, true), (0xB62, 0xB63, false),
    (0xB66, 0xB6F, false), (0xB71, 0xB71, true), (0xB82, 0xB82, false), (0xB83, 0xB83, true),
    (0xB85, 0xB8A, true), (0xB8E, 0xB90, true), (0xB92, 0xB95, true), (0xB99, 0xB9A, true),
    (0xB9C, 0xB9C, true), (0xB9E, 0xB9F, true), (0xBA3, 0xBA4, true), (0xBA8, 0xBAA, true),
    (0xBAE, 0xBB9, true), (0xBBE, 0xBC2, false), (0xBC6, 0xBC8, false), (0xBCA, 0xBCD, false),
    (0xBD0, 0xBD0, true), (0xBD7, 0xBD7, false), (0xBE6, 0xBEF, false), (0xC00, 0xC04, false),
    (0xC05, 0xC0C, true), (0xC0E, 0xC10, true), (0xC12, 0xC28, true), (0xC2A, 0xC39, true),
    (0xC3C, 0xC3C, false), (0xC3D, 0xC3D, true), (0xC3E, 0xC44, false), (0xC46, 0xC48, false),
    (0xC4A, 0xC4D, false), (0xC55, 0xC56, false), (0xC58, 0xC5A, true), (0xC5D, 0xC5D, true),
    (0xC60, 0xC61, true), (0xC62, 0xC63, false), (0xC66, 0xC6F, false), (0xC80, 0xC80, true),
    (0xC81, 0xC83, false), (0xC85, 0xC8C, true), (0xC8E, 0xC90, true), (0xC92, 0xCA8, true),
    (0xCAA, 0xCB3, true), (0xCB5, 0xCB9, true), (0xCBC, 0xCBC, false), (0xCBD, 0xCBD, true),
    (0xCBE, 0xCC4, false), (0xCC6, 0xCC8, false), (0xCCA, 0xCCD, false), (0xCD5, 0xCD6, false),
    (0xCDD, 0xCDE, true), (0xCE0, 0xCE1, true), (0xCE2, 0xCE3, false), (0xCE6, 0xCEF, false),
    (0xCF1, 0xCF2, true), (0xD00, 0xD03, false), (0xD04, 0xD0C, true), (0xD0E, 0xD10, true),
    (0xD12, 0xD3A, true), (0xD3B, 0xD3C, false), (0xD3D, 0xD3D, true), (0xD3E, 0xD44, false),
    (0xD46, 0xD48, false), (0xD4A, 0xD4D, false), (0xD4E, 0xD4E, true), (0xD54, 0xD56, true),
    (0xD57, 0xD57, false), (0xD5F, 0xD61, true), (0xD62, 0xD63, false), (0xD66, 0xD6F, false),
    (0xD7A, 0xD7F, true), (0xD81, 0xD83, false), (0xD85, 0xD96, true), (0xD9A, 0xDB1, true),
    (0xDB3, 0xDBB, true), (0xDBD, 0xDBD, true), (0xDC0, 0xDC6, true), (0xDCA, 0xDCA, false),
    (0xDCF, 0xDD4, false), (0xDD6, 0xDD6, false), (0xDD8, 0xDDF, false), (0xDE6, 0xDEF, false),
    (0xDF2, 0xDF3, false), (0xE01, 0xE30, true), (0xE31, 0xE31, false), (0xE32, 0xE32, true),
    (0xE33, 0xE3A, false), (0xE40, 0xE46, true), (0xE47, 0xE4E, false), (0xE50, 0xE59, false),
    (0xE81, 0xE82, true), (0xE84, 0xE84, true), (0xE86, 0xE8A, true), (0xE8C, 0xEA3, true),
    (0xEA5, 0xEA5, true), (0xEA7, 0xEB0, true), (0xEB1, 0xEB1, false), (0xEB2, 0xEB2, true),
    (0xEB3, 0xEBC, false), (0xEBD, 0xEBD, true), (0xEC0, 0xEC4, true), (0xEC6, 0xEC6, true),
    (0xEC8, 0xECD, false), (0xED0, 0xED9, false), (0xEDC, 0xEDF, true), (0xF00, 0xF00, true),
    (0xF18, 0xF19, false), (0xF20, 0xF29, false), (0xF35, 0xF35, false), (0xF37, 0xF37, false),
    (0xF39, 0xF39, false), (0xF3E, 0xF3F, false), (0xF40, 0xF47, true), (0xF49, 0xF6C, true),
    (0xF71, 0xF84, false), (0xF86, 0xF87, false), (0xF88, 0xF8C, true), (0xF8D, 0xF97, false),
    (0xF99, 0xFBC, false), (0xFC6, 0xFC6, false), (0x1000, 0x102A, true), (0x102B, 0x103E, false),
    (0x103F, 0x103F, true), (0x1040, 0x1049, false), (0x1050, 0x1055, true),
    (0x1056, 0x1059, false), (0x105A, 0x105D, true), (0x105E, 0x1060, false),
    (0x1061, 0x1061, true), (0x1062, 0x1064, false), (0x1065, 0x1066, true),
    (0x1067, 0x106D, false), (0x106E, 0x1070, true), (0x1071, 0x1074, false),
    (0x1075, 0x1081, true), (0x1082, 0x108D, false), (0x108E, 0x108E, true),
    (0x108F, 0x109D, false), (0x10A0, 0x10C5, true), (0x10C7, 0x10C7, true), (0x10CD, 0x10CD, true),
    (0x10D0, 0x10FA, true), (0x10FC, 0x1248, true), (0x124A, 0x124D, true), (0x1250, 0x1256, true),
    (0x1258, 0x1258, true), (0x125A, 0x125D, true), (0x1260, 0x1288, true), (0x128A, 0x128D, true),
    (0x1290, 0x12B0, true), (0x12B2, 0x12B5, true), (0x12B8, 0x12BE, true), (0x12C0, 0x12C0, true),
    (0x12C2, 0x12C5, true), (0x12C8, 0x12D6, true), (0x12D8, 0x1310, true), (0x1312, 0x1315, true),
    (0x1318, 0x135A, true), (0x135D, 0x135F, false), (0x1369, 0x1371, false),
    (0x1380, 0x138F, true), (0x13A0, 0x13F5, true), (0x13F8, 0x13FD, true), (0x1401, 0x166C, true),
    (0x166F, 0x167F, true), (0x1681, 0x169A, true), (0x16A0, 0x16EA, true), (0x16EE, 0x16F8, true),
    (0x1700, 0x1711, true), (0x1712, 0x1715, false), (0x171F, 0x1731, true),
    (0x1732, 0x1734, false), (0x1740, 0x1751, true), (0x1752, 0x1753, false),
    (0x1760, 0x176C, true), (0x176E, 0x1770, true), (0x1772, 0x1773, false), (0x1780, 0x17B3, true),
    (0x17B4, 0x17D3, false), (0x17D7, 0x17D7, true), (0x17DC, 0x17DC, true),
    (0x17DD, 0x17DD, false), (0x17E0, 0x17E9, false), (0x180B, 0x180D, false),
    (0x180F, 0x1819, false), (0x1820, 0x1878, true), (0x1880, 0x18A8, true),
    (0x18A9, 0x18A9, false), (0x18AA, 0x18AA, true), (0x18B0, 0x18F5, true), (0x1900, 0x191E, true),
    (0x1920, 0x192B, false), (0x1930, 0x193B, false), (0x1946, 0x194F, false),
    (0x1950, 0x196D, true), (0x1970, 0x1974, true), (0x1980, 0x19AB, true), (0x19B0, 0x19C9, true),
    (0x19D0, 0x19DA, false), (0x1A00, 0x1A16, true), (0x1A17, 0x1A1B, false),
    (0x1A20, 0x1A54, true), (0x1A55, 0x1A5E, false), (0x1A60, 0x1A7C, false),
    (0x1A7F, 0x1A89, false), (0x1A90, 0x1A99, false), (0x1AA7, 0x1AA7, true),
    (0x1AB0, 0x1ABD, false), (0x1ABF, 0x1ACE, false), (0x1B00, 0x1B04, false),
    (0x1B05, 0x1B33, true), (0x1B34, 0x1B44, false), (0x1B45, 0x1B4C, true),
    (0x1B50, 0x1B59, false), (0x1B6B, 0x1B73, false), (0x1B80, 0x1B82, false),
    (0x1B83, 0x1BA0, true), (0x1BA1, 0x1BAD, false), (0x1BAE, 0x1BAF, true),
    (0x1BB0, 0x1BB9, false), (0x1BBA, 0x1BE5, true), (0x1BE6, 0x1BF3, false),
    (0x1C00, 0x1C23, true), (0x1C24, 0x1C37, false), (0x1C40, 0x1C49, false),
    (0x1C4D, 0x1C4F, true), (0x1C50, 0x1C59, false), (0x1C5A, 0x1C7D, true), (0x1C80, 0x1C88, true),
    (0x1C90, 0x1CBA, true), (0x1CBD, 0x1CBF, true), (0x1CD0, 0x1CD2, false),
    (0x1CD4, 0x1CE8, false), (0x1CE9, 0x1CEC, true), (0x1CED, 0x1CED, false),
    (0x1CEE, 0x1CF3, true), (0x1CF4, 0x1CF4, false), (0x1CF5, 0x1CF6, true),
    (0x1CF7, 0x1CF9, false), (0x1CFA, 0x1CFA, true), (0x1D00, 0x1DBF, true),
    (0x1DC0, 0x1DFF, false), (0x1E00, 0x1F15, true), (0x1F18, 0x1F1D, true), (0x1F20, 0x1F45, true),
    (0x1F48, 0x1F4D, true), (0x1F50, 0x1F57, true), (0x1F59, 0x1F59, true), (0x1F5B, 0x1F5B, true),
    (0x1F5D, 0x1F5D, true), (0x1F5F, 0x1F7D, true), (0x1F80, 0x1FB4, true), (0x1FB6, 0x1FBC, true),
    (0x1FBE, 0x1FBE, true), (0x1FC2, 0x1FC4, true), (0x1FC6, 0x1FCC, true), (0x1FD0, 0x1FD3, true),
    (0x1FD6, 0x1FDB, true), (0x1FE0, 0x1FEC, true), (0x1FF2, 0x1FF4, true), (0x1FF6, 0x1FFC, true),
    (0x203F, 0x2040, false), (0x2054, 0x2054, false), (0x2071, 0x2071, true),
    (0x207F, 0x207F, true), (0x2090, 0x209C, true), (0x20D0, 0x20DC, false),
    (0x20E1, 0x20E1, false), (0x20E5, 0x20F0, false), (0x2102, 0x2102, true),
    (0x2107, 0x2107, true), (0x210A, 0x2113, true), (0x2115, 0x2115, true), (0x2118, 0x211D, true),
    (0x2124, 0x2124, true), (0x2126, 0x2126, true), (0x2128, 0x2128, true), (0x212A, 0x2139, true),
    (0x213C, 0x213F, true), (0x2145, 0x2149, true), (0x214E, 0x214E, true), (0x2160, 0x2188, true),
    (0x2C00, 0x2CE4, true), (0x2CEB, 0x2CEE, true), (0x2CEF, 0x2CF1, false), (0x2CF2, 0x2CF3, true),
    (0x2D00, 0x2D25, true), (0x2D27, 0x2D27, true), (0x2D2D, 0x2D2D, true), (0x2D30, 0x2D67, true),
    (0x2D6F, 0x2D6F, true), (0x2D7F, 0x2D7F, false), (0x2D80, 0x2D96, true), (0x2DA0, 0x2DA6, true),
    (0x2DA8, 0x2DAE, true), (0x2DB0, 0x2DB6, true), (0x2DB8, 0x2DBE, true), (0x2DC0, 0x2DC6, true),
    (0x2DC8, 0x2DCE, true), (0x2DD0, 0x2DD6, true), (0x2DD8, 0x2DDE, true), (0x2DE0, 0x2DFF, false),
    (0x3005, 0x3007, true), (0x3021, 0x3029, true), (0x302A, 0x302F, false), (0x3031, 0x3035, true),
    (0x3038, 0x303C, true), (0x3041, 0x3096, true), (0x3099, 0x309A, false), (0x309D, 0x309F, true),
    (0x30A1, 0x30FA, true), (0x30FC, 0x30FF, true), (0x3105, 0x312F, true), (0x3131, 0x318E, true),
    (0x31A0, 0x31BF, true), (0x31F0, 0x31FF, true), (0x3400, 0x4DBF, true), (0x4E00, 0xA48C, true),
    (0xA4D0, 0xA4FD, true), (0xA500, 0xA60C, true), (0xA610, 0xA61F, true), (0xA620, 0xA629, false),
    (0xA62A, 0xA62B, true), (0xA640, 0xA66E, true), (0xA66F, 0xA66F, false),
    (0xA674, 0xA67D, false), (0xA67F, 0xA69D, true), (0xA69E, 0xA69F, false),
    (0xA6A0, 0xA6EF, true), (0xA6F0, 0xA6F1, false), (0xA717, 0xA71F, true), (0xA722, 0xA788, true),
    (0xA78B, 0xA7CA, true), (0xA7D0, 0xA7D1, true), (0xA7D3, 0xA7D3, true), (0xA7D5, 0xA7D9, true),
    (0xA7F2, 0xA801, true), (0xA802, 0xA802, false), (0xA803, 0xA805, true),
    (0xA806, 0xA806, false), (0xA807, 0xA80A, true), (0xA80B, 0xA80B, false),
    (0xA80C, 0xA822, true), (0xA823, 0xA827, false), (0xA82C, 0xA82C, false),
    (0xA840, 0xA873, true), (0xA880, 0xA881, false), (0xA882, 0xA8B3, true),
    (0xA8B4, 0xA8C5, false), (0xA8D0, 0xA8D9, false), (0xA8E0, 0xA8F1, false),
    (0xA8F2, 0xA8F7, true), (0xA8FB, 0xA8FB, true), (0xA8FD, 0xA8FE, true), (0xA8FF, 0xA909, false),
    (0xA90A, 0xA925, true), (0xA926, 0xA92D, false), (0xA930, 0xA946, true),
    (0xA947, 0xA953, false), (0xA960, 0xA97C, true), (0xA980, 0xA983, false),
    (0xA984, 0xA9B2, true), (0xA9B3, 0xA9C0, false), (0xA9CF, 0xA9CF, true),
    (0xA9D0, 0xA9D9, false), (0xA9E0, 0xA9E4, true), (0xA9E5, 0xA9E5, false),
    (0xA9E6, 0xA9EF, true), (0xA9F0, 0xA9F9, false), (0xA9FA, 0xA9FE, true), (0xAA00, 0xAA28, true),
    (0xAA29, 0xAA36, false), (0xAA40, 0xAA42, true), (0xAA43, 0xAA43, false),
    (0xAA44, 0xAA4B, true), (0xAA4C, 0xAA4D, false), (0xAA50, 0xAA59, false),
    (0xAA60, 0xAA76, true), (0xAA7A, 0xAA7A, true), (0xAA7B, 0xAA7D, false), (0xAA7E, 0xAAAF, true),
    (0xAAB0, 0xAAB0, false), (0xAAB1, 0xAAB1, true), (0xAAB2, 0xAAB4, false),
    (0xAAB5, 0xAAB6, true), (0xAAB7, 0xAAB8, false), (0xAAB9, 0xAABD, true),
    (0xAABE, 0xAABF, false), (0xAAC0, 0xAAC0, true), (0xAAC1, 0xAAC1, false),
    (0xAAC2, 0xAAC2, true), (0xAADB, 0xAADD, true), (0xAAE0, 0xAAEA, true), (0xAAEB, 0xAAEF, false),
    (0xAAF2, 0xAAF4, true), (0xAAF5, 0xAAF6, false), (0xAB01, 0xAB06, true), (0xAB09, 0xAB0E, true),
    (0xAB11, 0xAB16, true), (0xAB20, 0xAB26, true), (0xAB28, 0xAB2E, true), (0xAB30, 0xAB5A, true),
    (0xAB5C, 0xAB69, true), (0xAB70, 0xABE2, true), (0xABE3, 0xABEA, false),
    (0xABEC, 0xABED, false), (0xABF0, 0xABF9, false), (0xAC00, 0xD7A3, true),
    (0xD7B0, 0xD7C6, true), (0xD7CB, 0xD7FB, true), (0xF900, 0xFA6D, true), (0xFA70, 0xFAD9, true),
    (0xFB00, 0xFB06, true), (0xFB13, 0xFB17, true), (0xFB1D, 0xFB1D, true), (0xFB1E, 0xFB1E, false),
    (0xFB1F, 0xFB28, true), (0xFB2A, 0xFB36, true), (0xFB38, 0xFB3C, true), (0xFB3E, 0xFB3E, true),
    (0xFB40, 0xFB41, true), (0xFB43, 0xFB44, true), (0xFB46, 0xFBB1, true), (0xFBD3, 0xFC5D, true),
    (0xFC64, 0xFD3D, true), (0xFD50, 0xFD8F, true), (0xFD92, 0xFDC7, true), (0xFDF0, 0xFDF9, true),
    (0xFE00, 0xFE0F, false), (0xFE20, 0xFE2F, false), (0xFE33, 0xFE34, false),
    (0xFE4D, 0xFE4F, false), (0xFE71, 0xFE71, true), (0xFE73, 0xFE73, true), (0xFE77, 0xFE77, true),
    (0xFE79, 0xFE79, true), (0xFE7B, 0xFE7B, true), (0xFE7D, 0xFE7D, true), (0xFE7F, 0xFEFC, true),
    (0xFF10, 0xFF19, false), (0xFF21, 0xFF3A, true), (0xFF3F, 0xFF3F, false),
    (0xFF41, 0xFF5A, true), (0xFF66, 0xFF9D, true), (0xFF9E, 0xFF9F, false), (0xFFA0, 0xFFBE, true),
    (0xFFC2, 0xFFC7, true), (0xFFCA, 0xFFCF, true), (0xFFD2, 0xFFD7, true), (0xFFDA, 0xFFDC, true),
    (0x10000, 0x1000B, true), (0x1000D, 0x10026, true), (0x10028, 0x1003A, true),
    (0x1003C, 0x1003D, true), (0x1003F, 0x1004D, true), (0x10050, 0x1005D, true),
    (0x10080, 0x100FA, true), (0x10140, 0x10174, true), (0x101FD, 0x101FD, false),
    (0x10280, 0x1029C, true), (0x102A0, 0x102D0, true), (0x102E0, 0x102E0, false),
    (0x10300, 0x1031F, true), (0x1032D, 0x1034A, true), (0x10350, 0x10375, true),
    (0x10376, 0x1037A, false), (0x10380, 0x1039D, true), (0x103A0, 0x103C3, true),
    (0x103C8, 0x103CF, true), (0x103D1, 0x103D5, true), (0x10400, 0x1049D, true),
    (0x104A0, 0x104A9, false), (0x104B0, 0x104D3, true), (0x104D8, 0x104FB, true),
    (0x10500, 0x10527, true), (0x10530, 0x10563, true), (0x10570, 0x1057A, true),
    (0x1057C, 0x1058A, true), (0x1058C, 0x10592, true), (0x10594, 0x10595, true),
    (0x10597, 0x105A1, true), (0x105A3, 0x105B1, true), (0x105B3, 0x105B9, true),
    (0x105BB, 0x105BC, true), (0x10600, 0x10736, true), (0x10740, 0x10755, true),
    (0x10760, 0x10767, true), (0x10780, 0x10785, true), (0x10787, 0x107B0, true),
    (0x107B2, 0x107BA, true), (0x10800, 0x10805, true), (0x10808, 0x10808, true),
    (0x1080A, 0x10835, true), (0x10837, 0x10838, true), (0x1083C, 0x1083C, true),
    (0x1083F, 0x10855, true), (0x10860, 0x10876, true), (0x10880, 0x1089E, true),
    (0x108E0, 0x108F2, true), (0x108F4, 0x108F5, true), (0x10900, 0x10915, true),
    (0x10920, 0x10939, true), (0x10980, 0x109B7, true), (0x109BE, 0x109BF, true),
    (0x10A00, 0x10A00, true), (0x10A01, 0x10A03, false), (0x10A05, 0x10A06, false),
    (0x10A0C, 0x10A0F, false), (0x10A10, 0x10A13, true), (0x10A15, 0x10A17, true),
    (0x10A19, 0x10A35, true), (0x10A38, 0x10A3A, false), (0x10A3F, 0x10A3F, false),
    (0x10A60, 0x10A7C, true), (0x10A80, 0x10A9C, true), (0x10AC0, 0x10AC7, true),
    (0x10AC9, 0x10AE4, true), (0x10AE5, 0x10AE6, false), (0x10B00, 0x10B35, true),
    (0x10B40, 0x10B55, true), (0x10B60, 0x10B72, true), (0x10B80, 0x10B91, true),
    (0x10C00, 0x10C48, true), (0x10C80, 0x10CB2, true), (0x10CC0, 0x10CF2, true),
    (0x10D00, 0x10D23, true), (0x10D24, 0x10D27, false), (0x10D30, 0x10D39, false),
    (0x10E80, 0x10EA9, true), (0x10EAB, 0x10EAC, false), (0x10EB0, 0x10EB1, true),
    (0x10F00, 0x10F1C, true), (0x10F27, 0x10F27, true), (0x10F30, 0x10F45, true),
    (0x10F46, 0x10F50, false), (0x10F70, 0x10F81, true), (0x10F82, 0x10F85, false),
    (0x10FB0, 0x10FC4, true), (0x10FE0, 0x10FF6, true), (0x11000, 0x11002, false),
    (0x11003, 0x11037, true), (0x11038, 0x11046, false), (0x11066, 0x11070, false),
    (0x11071, 0x11072, true), (0x11073, 0x11074, false), (0x11075, 0x11075, true),
    (0x1107F, 0x11082, false), (0x11083, 0x110AF, true), (0x110B0, 0x110BA, false),
    (0x110C2, 0x110C2, false), (0x110D0, 0x110E8, true), (0x110F0, 0x110F9, false),
    (0x11100, 0x11102, false), (0x11103, 0x11126, true), (0x11127, 0x11134, false),
    (0x11136, 0x1113F, false), (0x11144, 0x11144, true), (0x11145, 0x11146, false),
    (0x11147, 0x11147, true), (0x11150, 0x11172, true), (0x11173, 0x11173, false),
    (0x11176, 0x11176, true), (0x11180, 0x11182, false), (0x11183, 0x111B2, true),
    (0x111B3, 0x111C0, false), (0x111C1, 0x111C4, true), (0x111C9, 0x111CC, false),
    (0x111CE, 0x111D9, false), (0x111DA, 0x111DA, true), (0x111DC, 0x111DC, true),
    (0x11200, 0x11211, true), (0x11213, 0x1122B, true), (0x1122C, 0x11237, false),
    (0x1123E, 0x1123E, false), (0x11280, 0x11286, true), (0x11288, 0x11288, true),
    (0x1128A, 0x1128D, true), (0x1128F, 0x1129D, true), (0x1129F, 0x112A8, true),
    (0x112B0, 0x112DE, true), (0x112DF, 0x112EA, false), (0x112F0, 0x112F9, false),
    (0x11300, 0x11303, false), (0x11305, 0x1130C, true), (0x1130F, 0x11310, true),
    (0x11313, 0x11328, true), (0x1132A, 0x11330, true), (0x11332, 0x11333, true),
    (0x11335, 0x11339, true), (0x1133B, 0x1133C, false), (0x1133D, 0x1133D, true),
    (0x1133E, 0x11344, false), (0x11347, 0x11348, false), (0x1134B, 0x1134D, false),
    (0x11350, 0x11350, true), (0x11357, 0x11357, false), (0x1135D, 0x11361, true),
    (0x11362, 0x11363, false), (0x11366, 0x1136C, false), (0x11370, 0x11374, false),
    (0x11400, 0x11434, true), (0x11435, 0x11446, false), (0x11447, 0x1144A, true),
    (0x11450, 0x11459, false), (0x1145E, 0x1145E, false), (0x1145F, 0x11461, true),
    (0x11480, 0x114AF, true), (0x114B0, 0x114C3, false), (0x114C4, 0x114C5, true),
    (0x114C7, 0x114C7, true), (0x114D0, 0x114D9, false), (0x11580, 0x115AE, true),
    (0x115AF, 0x115B5, false), (0x115B8, 0x115C0, false), (0x115D8, 0x115DB, true),
    (0x115DC, 0x115DD, false), (0x11600, 0x1162F, true), (0x11630, 0x11640, false),
    (0x11644, 0x11644, true), (0x11650, 0x11659, false), (0x11680, 0x116AA, true),
    (0x116AB, 0x116B7, false), (0x116B8, 0x116B8, true), (0x116C0, 0x116C9, false),
    (0x11700, 0x1171A, true), (0x1171D, 0x1172B, false), (0x11730, 0x11739, false),
    (0x11740, 0x11746, true), (0x11800, 0x1182B, true), (0x1182C, 0x1183A, false),
    (0x118A0, 0x118DF, true), (0x118E0, 0x118E9, false), (0x118FF, 0x11906, true),
    (0x11909, 0x11909, true), (0x1190C, 0x11913, true), (0x11915, 0x11916, true),
    (0x11918, 0x1192F, true), (0x11930, 0x11935, false), (0x11937, 0x11938, false),
    (0x1193B, 0x1193E, false), (0x1193F, 0x1193F, true), (0x11940, 0x11940, false),
    (0x11941, 0x11941, true), (0x11942, 0x11943, false), (0x11950, 0x11959, false),
    (0x119A0, 0x119A7, true), (0x119AA, 0x119D0, true), (0x119D1, 0x119D7, false),
    (0x119DA, 0x119E0, false), (0x119E1, 0x119E1, true), (0x119E3, 0x119E3, true),
    (0x119E4, 0x119E4, false), (0x11A00, 0x11A00, true), (0x11A01, 0x11A0A, false),
    (0x11A0B, 0x11A32, true), (0x11A33, 0x11A39, false), (0x11A3A, 0x11A3A, true),
    (0x11A3B, 0x11A3E, false), (0x11A47, 0x11A47, false), (0x11A50, 0x11A50, true),
    (0x11A51, 0x11A5B, false), (0x11A5C, 0x11A89, true), (0x11A8A, 0x11A99, false),
    (0x11A9D, 0x11A9D, true), (0x11AB0, 0x11AF8, true), (0x11C00, 0x11C08, true),
    (0x11C0A, 0x11C2E, true), (0x11C2F, 0x11C36, false), (0x11C38, 0x11C3F, false),
    (0x11C40, 0x11C40, true), (0x11C50, 0x11C59, false), (0x11C72, 0x11C8F, true),
    (0x11C92, 0x11CA7, false), (0x11CA9, 0x11CB6, false), (0x11D00, 0x11D06, true),
    (0x11D08, 0x11D09, true), (0x11D0B, 0x11D30, true), (0x11D31, 0x11D36, false),
    (0x11D3A, 0x11D3A, false), (0x11D3C, 0x11D3D, false), (0x11D3F, 0x11D45, false),
    (0x11D46, 0x11D46, true), (0x11D47, 0x11D47, false), (0x11D50, 0x11D59, false),
    (0x11D60, 0x11D65, true), (0x11D67, 0x11D68, true), (0x11D6A, 0x11D89, true),
    (0x11D8A, 0x11D8E, false), (0x11D90, 0x11D91, false), (0x11D93, 0x11D97, false),
    (0x11D98, 0x11D98, true), (0x11DA0, 0x11DA9, false), (0x11EE0, 0x11EF2, true),
    (0x11EF3, 0x11EF6, false), (0x11FB0, 0x11FB0, true), (0x12000, 0x12399, true),
    (0x12400, 0x1246E, true), (0x12480, 0x12543, true), (0x12F90, 0x12FF0, true),
    (0x13000, 0x1342E, true), (0x14400, 0x14646, true), (0x16800, 0x16A38, true),
    (0x16A40, 0x16A5E, true), (0x16A60, 0x16A69, false), (0x16A70, 0x16ABE, true),
    (0x16AC0, 0x16AC9, false), (0x16AD0, 0x16AED, true), (0x16AF0, 0x16AF4, false),
    (0x16B00, 0x16B2F, true), (0x16B30, 0x16B36, false), (0x16B40, 0x16B43, true),
    (0x16B50, 0x16B59, false), (0x16B63, 0x16B77, true), (0x16B7D, 0x16B8F, true),
    (0x16E40, 0x16E7F, true), (0x16F00, 0x16F4A, true), (0x16F4F, 0x16F4F, false),
    (0x16F50, 0x16F50, true), (0x16F51, 0x16F87, false), (0x16F8F, 0x16F92, false),
    (0x16F93, 0x16F9F, true), (0x16FE0, 0x16FE1, true), (0x16FE3, 0x16FE3, true),
    (0x16FE4, 0x16FE4, false), (0x16FF0, 0x16FF1, false), (0x17000, 0x187F7, true),
    (0x18800, 0x18CD5, true), (0x18D00, 0x18D08, true), (0x1AFF0, 0x1AFF3, true),
    (0x1AFF5, 0x1AFFB, true), (0x1AFFD, 0x1AFFE, true), (0x1B000, 0x1B122, true),
    (0x1B150, 0x1B152, true), (0x1B164, 0x1B167, true), (0x1B170, 0x1B2FB, true),
    (0x1BC00, 0x1BC6A, true), (0x1BC70, 0x1BC7C, true), (0x1BC80, 0x1BC88, true),
    (0x1BC90, 0x1BC99, true), (0x1BC9D, 0x1BC9E, false), (0x1CF00, 0x1CF2D, false),
    (0x1CF30, 0x1CF46, false), (0x1D165, 0x1D169, false), (0x1D16D, 0x1D172, false),
    (0x1D17B, 0x1D182, false), (0x1D185, 0x1D18B, false), (0x1D1AA, 0x1D1AD, false),
    (0x1D242, 0x1D244, false), (0x1D400, 0x1D454, true), (0x1D456, 0x1D49C, true),
    (0x1D49E, 0x1D49F, true), (0x1D4A2, 0x1D4A2, true), (0x1D4A5, 0x1D4A6, true),
    (0x1D4A9, 0x1D4AC, true), (0x1D4AE, 0x1D4B9, true), (0x1D4BB, 0x1D4BB, true),
    (0x1D4BD, 0x1D4C3, true), (0x1D4C5, 0x1D505, true), (0x1D507, 0x1D50A, true),
    (0x1D50D, 0x1D514, true), (0x1D516, 0x1D51C, true), (0x1D51E, 0x1D539, true),
    (0x1D53B, 0x1D53E, true), (0x1D540, 0x1D544, true), (0x1D546, 0x1D546, true),
    (0x1D54A, 0x1D550, true), (0x1D552, 0x1D6A5, true), (0x1D6A8, 0x1D6C0, true),
    (0x1D6C2, 0x1D6DA, true), (0x1D6DC, 0x1D6FA, true), (0x1D6FC, 0x1D714, true),
    (0x1D716, 0x1D734, true), (0x1D736, 0x1D74E, true), (0x1D750, 0x1D76E, true),
    (0x1D770, 0x1D788, true), (0x1D78A, 0x1D7A8, true), (0x1D7AA, 0x1D7C2, true),
    (0x1D7C4, 0x1D7CB, true), (0x1D7CE, 0x1D7FF, false), (0x1DA00, 0x1DA36, false),
    (0x1DA3B, 0x1DA6C, false), (0x1DA75, 0x1DA75, false), (0x1DA84, 0x1DA84, false),
    (0x1DA9B, 0x1DA9F, false), (0x1DAA1, 0x1DAAF, false), (0x1DF00, 0x1DF1E, true),
    (0x1E000, 0x1E006, false), (0x1E008, 0x1E018, false), (0x1E01B, 0x1E021, false),
    (0x1E023, 0x1E024, false), (0x1E026, 0x1E02A, false), (0x1E100, 0x1E12C, true),
    (0x1E130, 0x1E136, false), (0x1E137, 0x1E13D, true), (0x1E140, 0x1E149, false),
    (0x1E14E, 0x1E14E, true), (0x1E290, 0x1E2AD, true), (0x1E2AE, 0x1E2AE, false),
    (0x1E2C0, 0x1E2EB, true), (0x1E2EC, 0x1E2F9, false), (0x1E7E0, 0x1E7E6, true),
    (0x1E7E8, 0x1E7EB, true), (0x1E7ED, 0x1E7EE, true), (0x1E7F0, 0x1E7FE, true),
    (0x1E800, 0x1E8C4, true), (0x1E8D0, 0x1E8D6, false), (0x1E900, 0x1E943, true),
    (0x1E944, 0x1E94A, false), (0x1E94B, 0x1E94B, true), (0x1E950, 0x1E959, false),
    (0x1EE00, 0x1EE03, true), (0x1EE05, 0x1EE1F, true), (0x1EE21, 0x1EE22, true),
    (0x1EE24, 0x1EE24, true), (0x1EE27, 0x1EE27, true), (0x1EE29, 0x1EE32, true),
    (0x1EE34, 0x1EE37, true), (0x1EE39, 0x1EE39, true), (0x1EE3B, 0x1EE3B, true),
    (0x1EE42, 0x1EE42, true), (0x1EE47, 0x1EE47, true), (0x1EE49, 0x1EE49, true),
    (0x1EE4B, 0x1EE4B, true), (0x1EE4D, 0x1EE4F, true), (0x1EE51, 0x1EE52, true),
    (0x1EE54, 0x1EE54, true), (0x1EE57, 0x1EE57, true), (0x1EE59, 0x1EE59, true),
    (0x1EE5B, 0x1EE5B, true), (0x1EE5D, 0x1EE5D, true), (0x1EE5F, 0x1EE5F, true),
    (0x1EE61, 0x1EE62, true), (0x1EE64, 0x1EE64, true), (0x1EE67, 0x1EE6A, true),
    (0x1EE6C, 0x1EE72, true), (0x1EE74, 0x1EE77, true), (0x1EE79, 0x1EE7C, true),
    (0x1EE7E, 0x1EE7E, true), (0x1EE80, 0x1EE89, true), (0x1EE8B, 0x1EE9B, true),
    (0x1EEA1, 0x1EEA3, true), (0x1EEA5, 0x1EEA9, true), (0x1EEAB, 0x1EEBB, true),
    (0x1FBF0, 0x1FBF9, false), (0x20000, 0x2A6DF, true), (0x2A700, 0x2B738, true),
    (0x2B740, 0x2B81D, true), (0x2B820, 0x2CEA1, true), (0x2CEB0, 0x2EBE0, true),
    (0x2F800, 0x2FA1D, true), (0x30000, 0x3134A, true), (0xE0100, 0xE01EF, false),
];
#[rustfmt::skip]
const NON_PRINTABLE: &[(u32, u32)] = &[
    (0x80, 0xA0), (0xAD, 0xAD), (0x600, 0x605), (0x61C, 0x61C), (0x6DD, 0x6DD), (0x70F, 0x70F),
    (0x890, 0x891), (0x8E2, 0x8E2), (0x1680, 0x1680), (0x180E, 0x180E), (0x2000, 0x200F),
    (0x2028, 0x202F), (0x205F, 0x2064), (0x2066, 0x206F), (0x3000, 0x3000), (0xD800, 0xF8FF),
    (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x13438),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F),
    (0xF0000, 0xFFFFD), (0x100000, 0x10FFFD),
];
#[rustfmt::skip]
const NFKC_S: &[char] = &['\u{17F}', '\u{2E2}', '\u{209B}', '\u{FF53}', '\u{1D42C}', '\u{1D460}', '\u{1D494}', '\u{1D4C8}', '\u{1D4FC}', '\u{1D530}', '\u{1D564}', '\u{1D598}', '\u{1D5CC}', '\u{1D600}', '\u{1D634}', '\u{1D668}', '\u{1D69C}'];
#[rustfmt::skip]
const NFKC_E: &[char] = &['\u{1D49}', '\u{2091}', '\u{212F}', '\u{2147}', '\u{FF45}', '\u{1D41E}', '\u{1D452}', '\u{1D486}', '\u{1D4EE}', '\u{1D522}', '\u{1D556}', '\u{1D58A}', '\u{1D5BE}', '\u{1D5F2}', '\u{1D626}', '\u{1D65A}', '\u{1D68E}'];
#[rustfmt::skip]
const NFKC_T: &[char] = &['\u{1D57}', '\u{209C}', '\u{FF54}', '\u{1D42D}', '\u{1D461}', '\u{1D495}', '\u{1D4C9}', '\u{1D4FD}', '\u{1D531}', '\u{1D565}', '\u{1D599}', '\u{1D5CD}', '\u{1D601}', '\u{1D635}', '\u{1D669}', '\u{1D69D}'];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s(text: &str) -> Value {
        Value::Str(text.to_owned())
    }

    fn ok(src: &str) -> Value {
        match parse_value(src) {
            Ok(v) => v,
            Err(e) => panic!("{src:?} failed: {e}"),
        }
    }

    fn err(src: &str) -> String {
        match parse_value(src) {
            Ok(v) => panic!("{src:?} parsed as {v:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn kept(src: &str) {
        assert_eq!(ok(src), s(src), "{src:?} should stay a string");
    }

    #[test]
    fn plain_inventory_values_are_typed_like_ansible() {
        assert_eq!(ok("22"), Value::Int(22));
        assert_eq!(ok("8080 # web"), Value::Int(8080));
        assert_eq!(ok("True"), Value::Bool(true));
        assert_eq!(ok("None"), Value::Null);
        assert_eq!(ok("00"), Value::Int(0));
        for src in [
            "web",
            "admin",
            "127.0.0.1",
            "true",
            "yes",
            "10-5",
            "007",
            "56L",
            "nan",
            "foo # c",
        ] {
            kept(src);
        }
        kept("/usr/bin/python3");
        kept("");
        kept("   ");
        assert_eq!(
            ok(" \t42"),
            Value::Int(42),
            "leading spaces and tabs are stripped"
        );
    }

    #[test]
    fn ints_accept_every_radix_and_underscores_between_digits() {
        assert_eq!(ok("0o17"), Value::Int(15));
        assert_eq!(ok("0x1F"), Value::Int(31));
        assert_eq!(ok("0B101"), Value::Int(5));
        assert_eq!(ok("1_000"), Value::Int(1000));
        assert_eq!(ok("0x_1"), Value::Int(1));
        assert_eq!(ok("-9223372036854775808"), Value::Int(i64::MIN));
        assert_eq!(
            ok("9223372036854775808"),
            Value::BigInt("9223372036854775808".into())
        );
        assert_eq!(
            ok("-0x10000000000000000"),
            Value::BigInt("-18446744073709551616".into())
        );
        for src in [
            "1__0",
            "1_",
            "0_7",
            "0x",
            "0b2",
            "0o8",
            "09",
            "1e",
            "1.__class__",
            "--5",
            "+True",
        ] {
            kept(src);
        }
    }

    #[test]
    fn floats_and_complex_numbers_print_like_python() {
        assert_eq!(ok("1e3"), Value::Float(1000.0));
        assert_eq!(ok("1."), Value::Float(1.0));
        assert_eq!(ok(".5"), Value::Float(0.5));
        assert_eq!(ok("1_0.5"), Value::Float(10.5));
        assert_eq!(ok("007.5"), Value::Float(7.5));
        assert_eq!(ok("1e999"), Value::Float(f64::INFINITY));
        assert_eq!(ok("1j"), s("1j"));
        assert_eq!(ok("1+2j"), s("(1+2j)"));
        assert_eq!(ok("-1.5-2j"), s("(-1.5-2j)"));
        assert_eq!(ok("-0j"), s("(-0-0j)"));
        assert_eq!(ok("1E5J"), s("100000j"));
        assert_eq!(ok("1-1e999j"), s("(1-infj)"));
        assert_eq!(ok("[1+0j]"), Value::List(vec![s("(1+0j)")]));
        kept("1j+1j");
        kept("1+-2j");
        assert_eq!(float_repr(1e16, true), "1e+16");
        assert_eq!(float_repr(1e15, true), "1000000000000000.0");
        assert_eq!(float_repr(0.0001, true), "0.0001");
        assert_eq!(float_repr(2.5e-5, true), "2.5e-05");
        assert_eq!(float_repr(-0.0, true), "-0.0");
        assert_eq!(float_repr(0.1 + 0.2, true), "0.30000000000000004");
    }

    #[test]
    fn an_int_too_large_for_a_float_fails_complex_arithmetic() {
        let big = format!("1{}+1j", "0".repeat(400));
        assert_eq!(err(&big), "int too large to convert to float");
    }

    #[test]
    fn strings_decode_every_prefix_and_escape() {
        assert_eq!(ok(r"'a\tb'"), s("a\tb"));
        assert_eq!(ok(r"r'a\tb'"), s(r"a\tb"));
        assert_eq!(ok(r"'\x41\u00e9\U0001F600\101\777'"), s("Aé😀Aǿ"));
        assert_eq!(ok(r"'\d'"), s(r"\d"), "unknown escapes keep the backslash");
        assert_eq!(ok(r#"'a' "b" '''c'''"#), s("abc"));
        assert_eq!(ok(r"b'\xc3\xa9'"), s("é"));
        assert_eq!(ok(r"Rb'\xff'"), s(r"\xff"));
        assert_eq!(ok(r"b'\xff'"), s("?"), "undecodable bytes print as ?");
        assert_eq!(ok(r"'\ud800'"), s("?"), "lone surrogates print as ?");
        assert_eq!(ok("u'x' # comment"), s("x"));
        for src in [
            "'a' b'b'",
            "f'x'",
            "'abc",
            r"'\x4'",
            "ur'x'",
            "b'é'",
            r"'\U00110000'",
            r"'\N{}'",
        ] {
            kept(src);
        }
    }

    #[test]
    fn a_unicode_name_escape_keeps_the_string() {
        // Documented difference: Python would decode the character.
        kept(r"'\N{EM DASH}'");
    }

    #[test]
    fn tuples_and_sets_become_lists_in_python_iteration_order() {
        assert_eq!(ok("1,2"), Value::List(vec![Value::Int(1), Value::Int(2)]));
        assert_eq!(ok("\"10,20\""), s("10,20"));
        assert_eq!(ok("(1,)"), Value::List(vec![Value::Int(1)]));
        assert_eq!(ok("()"), Value::List(vec![]));
        assert_eq!(ok("set()"), Value::List(vec![]));
        assert_eq!(
            ok("ｓｅｔ()"),
            Value::List(vec![]),
            "identifiers are NFKC-normalised"
        );
        assert_eq!(
            ok("{3, 1, 2, 1.0, True}"),
            Value::List(vec![Value::Int(1), Value::Int(2), Value::Int(3)])
        );
        assert_eq!(
            ok("{-1, -2, 8}"),
            Value::List(vec![Value::Int(8), Value::Int(-1), Value::Int(-2)])
        );
        assert_eq!(ok("[1, (2, 3), [4]]"), json_value(json!([1, [2, 3], [4]])));
    }

    fn json_value(j: serde_json::Value) -> Value {
        match j {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(t) => Value::Str(t),
            serde_json::Value::Array(a) => Value::List(a.into_iter().map(json_value).collect()),
            serde_json::Value::Object(o) => Value::Dict(
                o.into_iter()
                    .map(|(k, v)| (Value::Str(k), json_value(v)))
                    .collect(),
            ),
        }
    }

    #[test]
    fn dicts_keep_the_first_equal_key_and_the_last_value() {
        assert_eq!(
            ok("{1: 'a', True: 'b', 1.0: 'c', 'x': None}"),
            Value::Dict(vec![(Value::Int(1), s("c")), (s("x"), Value::Null)])
        );
        assert_eq!(ok("{}"), Value::Dict(vec![]));
        kept("{**a}");
        kept("{1: 2, **a}");
    }

    #[test]
    fn unhashable_elements_fail_in_python_evaluation_order() {
        assert_eq!(err("{[1]: 2}"), "unhashable type: 'list'");
        assert_eq!(
            err("{[1]: 1, 2: x}"),
            "unhashable type: 'list'",
            "x parses, so the hash fails first"
        );
        kept("{[1]: x}");
        kept("{x, [1]}");
        assert_eq!(err("{[1], x}"), "unhashable type: 'list'");
        assert_eq!(err("{(1, {2: 3}), 4}"), "unhashable type: 'dict'");
        assert_eq!(err("{{1}: 2}"), "unhashable type: 'set'");
        assert_eq!(err("True, {[1]: 2}"), "unhashable type: 'list'");
        kept("{[1]: 1, 2: €}");
        assert_eq!(
            err("{[1]: 1, 2: é}"),
            "unhashable type: 'list'",
            "é is an identifier"
        );
    }

    #[test]
    fn keys_ansible_cannot_tag_or_print_fail() {
        assert_eq!(err("{1j: 2}"), "<class 'complex'> is not taggable");
        assert_eq!(err("[{...: 1}]"), "<class 'ellipsis'> is not taggable");
        assert_eq!(
            err("{(1, 2): 3}"),
            "Key of type '_AnsibleTaggedTuple' is not JSON serializable by the 'inventory_legacy' profile."
        );
        assert_eq!(
            err("{b'x': 1}"),
            "Key of type '_AnsibleTaggedBytes' is not JSON serializable by the 'inventory_legacy' profile."
        );
        let huge = format!("0x{}", "f".repeat(3600));
        assert_eq!(err(&huge), INT_DIGITS_ERROR);
        assert!(parse_value(&format!("0x{}", "f".repeat(3500))).is_ok());
        kept(&"1".repeat(4301));
        assert!(matches!(ok(&"1".repeat(4300)), Value::BigInt(_)));
    }

    #[test]
    fn nesting_beyond_what_ansible_can_walk_fails() {
        let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(parse_value(&nest(162)).is_ok());
        assert_eq!(err(&nest(163)), VISIT_RECURSION_ERROR);
        kept(&nest(201)); // too many nested parentheses: a SyntaxError
        let unary = |n: usize| format!("{}1", "-".repeat(n));
        kept(&unary(2953));
        assert_eq!(err(&unary(2954)), AST_RECURSION_ERROR);
        assert_eq!(err(&unary(6000)), MEMORY_ERROR);
        assert_eq!(
            err(&format!("{}1{}", "[1,".repeat(200), "]".repeat(200))),
            MEMORY_ERROR
        );
    }

    #[test]
    fn source_with_a_nul_byte_or_bad_layout_stays_a_string() {
        kept("1\u{0}");
        kept("1\n2");
        kept("\n 1");
        assert_eq!(ok("\n1\n"), Value::Int(1));
        assert_eq!(ok("(1,\n2)"), json_value(json!([1, 2])));
        assert_eq!(
            ok("'''a\r\nb'''"),
            s("a\nb"),
            "newlines are normalised, in strings too"
        );
        kept("'a\r\nb'");
    }

    #[test]
    fn python_syntax_that_is_not_a_literal_stays_a_string() {
        for src in [
            "foo",
            "foo()",
            "set(*[])",
            "[i for i in x]",
            "lambda: 1",
            "1 if x else 2",
            "a.b",
            "{'a': 1}['a']",
            "not 1",
            "~1",
            "2 ** 3",
            "*a, b",
            "(yield)",
            "x := 1",
        ] {
            kept(src);
        }
    }

    #[test]
    fn to_json_prints_like_ansible_inventory() {
        let v = ok("{None: 1, True: 2, 1.5: 3, 1e16: 4, 2: 5, 'a': [1e999, -1e999]}");
        assert_eq!(
            v.to_json().to_string(),
            r#"{"1.5":3,"1e+16":4,"2":5,"a":[{"$nonfinite":"Infinity"},{"$nonfinite":"-Infinity"}],"null":1,"true":2}"#
        );
        kept("{'b': 2**64}");
        assert_eq!(ok("{1: 'a', '1': 'b'}").to_json(), json!({"1": "b"}));
        assert_eq!(
            ok("18446744073709551615").to_json(),
            json!(18446744073709551615u64)
        );
        assert_eq!(
            ok("-18446744073709551616").to_json(),
            json!(-18446744073709551616.0)
        );
    }

    #[test]
    fn ansible_json_marks_text_decoded_from_bytes_as_unsafe() {
        assert_eq!(ok("[b'ab', 'cd']"), Value::List(vec![s("ab"), s("cd")]));
        assert_eq!(
            ansible_json("[b'ab', 'cd']"),
            Ok(json!([{"__ansible_unsafe": "ab"}, "cd"]))
        );
        assert_eq!(
            ansible_json("{'k': b'v'}"),
            Ok(json!({"k": {"__ansible_unsafe": "v"}}))
        );
        assert_eq!(ansible_json("web"), Ok(json!("web")));
        assert_eq!(ansible_json("22"), Ok(json!(22)));
        assert_eq!(
            ansible_json("{[1]: 2}"),
            Err(LiteralError("unhashable type: 'list'".into()))
        );
    }

    #[test]
    fn python_str_literal_is_one_line_and_round_trips() {
        let text = "it's a \\ test\n\r\t\u{0}\u{85}\u{2028}\u{2029}\u{1c}\u{a0}\u{feff}é😀";
        let lit = python_str_literal(text);
        assert_eq!(
            lit,
            r"'it\'s a \\ test\n\r\t\x00\x85\u2028\u2029\x1c\xa0\ufeffé😀'"
                .replace(r"\n", r"\x0a")
                .replace(r"\r", r"\x0d")
                .replace(r"\t", r"\x09")
        );
        assert_eq!(lit.lines().count(), 1);
        assert_eq!(parse_value(&lit), Ok(s(text)));
    }

    #[test]
    fn literal_error_displays_python_message() {
        assert_eq!(
            LiteralError("unhashable type: 'list'".into()).to_string(),
            "unhashable type: 'list'"
        );
    }

    /// Python-side types of a parsed value, to compare with CPython exactly.
    fn typed(v: &Value) -> serde_json::Value {
        match v {
            Value::Null => json!(["null"]),
            Value::Bool(b) => json!(["bool", b]),
            Value::Int(i) => json!(["int", i.to_string()]),
            Value::BigInt(t) => json!(["int", t]),
            Value::Float(f) => json!(["float", float_repr(*f, true)]),
            Value::Str(t) => json!(["str", t]),
            Value::List(items) => json!(["list", items.iter().map(typed).collect::<Vec<_>>()]),
            Value::Dict(entries) => {
                json!([
                    "dict",
                    entries
                        .iter()
                        .map(|(k, v)| json!([typed(k), typed(v)]))
                        .collect::<Vec<_>>()
                ])
            }
        }
    }

    mod differential {
        use super::*;
        use std::io::Write as _;
        use std::path::PathBuf;
        use std::process::{Command, Stdio};

        /// The interpreter Ansible runs on (CPython 3.11 with ansible-core 2.19.14): `VM_PYTHON`, else
        /// the venv of `VM_ANSIBLE_BIN`, else `/opt/vm-ansible`, else the venv `scripts/setup-ansible`
        /// makes. Without one the tests fail: they never pass silently.
        fn python() -> PathBuf {
            if let Some(python) = std::env::var_os("VM_PYTHON") {
                let python = PathBuf::from(python);
                assert!(
                    python.exists(),
                    "VM_PYTHON={} does not exist",
                    python.display()
                );
                return python;
            }
            let candidates = [
                std::env::var_os("VM_ANSIBLE_BIN").map(|bin| PathBuf::from(bin).join("python3")),
                Some(PathBuf::from("/opt/vm-ansible/bin/python3")),
                std::env::var_os("HOME").map(|home| {
                    PathBuf::from(home).join(".cache/vm/ansible-core-2.19.14/bin/python3")
                }),
            ];
            candidates.into_iter().flatten().find(|p| p.exists()).unwrap_or_else(|| {
                panic!(
                    "no Python with ansible-core 2.19 to compare against: run `scripts/setup-ansible`, or \
                     `python3.11 -m venv /opt/vm-ansible && /opt/vm-ansible/bin/pip install ansible-core==2.19.14`, \
                     or point VM_PYTHON at a python3 that can `import ansible`"
                )
            })
        }

        /// Runs Ansible's own `_parse_value` and JSON printer on every case, in one process.
        const ORACLE: &str = r#"
import sys, json
from ansible.plugins.inventory.ini import InventoryModule
from ansible._internal._datatag._tags import Origin
from ansible._internal._json._profiles import _inventory_legacy

module = InventoryModule()
module._origin = Origin(path='/oracle.ini', line_num=1)

def text(s):
    return s.encode('utf-8', 'replace').decode('utf-8')

def typed(v):
    if v is None: return ['null']
    if isinstance(v, bool): return ['bool', v]
    if isinstance(v, int): return ['int', str(int(v))]
    if isinstance(v, float): return ['float', repr(float(v))]
    if isinstance(v, str): return ['str', text(str(v))]
    if isinstance(v, (list, tuple)): return ['list', [typed(x) for x in v]]
    if isinstance(v, dict): return ['dict', [[typed(k), typed(x)] for k, x in v.items()]]
    return ['unexpected', type(v).__name__]

def plain(o):
    if isinstance(o, dict):
        return {k: plain(v) for k, v in o.items()}
    if isinstance(o, list): return [plain(x) for x in o]
    if isinstance(o, bool) or o is None: return o
    if isinstance(o, int):
        if -2**63 <= o < 2**64: return o
        try: return {'__float__': repr(float(o))}
        except OverflowError: return str(o)
    if isinstance(o, float):
        if o != o: return {'$nonfinite': 'NaN'}
        if o in (float('inf'), float('-inf')): return {'$nonfinite': 'Infinity' if o > 0 else '-Infinity'}
        return {'__float__': repr(o)}
    return o

out = []
for src in json.load(sys.stdin):
    try:
        value = module._parse_value(src)
        dumped = json.dumps({'_meta': {'hostvars': {'h': {'x': value}}}}, cls=_inventory_legacy.Encoder, sort_keys=True)
    except BaseException as e:
        out.append({'kind': 'err', 'type': type(e).__name__, 'msg': str(e)})
        continue
    printed = plain(json.loads(text(dumped))['_meta']['hostvars']['h']['x'])
    out.append({'kind': 'ok', 'typed': typed(value), 'json': json.dumps(printed)})
json.dump(out, sys.stdout)
"#;

        fn oracle(cases: &[String]) -> Vec<serde_json::Value> {
            let mut child = Command::new(python())
                .arg("-c")
                .arg(ORACLE)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start the Python oracle");
            let input = serde_json::to_vec(cases).expect("cases serialise");
            let mut stdin = child.stdin.take().expect("stdin is piped");
            let writer = std::thread::spawn(move || stdin.write_all(&input));
            let output = child.wait_with_output().expect("the Python oracle runs");
            writer.join().expect("writer thread").expect("write cases");
            assert!(
                output.status.success(),
                "oracle failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let results: Vec<serde_json::Value> =
                serde_json::from_slice(&output.stdout).expect("oracle JSON");
            assert_eq!(results.len(), cases.len());
            results
        }

        /// Floats as `{"__float__": repr}`, as the oracle writes them: `serde_json`'s default float
        /// parser is not correctly rounded, so Python's digits are compared as text.
        fn exact_floats(v: &serde_json::Value) -> serde_json::Value {
            match v {
                serde_json::Value::Number(n) if n.is_f64() => {
                    json!({"__float__": float_repr(n.as_f64().unwrap_or(f64::NAN), true)})
                }
                serde_json::Value::Array(items) => {
                    serde_json::Value::Array(items.iter().map(exact_floats).collect())
                }
                serde_json::Value::Object(map) => serde_json::Value::Object(
                    map.iter()
                        .map(|(k, v)| (k.clone(), exact_floats(v)))
                        .collect(),
                ),
                other => other.clone(),
            }
        }

        /// Sorts every array, for values holding a set whose order Python randomises.
        fn unordered(v: &serde_json::Value) -> serde_json::Value {
            match v {
                serde_json::Value::Array(items) => {
                    let mut items: Vec<serde_json::Value> = items.iter().map(unordered).collect();
                    items.sort_by_key(|a| a.to_string());
                    serde_json::Value::Array(items)
                }
                serde_json::Value::Object(map) => serde_json::Value::Object(
                    map.iter().map(|(k, v)| (k.clone(), unordered(v))).collect(),
                ),
                other => other.clone(),
            }
        }

        /// Compares one case; returns a description of the mismatch, if any.
        fn compare(src: &str, py: &serde_json::Value) -> Option<String> {
            let (mine, random_order) = parse_value_traced(src);
            if src.contains("\\N{") && mine == Ok(Value::Str(src.to_owned())) {
                return None; // documented: `\N{NAME}` escapes keep the string
            }
            match (py["kind"].as_str(), &mine) {
                (Some("err"), Err(e)) => {
                    let expected = if py["type"] == "MemoryError" {
                        MEMORY_ERROR
                    } else {
                        py["msg"].as_str()?
                    };
                    (e.0 != expected).then(|| format!("error {:?}, Python {:?}", e.0, py["msg"]))
                }
                (Some("ok"), Ok(v)) => {
                    let norm = |j: &serde_json::Value| {
                        if random_order {
                            unordered(j)
                        } else {
                            j.clone()
                        }
                    };
                    let (mine_typed, py_typed) = (norm(&typed(v)), norm(&py["typed"]));
                    if mine_typed != py_typed {
                        return Some(format!("value {mine_typed}, Python {py_typed}"));
                    }
                    let py_json: serde_json::Value =
                        serde_json::from_str(py["json"].as_str()?).ok()?;
                    let Ok(printed) = ansible_json(src) else {
                        return Some("ansible_json failed where parse_value did not".to_owned());
                    };
                    let mine_json = exact_floats(&printed);
                    let (mine_json, py_json) =
                        (norm(&mine_json).to_string(), norm(&py_json).to_string());
                    (mine_json != py_json).then(|| format!("json {mine_json}, Python {py_json}"))
                }
                _ => Some(format!("{mine:?}, Python {py}")),
            }
        }

        fn check_all(cases: &[String]) -> usize {
            let results = oracle(cases);
            let failures: Vec<String> = cases
                .iter()
                .zip(&results)
                .filter_map(|(src, py)| compare(src, py).map(|why| format!("{src:?}: {why}")))
                .collect();
            assert!(
                failures.is_empty(),
                "{} of {} cases differ from Ansible:\n{}",
                failures.len(),
                cases.len(),
                failures
                    .iter()
                    .take(40)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            cases.len()
        }

        #[test]
        fn parse_value_agrees_with_ansible_on_handwritten_and_random_cases() {
            let mut cases: Vec<String> = HANDWRITTEN.iter().map(|c| (*c).to_owned()).collect();
            // Deterministic; set PYLITERAL_SEED to explore other corners.
            let seed = std::env::var("PYLITERAL_SEED")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0x9e37_79b9_7f4a_7c15);
            let mut rng = XorShift(seed | 1);
            for _ in 0..500 {
                cases.push(random_number(&mut rng));
            }
            for _ in 0..500 {
                cases.push(random_string_literal(&mut rng));
            }
            for _ in 0..500 {
                cases.push(random_container(&mut rng, 3));
            }
            for _ in 0..1500 {
                let e = random_expression(&mut rng, 3);
                cases.push(e.clone());
                // Wrapped so that it fails with TypeError exactly when `e` is valid Python.
                cases.push(format!("{{[1]: 1, 2: {e}}}"));
            }
            for _ in 0..1000 {
                let soup = token_soup(&mut rng);
                cases.push(soup.clone());
                cases.push(format!("{{[1]: 1, 2: {soup}}}"));
            }
            for _ in 0..300 {
                cases.push(random_set(&mut rng));
            }
            cases.extend(parser_stack_boundaries());
            for _ in 0..400 {
                cases.push(format!("{{[1]: 1, 2: {}}}", random_fstring(&mut rng)));
                cases.push(format!(
                    "{{[1]: 1, 2: lambda {}: 0}}",
                    random_params(&mut rng)
                ));
            }
            let n = check_all(&cases);
            let (mut errors, mut kept, mut typed) = (0, 0, 0);
            for case in &cases {
                match parse_value(case) {
                    Err(_) => errors += 1,
                    Ok(Value::Str(s)) if s == *case => kept += 1,
                    Ok(_) => typed += 1,
                }
            }
            eprintln!(
                "{n} cases agree with Ansible: {typed} typed, {kept} kept as strings, {errors} errors"
            );
        }

        #[test]
        fn python_str_literal_round_trips_through_ansible() {
            let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
            let texts: Vec<String> = (0..400).map(|_| random_text(&mut rng)).collect();
            let literals: Vec<String> = texts.iter().map(|t| python_str_literal(t)).collect();
            for (text, lit) in texts.iter().zip(&literals) {
                assert_eq!(parse_value(lit), Ok(Value::Str(text.clone())), "{lit}");
                assert!(!lit.contains([
                    '\n', '\r', '\u{b}', '\u{c}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{85}',
                    '\u{2028}', '\u{2029}', '\0'
                ]));
            }
            let results = oracle(&literals);
            for ((text, lit), py) in texts.iter().zip(&literals).zip(&results) {
                assert_eq!(
                    py["typed"],
                    json!(["str", text]),
                    "Python reads {lit} differently"
                );
            }
        }

        /// Limits that depend on Ansible's own stack, checked with the real `ansible-inventory`
        /// (host-line variables with `--list`, the strictest place measured).
        #[test]
        fn deep_nesting_limits_match_ansible_inventory() {
            let python = python();
            let cli = python.with_file_name("ansible-inventory");
            assert!(
                cli.exists(),
                "{} not found next to the Python oracle",
                cli.display()
            );
            let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
            let dicts = |n: usize| format!("{}1{}", "{1:".repeat(n - 1), "}".repeat(n - 1));
            let chain = |n: usize, op: &str, leaf: &str| format!("{}{leaf}", op.repeat(n));
            let cases: Vec<String> = vec![
                nest(162),
                nest(163),
                dicts(162),
                dicts(163),
                format!("{}1{}", "(1,".repeat(160), ")".repeat(160)),
                format!("{}1{}", "(1,".repeat(161), ")".repeat(161)),
                chain(2953, "-", "1"),
                chain(2954, "-", "1"),
                format!("1{}", "+1".repeat(2953)),
                format!("1{}", "+1".repeat(2954)),
                format!("a{}", ".a".repeat(2953)),
                format!("a{}", ".a".repeat(2954)),
                chain(5976, "-", "1"),
                format!("{}1{}", "[1,".repeat(200), "]".repeat(200)),
            ];
            let dir = std::env::temp_dir().join(format!("pyliteral-cli-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            let handles: Vec<_> = cases
                .iter()
                .enumerate()
                .map(|(i, value)| {
                    let file = dir.join(format!("{i}.ini"));
                    std::fs::write(&file, format!("[g]\nh1 x=\"{value}\"\n"))
                        .expect("write inventory");
                    let cli = cli.clone();
                    std::thread::spawn(move || {
                        let out = Command::new(&cli)
                            .arg("-i")
                            .arg(&file)
                            .arg("--list")
                            .output()
                            .expect("run ansible-inventory");
                        let text = format!(
                            "{}{}",
                            String::from_utf8_lossy(&out.stdout),
                            String::from_utf8_lossy(&out.stderr)
                        );
                        !(text.contains("[WARNING]: Failed to parse") || text.contains("[ERROR]"))
                    })
                })
                .collect();
            let mut failures = Vec::new();
            for (value, handle) in cases.iter().zip(handles) {
                let ansible_ok = handle.join().expect("cli thread");
                let mine = parse_value(value);
                if ansible_ok != mine.is_ok() {
                    failures.push(format!(
                        "{}… (len {}): ansible ok={ansible_ok}, ours {:?}",
                        &value[..20],
                        value.len(),
                        mine.err()
                    ));
                }
            }
            let _ = std::fs::remove_dir_all(&dir);
            assert!(failures.is_empty(), "{}", failures.join("\n"));
        }

        // -- corpus ---------------------------------------------------------------------------

        struct XorShift(u64);

        impl XorShift {
            fn next(&mut self) -> u64 {
                let mut x = self.0;
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                self.0 = x;
                x
            }
            fn below(&mut self, n: usize) -> usize {
                (self.next() % n as u64) as usize
            }
            fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
                items[self.below(items.len())]
            }
            fn chance(&mut self, percent: usize) -> bool {
                self.below(100) < percent
            }
        }

        fn digits(rng: &mut XorShift, alphabet: &str, max: usize) -> String {
            let chars: Vec<char> = alphabet.chars().collect();
            let n = 1 + rng.below(max);
            let mut out = String::new();
            for i in 0..n {
                if i > 0 && rng.chance(10) {
                    out.push('_');
                    if rng.chance(10) {
                        out.push('_');
                    }
                }
                out.push(chars[rng.below(chars.len())]);
            }
            if rng.chance(3) {
                out.push('_');
            }
            out
        }

        fn random_number(rng: &mut XorShift) -> String {
            let sign = rng.pick(&["", "", "", "-", "+", "--", "- ", "+-"]);
            let body = match rng.below(9) {
                0 => digits(rng, "0123456789", 25),
                1 => format!(
                    "0{}{}",
                    rng.pick(&["x", "X"]),
                    digits(rng, "0123456789abcdefABCDEF", 20)
                ),
                2 => format!("0{}{}", rng.pick(&["o", "O"]), digits(rng, "01234567", 25)),
                3 => format!("0{}{}", rng.pick(&["b", "B"]), digits(rng, "01", 70)),
                4 => format!(
                    "{}.{}",
                    digits(rng, "0123456789", 10),
                    digits(rng, "0123456789", 20)
                ),
                5 => format!(
                    "{}{}{}{}",
                    digits(rng, "0123456789", 5),
                    rng.pick(&["", ".", ".5"]),
                    rng.pick(&["e", "E", "e+", "e-"]),
                    digits(rng, "0123456789", 4)
                ),
                6 => format!(
                    "{}{}",
                    digits(rng, "0123456789", 6),
                    rng.pick(&["j", "J", ".j", "e3j"])
                ),
                7 => {
                    let left = random_number(rng);
                    format!(
                        "{left}{}{}j",
                        rng.pick(&["+", "-", " + ", " - "]),
                        digits(rng, "0123456789.", 6)
                    )
                }
                _ => format!(
                    "{}{}",
                    rng.pick(&["0", "00", "0_0", "007", "09", ".", "0."]),
                    digits(rng, "0123456789", 3)
                ),
            };
            let tail = rng.pick(&[
                "",
                "",
                "",
                " ",
                " # c",
                "L",
                "e",
                "j",
                "x",
                " if 1 else 2",
                "and",
            ]);
            format!("{sign}{body}{tail}")
        }

        const PIECES: &[&str] = &[
            "a",
            "Z",
            " ",
            "é",
            "😀",
            "{",
            "}",
            "{{",
            "}}",
            "\\n",
            "\\t",
            "\\\\",
            "\\'",
            "\\\"",
            "\\x41",
            "\\x4",
            "\\xff",
            "\\u00e9",
            "\\u12",
            "\\ud800",
            "\\U0001F600",
            "\\U00110000",
            "\\101",
            "\\777",
            "\\8",
            "\\d",
            "\\N{EM DASH}",
            "\\N{",
            "\\N",
            "{x}",
            "{x!r}",
            "{x=}",
            "{x:>{w}}",
            "{x!z}",
            "{}",
            "{'a'}",
            "#",
            "'",
            "\"",
            "\u{7f}",
            "\u{a0}",
        ];

        fn random_string_literal(rng: &mut XorShift) -> String {
            let prefix = rng.pick(&[
                "", "", "", "r", "u", "b", "B", "br", "Rb", "rB", "f", "F", "fr", "Rf", "ur", "bu",
                "U",
            ]);
            let quote = rng.pick(&["'", "'", "\"", "'''", "\"\"\""]);
            let n = rng.below(6);
            let mut body = String::new();
            for _ in 0..n {
                let piece = rng.pick(PIECES);
                // A bare matching quote would end the literal early: keep some, escape most.
                if piece == quote
                    || (quote.len() == 1
                        && piece.contains(quote)
                        && !piece.starts_with('\\')
                        && rng.chance(80))
                {
                    continue;
                }
                body.push_str(piece);
            }
            let second = if rng.chance(15) {
                format!(" {}", random_string_literal(rng))
            } else {
                String::new()
            };
            format!("{prefix}{quote}{body}{quote}{second}")
        }

        fn random_scalar(rng: &mut XorShift) -> String {
            match rng.below(10) {
                0..=2 => random_number(rng),
                3 | 4 => random_string_literal(rng),
                5 => rng
                    .pick(&["True", "False", "None", "...", "set()", "x", "f(x)", "1j"])
                    .to_owned(),
                6 => rng
                    .pick(&[
                        "1", "1.0", "True", "-0.0", "0", "False", "'1'", "b'1'", "2", "-1", "-2",
                    ])
                    .to_owned(),
                _ => format!("{}", rng.below(100) as i64 - 50),
            }
        }

        fn random_container(rng: &mut XorShift, depth: usize) -> String {
            if depth == 0 || rng.chance(30) {
                return random_scalar(rng);
            }
            let n = rng.below(5);
            let items: Vec<String> = (0..n).map(|_| random_container(rng, depth - 1)).collect();
            let sep = rng.pick(&[", ", ",", " , "]);
            let trailing = if n > 0 && rng.chance(20) { "," } else { "" };
            match rng.below(6) {
                0 => format!("[{}{trailing}]", items.join(sep)),
                1 => format!(
                    "({}{})",
                    items.join(sep),
                    if n == 1 { "," } else { trailing }
                ),
                2 if n > 0 => format!("{{{}{trailing}}}", items.join(sep)),
                3 | 4 => {
                    let pairs: Vec<String> = items
                        .iter()
                        .map(|v| {
                            format!(
                                "{}: {v}",
                                if rng.chance(85) {
                                    random_scalar(rng)
                                } else {
                                    random_container(rng, 1)
                                }
                            )
                        })
                        .collect();
                    format!("{{{}{trailing}}}", pairs.join(sep))
                }
                _ => items.join(sep),
            }
        }

        /// A random, mostly valid, Python expression of any kind.
        fn random_expression(rng: &mut XorShift, depth: usize) -> String {
            let sub = |rng: &mut XorShift| random_expression(rng, depth.saturating_sub(1));
            if depth == 0 {
                return rng
                    .pick(&[
                        "a",
                        "b",
                        "1",
                        "'s'",
                        "None",
                        "x.y",
                        "f()",
                        "[]",
                        "()",
                        "{}",
                        "...",
                        "f'{a}'",
                        "ｓｅｔ",
                    ])
                    .to_owned();
            }
            match rng.below(26) {
                0 => format!(
                    "{} {} {}",
                    sub(rng),
                    rng.pick(&[
                        "+", "-", "*", "/", "//", "%", "@", "|", "&", "^", "<<", ">>", "**", "and",
                        "or", "<", "==", "!=", "in", "not in", "is", "is not", ">="
                    ]),
                    sub(rng)
                ),
                1 => format!(
                    "{}{}",
                    rng.pick(&["-", "+", "~", "not ", "await ", "*", "**"]),
                    sub(rng)
                ),
                2 => format!("{}({})", sub(rng), random_args(rng, depth)),
                3 => format!("{}.{}", sub(rng), rng.pick(&["a", "real", "if", "1", "_"])),
                4 => format!(
                    "{}[{}]",
                    sub(rng),
                    rng.pick(&["1", "a:b", "::2", ":", "a, b", "*a", "x:=1", "", "1:2, 3"])
                ),
                5 => format!("{} if {} else {}", sub(rng), sub(rng), sub(rng)),
                6 => format!(
                    "lambda {}: {}",
                    rng.pick(&[
                        "",
                        "a",
                        "a, b",
                        "a=1",
                        "*a",
                        "**k",
                        "a, /",
                        "*, a",
                        "a=1, b",
                        "*",
                        "/",
                        "a, *, b=2, **c",
                        "*a, *b",
                        "a,"
                    ]),
                    sub(rng)
                ),
                7 => format!(
                    "[{} for {} in {}{}]",
                    sub(rng),
                    rng.pick(&[
                        "x", "x, y", "(x, y)", "[x, *y]", "x.a", "x[0]", "f()", "1", "*x", "(x)",
                        "x,"
                    ]),
                    sub(rng),
                    rng.pick(&[
                        "",
                        " if a",
                        " if a if b",
                        " for z in w",
                        " async for z in w"
                    ])
                ),
                8 => format!("({} for x in {})", sub(rng), sub(rng)),
                9 => format!("{{{}: {} for x in {}}}", sub(rng), sub(rng), sub(rng)),
                10 => format!("({} := {})", rng.pick(&["x", "x.y", "1"]), sub(rng)),
                11 => format!(
                    "f'{{{}{}}}'",
                    sub(rng).replace(['\'', '\\'], ""),
                    rng.pick(&["", "!r", "=", ":>10", "!s:{w}", "!x", ":{a:{b}}"])
                ),
                12 => format!("[{}, {}]", sub(rng), sub(rng)),
                13 => format!("{{{}, *{}}}", sub(rng), sub(rng)),
                14 => format!("{{**{}, {}: {}}}", sub(rng), sub(rng), sub(rng)),
                15 => format!("({})", sub(rng)),
                16 => format!("{}, {}", sub(rng), sub(rng)),
                17 => format!("(yield {})", sub(rng)),
                18 => format!(
                    "{} {}",
                    sub(rng),
                    rng.pick(&["", "#", ",", ";", ")", "=", ":"])
                ),
                19 => format!("set({})", rng.pick(&["", "x", "*a", "k=1"])),
                20 => format!("{}{}", rng.pick(&["", "(", "[", "{"]), sub(rng)),
                21 => format!(
                    "{} {}",
                    rng.pick(&["print", "del", "assert", "import", "pass"]),
                    sub(rng)
                ),
                22 => format!("{}\\\n{}", sub(rng), sub(rng)),
                _ => random_container(rng, 2),
            }
        }

        fn random_args(rng: &mut XorShift, depth: usize) -> String {
            let n = rng.below(4);
            let args: Vec<String> = (0..n)
                .map(|_| {
                    let e = random_expression(rng, depth.saturating_sub(2));
                    match rng.below(6) {
                        0 => format!("*{e}"),
                        1 => format!("**{e}"),
                        2 => format!("k={e}"),
                        3 => format!("{e} for x in y"),
                        _ => e,
                    }
                })
                .collect();
            args.join(", ")
        }

        /// Inputs around the parser's stack limit (MemoryError), shaped so that neither the AST depth
        /// nor the value's height comes near the limits that depend on the interpreter's stack.
        fn parser_stack_boundaries() -> Vec<String> {
            let wrap = |open: &str, close: &str, k: usize, inner: String| {
                format!("{}{inner}{}", open.repeat(k), close.repeat(k))
            };
            let chain = |op: &str, n: usize, leaf: &str| format!("{}{leaf}", op.repeat(n));
            let mut cases = Vec::new();
            for delta in [0usize, 1, 2, 3] {
                cases.push(wrap("(", ")", 200, chain("-", 373 + delta, "1")));
                cases.push(wrap("(", ")", 180, chain("not ", 933 + delta, "1")));
                cases.push(wrap("(", ")", 190, chain("~", 653 + delta, "1")));
                cases.push(wrap("f(", ")", 150, chain("-", 2373 + delta, "1")));
                cases.push(wrap("f(1, ", ")", 150, chain("-", 1773 + delta, "1")));
                cases.push(wrap("f(k=", ")", 150, chain("-", 1923 + delta, "1")));
                cases.push(wrap("[", "]", 150, chain("-", 1623 + delta, "1")));
                cases.push(wrap("[1, ", "]", 150, chain("-", 1473 + delta, "1")));
                cases.push(wrap("{1: ", "}", 150, chain("-", 1623 + delta, "1")));
                cases.push(wrap("{", "}", 150, chain("-", 1623 + delta, "1")));
                cases.push(wrap("a[", "]", 150, chain("-", 2373 + delta, "1")));
                cases.push(wrap("(1, ", ")", 150, chain("-", 1473 + delta, "1")));
                cases.push(wrap("(", ")", 195, chain("lambda: ", 200 + delta, "1")));
                cases.push(wrap(
                    "(",
                    ")",
                    195,
                    format!("{}1", "1 ** ".repeat(200 + delta)),
                ));
                cases.push(wrap("(", ")", 195, chain("1 if 1 else ", 400 + delta, "1")));
                cases.push(wrap(
                    "[x for x in ",
                    "]",
                    150,
                    chain("-", 1923 + delta, "1"),
                ));
                cases.push(wrap(
                    "f(x for x in ",
                    ")",
                    150,
                    chain("-", 1923 + delta, "1"),
                ));
                cases.push(wrap(
                    "{x for x in ",
                    "}",
                    150,
                    chain("-", 1923 + delta, "1"),
                ));
                cases.push(wrap(
                    "{x: y for x in ",
                    "}",
                    150,
                    chain("-", 1923 + delta, "1"),
                ));
                cases.push(wrap(
                    "(x for x in ",
                    ")",
                    150,
                    chain("-", 1923 + delta, "1"),
                ));
                cases.push(wrap(
                    "[x for x in y if ",
                    "]",
                    150,
                    chain("-", 1623 + delta, "1"),
                ));
                cases.push(wrap(
                    "f(x for x in y if ",
                    ")",
                    150,
                    chain("-", 1923 + delta, "1"),
                ));
                cases.push(wrap(
                    "f(x for x in ",
                    ")",
                    150,
                    chain("-", 2223 + delta, "1"),
                ));
                cases.push(wrap(
                    "f(",
                    " for x in y)",
                    150,
                    chain("-", 2373 + delta, "1"),
                ));
                cases.push(wrap(
                    "(",
                    ")",
                    190,
                    chain("lambda a=", 100 + delta, "0") + &": 0".repeat(100 + delta),
                ));
                cases.push(format!(
                    "f'{{{}}}'",
                    wrap("(", ")", 190, chain("-", 622 + delta, "1"))
                ));
                cases.push(format!("f'{{{}}}'", chain("-", 5945 + delta, "1")));
            }
            cases
        }

        /// f-strings with random replacement fields, conversions, specs, quotes and escapes.
        fn random_fstring(rng: &mut XorShift) -> String {
            let prefix = rng.pick(&["f", "F", "rf", "fR", "f", "f"]);
            let quote = rng.pick(&["'", "\"", "'''"]);
            let n = 1 + rng.below(4);
            let mut body = String::new();
            for _ in 0..n {
                body.push_str(rng.pick(&[
                    "a",
                    "{x}",
                    "{x!r}",
                    "{x!s:>10}",
                    "{x=}",
                    "{x = }",
                    "{x=!r:^{w}}",
                    "{x:{y}}",
                    "{x:{y:{z}}}",
                    "{x!}",
                    "{x!rr}",
                    "{ }",
                    "{}",
                    "{{",
                    "}}",
                    "}",
                    "{",
                    "{x",
                    "{a[0]}",
                    "{a['k']}",
                    "{a[\"k\"]}",
                    "{a!=b}",
                    "{a==b}",
                    "{a<b}",
                    "{a>=b}",
                    "{(lambda: 1)()}",
                    "{lambda: 1}",
                    "{x:=1}",
                    "{(x:=1)}",
                    "{*a,}",
                    "{*a}",
                    "{yield}",
                    "{#}",
                    "{\\n}",
                    "\\{x}",
                    "\\N{DASH}",
                    "\\x4",
                    "\\x41",
                    "{x:%Y-%m}",
                    "{x!a:{{}}}",
                    "{[1,2][0]}",
                    "{ {1: 2}[1] }",
                    "{{x}}",
                    "{x}}",
                    "{'''a'''}",
                    "{f'{y}'}",
                    "{f\"{y}\"}",
                    "{x:}",
                    "{x!r:}",
                    "{x:{{y}}}",
                    "{3.14:.2f}",
                    "{1if 1else 2}",
                ]));
            }
            format!("{prefix}{quote}{body}{quote}")
        }

        fn random_params(rng: &mut XorShift) -> String {
            let n = rng.below(5);
            let items: Vec<&str> = (0..n)
                .map(|_| rng.pick(&["a", "b=1", "*", "*c", "**d", "/", "e", "f=2", "**g", "*h"]))
                .collect();
            let trailing = if n > 0 && rng.chance(20) { "," } else { "" };
            format!("{}{trailing}", items.join(", "))
        }

        const SOUP: &[&str] = &[
            "a", "b", "x", "set", "True", "False", "None", "not", "and", "or", "in", "is", "if",
            "else", "for", "lambda", "await", "yield", "from", "async", "1", "0", "1.5", "1j",
            "0x1f", "'s'", "b'b'", "f'{a}'", "...", "(", ")", "[", "]", "{", "}", ",", ":", ":=",
            "=", "==", "+", "-", "*", "**", "/", "//", "%", "@", "|", "&", "^", "~", "<", ">",
            "<=", "!=", ".", ";", "->", "!", "$", "é", "€", "1_0", "07", "\t",
        ];

        fn token_soup(rng: &mut XorShift) -> String {
            let n = 1 + rng.below(10);
            let glue = if rng.chance(50) { " " } else { "" };
            (0..n)
                .map(|_| rng.pick(SOUP))
                .collect::<Vec<_>>()
                .join(glue)
        }

        fn random_set(rng: &mut XorShift) -> String {
            let n = rng.below(40);
            let items: Vec<String> = (0..n)
                .map(|_| match rng.below(12) {
                    0 => format!("{}", rng.next() as i64),
                    1 => format!("{}.5", rng.below(1000) as i64 - 500),
                    2 => format!("{}e{}", rng.below(100), rng.below(40) as i64 - 20),
                    3 => format!("({}, {})", rng.below(10), rng.below(10)),
                    4 => rng
                        .pick(&[
                            "True", "False", "1.0", "-1", "-2", "2**64", "1e999", "-1e999", "0.0",
                            "-0.0", "1j", "1+1j",
                        ])
                        .to_owned(),
                    5 => format!("{}", (1u128 << (60 + rng.below(60))) as f64 as u128),
                    6 => format!("{}", rng.below(100_000)),
                    _ => format!("{}", rng.below(64) as i64 - 16),
                })
                .collect();
            if n == 0 {
                "set()".to_owned()
            } else {
                format!("{{{}}}", items.join(", "))
            }
        }

        fn random_text(rng: &mut XorShift) -> String {
            let n = rng.below(12);
            (0..n)
                .map(|_| {
                    let cp = match rng.below(8) {
                        0 => rng.below(0x20) as u32,
                        1 => 0x7f + rng.below(0x40) as u32,
                        2 => *[
                            0x2028u32, 0x2029, 0x85, 0x1c, 0x1d, 0x1e, 0xa0, 0xfeff, 0x200b,
                            0xe000, 0x10ffff, 0xfffe,
                        ]
                        .get(rng.below(12))
                        .unwrap_or(&0x41),
                        3 => rng.below(0x10000) as u32,
                        4 => 0x10000 + rng.below(0x100000) as u32,
                        5 => *[0x27u32, 0x22, 0x5c, 0x7b, 0x7d, 0x23, 0x3b]
                            .get(rng.below(7))
                            .unwrap_or(&0x41),
                        _ => 0x20 + rng.below(0x5f) as u32,
                    };
                    char::from_u32(cp).unwrap_or('\u{fffd}')
                })
                .collect()
        }

        #[rustfmt::skip]
        const HANDWRITTEN: &[&str] = &[
            "22", "8080 # c", "web", "127.0.0.1", "true", "True", "None", "false", "yes", "10-5", "007", "56L", "nan",
            "\"10,20\"", "10,20", "'1'", "0o17", "0x1F", "1_000", "1e3", "1E-3", "1.", ".5", "1_0.5", "00", "0_0",
            "00_0", "0_00", "007.5", "09j", "09e1", "09", "1e+5", "1e5_0", "0x1e+1", "1_000j", ".5j", "1.j", "1j",
            "-0j", "-0.0-0j", "-0.0+0j", "0j", "+1j", "1+0j", "1-1e999j", "-1e999-1e999j", "1e999", "-1e999", "1e309",
            "2.5e-5", "1e16", "1e15", "123456789012345678", "0.1", "5e-324", "1.7976931348623157e308",
            "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
            "18446744073709551615", "18446744073709551616", "-18446744073709551616", "0xffffffffffffffffffffffffffff",
            "1 + 2j", "-1 + 2j", "(-1) + 1j", "1 + (1j)", "(1 + 1j)", "1 - 1j - 1j", "[1 + 1j]", "{1 + 1j: 2}",
            "1.5 + 1e999j", "True + 1j", "1j + 1", "-(1)", "-(1,)", "--1", "- -1", "+-1", "~1", "not 1", "-(-1)",
            "1.__class__", "1.real", "1 .real", "1..real", "1if 1else 2", "[1for x in y]", "0xfor", "1or 2",
            "'a' 'b'", "'a' b'b'", "b'a' b'b'", "f'x'", "'a' f'{b}'", "rb'\\x'", "Rb'a' bR'b'", "u'a' 'b'", "ur'a'",
            "'\\d'", "b'\\777'", "'\\777'", "'\\x4'", "b'\\xff\\x'", "'\\U0010FFFF'", "'\\U00110000'", "'\\N{}'",
            "'\\N'", "'\\N{LATIN SMALL LETTER A'", "b'\\u1234'", "b'\\N{DASH}'", "b'é'", "'a\\\nb'", "'''a\nb'''",
            "'\\ud83d\\ude00'", "b'\\xed\\xa0\\x80'", "b'\\xe2\\x82'", "b'abc\\xffdef'", "'é' 'e'", "'''''\"'''",
            "''", "\"\"", "''''''", "'''a''' 'b'", "'a\\'b'", "'a\"b'", "\"a'b\"", "'\\\\'", "r'\\''", "r'\\'",
            "(1,)", "()", "(1)", "((1))", "((),)", "[]", "[1,]", "[1,,]", "{}", "{1}", "{1,}", "{1:2,}", "{,}",
            "set()", "set( )", "(set)()", "set(*[])", "set([])", "ｓｅｔ()", "ſet()", "seｔ()", "SET()", "frozenset()",
            "{1, 2, 3}", "{3, 2, 1}", "{-1, -2}", "{1, True, 1.0}", "{0, False, 0.0, -0.0, 0j}", "{'a', 'b'}",
            "{None, 1}", "{(1, 2), (2, 1)}", "{1e999, -1e999}", "{2**64}", "{1.5, 2.5, 0.5}", "{(1, 'a'), 2}",
            "{1: 'a', True: 'b', 1.0: 'c'}", "{'z': 1, 'a': 2}", "{'a': 1, 2: 3}", "{1: 'a', '1': 'b'}",
            "{None: 1, True: 2, 1.5: 3, 1e16: 4, 2: 5}", "{1e999: 1}", "{-1e999: 1}", "{0.0001: 1, 2.5e-05: 2}",
            "{(1,2): 3}", "{(): 1}", "{b'x': 1}", "{b'\\xff': 1}", "{1j: 2}", "{...: 1}", "{(1j,): 1}", "{'a': 1j}",
            "{'a': ...}", "{'a': b'\\xc3\\xa9'}", "[b'ab']", "...", "[...]", "(..., 1)", "{[1]: 2}", "{[1]: x}",
            "{[1]: 1, 2: x}", "{x, [1]}", "{[1], x}", "{{1}: 2}", "{{}: 1}", "{(1, [2]): 3}", "{(1, {}), 2}",
            "{1: 2, **a}", "{**a, 1: 2}", "{**{}}", "{[1]: 1, **a}", "[1, x, {[1]: 2}]", "True, {[1]: 2}",
            "x, {[1]: 2}", "{[1]: 1, 2: '\\d'}", "{[1]: 1, 2: b'\\777'}", "{[1]: 1, 2: [0x1for x in y]}",
            "{[1]: 1, 2: 1if 1else 2}", "{[1]: 1, 2: ｓｅｔ()}", "{[1]: 1, 2: (yield)}", "{[1]: 1, 2: await x}",
            "{[1]: 1, 2: lambda x, x: 0}", "{[1]: 1, 2: f(a=1, a=2)}", "{[1]: 1, 2: f'{x!r:>{w}}'}",
            "{[1]: 1, 2: f'{x:{y:{z}}}'}", "{[1]: 1, 2: *a}", "{[1]: 1, 2: é}", "{[1]: 1, 2: €}",
            "{[1]: 1, 2: x <> y}", "{[1]: 1, 2: 0777}", "{[1]: 1, 2: 1__0}", "{[1]: 1, 2: 'a' 'b'}",
            "{[1]: 1, 2: 'a' b'b'}", "{[1]: 1, 2: f'{}'}", "{[1]: 1, 2: del}", "{[1]: 1, 2: x if y}",
            "{[1]: 1, 2: [x for x in y if z if w]}", "{[1]: 1, 2: a[1:2, ::3, *b]}", "{[1]: 1, 2: print}",
            "{[1]: 1, 2: match}", "{[1]: 1, 2: __debug__}", "{[1]: 1, 2: f'\\{x}'}", "{[1]: 1, 2: b'é'}",
            "{[1]: 1, 2: (x := 1)}", "{[1]: 1, 2: x := 1}", "{[1]: 1, 2: ...}", "{[1]: 1, 2: f'{a!=b}'}",
            "{[1]: 1, 2: f'{a<b}'}", "{[1]: 1, 2: f'{a[\"b\"]}'}", "{[1]: 1, 2: f'{x=!r}'}", "{[1]: 1, 2: f'{x!r=}'}",
            "{[1]: 1, 2: f'{x = }'}", "{[1]: 1, 2: f'{ x }'}", "{[1]: 1, 2: f'}}'}", "{[1]: 1, 2: f'{{'}",
            "{[1]: 1, 2: f'{'}", "{[1]: 1, 2: f'}'}", "{[1]: 1, 2: f'{#}'}", "{[1]: 1, 2: f'{lambda: 1}'}",
            "{[1]: 1, 2: f'{(lambda: 1)()}'}", "{[1]: 1, 2: f'{x:=1}'}", "{[1]: 1, 2: f'{yield}'}",
            "{[1]: 1, 2: f'{*a}'}", "{[1]: 1, 2: f'{*a,}'}", "{[1]: 1, 2: f'{x:{{y}}}'}", "{[1]: 1, 2: f'\\N{DASH}'}",
            "{[1]: 1, 2: f'{x}' b'a'}", "{[1]: 1, 2: f'''{'''a'''}'''}", "{[1]: 1, 2: rf'\\{x}'}",
            "{[1]: 1, 2: f'\\x4{x}'}", "{[1]: 1, 2: await await x}", "{[1]: 1, 2: f(yield)}",
            "{[1]: 1, 2: f((yield))}", "{[1]: 1, 2: [*a or b]}", "{[1]: 1, 2: f(*a or b)}",
            "{[1]: 1, 2: [x for *a in y]}", "{[1]: 1, 2: [x for a, in y]}", "{[1]: 1, 2: [x for [1][0] in y]}",
            "{[1]: 1, 2: [x for f() in y]}", "{[1]: 1, 2: [x for (a) in y]}", "{[1]: 1, 2: [x for (*a) in y]}",
            "{[1]: 1, 2: [x for (*a,) in y]}", "{[1]: 1, 2: [x for () in y]}",
            "{[1]: 1, 2: [x for a in y if z := 1]}", "{[1]: 1, 2: [x for a in lambda: y]}",
            "{[1]: 1, 2: [x for a in y if 1 if 1 else 2]}", "{[1]: 1, 2: lambda *, a: 1}", "{[1]: 1, 2: lambda *: 1}",
            "{[1]: 1, 2: lambda *a, *b: 1}", "{[1]: 1, 2: lambda a=1, b: 1}", "{[1]: 1, 2: lambda a, /: 1}",
            "{[1]: 1, 2: lambda /: 1}", "{[1]: 1, 2: lambda a, /, b=1, *c, d, e=1, **f: 1}",
            "{[1]: 1, 2: lambda **f, : 1}", "{[1]: 1, 2: lambda a=1, /, b: 1}", "{[1]: 1, 2: lambda a, *, : 1}",
            "{[1]: 1, 2: (x := 1 for y in z)}", "{[1]: 1, 2: (*a)}", "{[1]: 1, 2: (*a,)}",
            "{[1]: 1, 2: (yield *a, b)}", "{[1]: 1, 2: (yield from x)}", "{[1]: 1, 2: (yield from)}",
            "{[1]: 1, 2: f(x for x in y, 1)}", "{[1]: 1, 2: f(x for x in y)}", "{[1]: 1, 2: f(a=1, b)}",
            "{[1]: 1, 2: f(a=1, *b)}", "{[1]: 1, 2: f(**a, *b)}", "{[1]: 1, 2: f(**a, b=1)}",
            "{[1]: 1, 2: f(a, *b, c, d=1, *e, **f, g=2)}", "{[1]: 1, 2: f(True=1)}", "{[1]: 1, 2: f(a.b=1)}",
            "{[1]: 1, 2: {x := 1}}", "{[1]: 1, 2: {1: x := 2}}", "{[1]: 1, 2: {*a: 1}}",
            "{[1]: 1, 2: {**a for b in c}}", "{[1]: 1, 2: {a: b, for c in d}}", "{[1]: 1, 2: a not in b is not c}",
            "{[1]: 1, 2: -x ** -y}", "{[1]: 1, 2: a[]}", "{[1]: 1, 2: a[::]}", "{[1]: 1, 2: a[x:=1, b]}",
            "{[1]: 1, 2: (a.b := 1)}", "{[1]: 1, 2: (a := b := 1)}", "{[1]: 1, 2: [**a]}", "{[1]: 1, 2: 1 < 2 < 3}",
            "{[1]: 1, 2: 1 if 2}", "{[1]: 1, 2: [i async for i in x]}", "{[1]: 1, 2: f(async=1)}",
            "{[1]: 1, 2: print x}", "{[1]: 1, 2: x . y}", "{[1]: 1, 2: x . 1}", "{[1]: 1, 2: a.if}",
            "{[1]: 1, 2: a.match}", "{[1]: 1, 2: Ｔｒｕｅ}", "{[1]: 1, 2: \u{a0}}", "{[1]: 1, 2: a·b}", "{[1]: 1, 2: ᵃ}",
            "{[1]: 1, 2: x１}", "{[1]: 1, 2: １}", "{[1]: 1, 2: 1\\\n+1}", "{[1]: 1, 2: 1 \\ +1}", "{[1]: 1, 2: a\n}",
            "{[1]: 1, 2: a  # c\n}", "*a, b", "a := 1", "(a := 1)", "(yield)", "lambda: 1", "f\"{x}\"", "# comment",
            "#", "", " ", "\t", "\u{c}1", "1\u{c}", "\n1", "\n 1", " \n1", "1\n", "1\n2", "1\n 2", "(1,\n2)",
            "1 \\\n+1j", "1 \\", "\u{feff}1", "1;", "1 # c\n", "[1, # c\n 2]", "'a\r\nb'", "'''a\r\nb'''", "1\r",
            "a\u{0}b", "'\u{0}'", "[[[[[[[[[[1]]]]]]]]]]", "{'a': {'b': {'c': [1, (2, {3})]}}}",
            "[1, [2, [3, [4, [5]]]]]", "{'port': 22, 'hosts': ['a', 'b'], 'enabled': True}", "['a', 'b',]", "('a')",
            "('a',)", "[(), [], {}]",
        ];
    }
}
