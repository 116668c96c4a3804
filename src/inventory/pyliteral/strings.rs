//! String literals.

use super::lexer::MAX_PAREN_LEVEL;
use super::parser::{Fail, PResult, Parser};

/// A str literal body with escapes (CPython's `unicode_escape` rules after the parser's
/// pre-processing). A trailing backslash (only possible in an f-string chunk) is literal. Lone
/// surrogates become `?` (see the module docs).
pub(super) fn decode_str(body: &str) -> PResult<String> {
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
pub(super) fn decode_bytes(body: &str, raw: bool, out: &mut Vec<u8>) -> PResult<()> {
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
pub(super) fn fstring_check(body: &str, raw: bool) -> PResult<u32> {
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
