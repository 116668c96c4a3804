//! Tokenizer: CPython 3.11's `tokenizer.c`, for one expression.

use super::unicode::{IDENT_RANGES, NFKC_E, NFKC_S, NFKC_T};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Tok {
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
pub(super) enum Num {
    Int(u32),
    Float,
    Imag,
}

/// Hard keywords; only those an expression may contain are told apart.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Kw {
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
pub(super) enum Op {
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
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) start: usize,
    pub(super) end: usize,
}

/// Python's tokenizer refuses to open a bracket when 200 are already open.
pub(super) const MAX_PAREN_LEVEL: usize = 200;

pub(super) struct Lexer<'a> {
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
    pub(super) fn new(s: &'a str) -> Self {
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

    pub(super) fn next_token(&mut self) -> Token {
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
pub(super) fn names_set(text: &str) -> bool {
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
