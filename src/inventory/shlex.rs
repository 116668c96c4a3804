//! Python's `shlex`, as Ansible's INI plugin uses it on host lines.
//!
//! `ansible.plugins.inventory.ini` tokenises every host line with
//! `shlex.split(line, comments=True)` (CPython 3.11, POSIX mode, `whitespace_split=True`).
//! [`split`] is that call, character for character; [`quote`] is CPython's `shlex.quote`,
//! so text `vm` writes reads back as the same token.
//!
//! What Python's lexer does in this mode, and this module with it:
//! - whitespace is `' '`, `'\t'`, `'\r'` and `'\n'` only (not `'\x0b'`, `'\x0c'` or Unicode
//!   spaces, which are ordinary word characters);
//! - `#` starts a comment at a token boundary *and* in the middle of an unquoted word
//!   (`h1#c a=1` gives `["h1"]`); the comment runs to the next `'\n'` only (`readline()`), so
//!   text after an embedded newline is read again;
//! - a backslash outside quotes takes the next character literally;
//! - inside `'…'` nothing is special; inside `"…"` only `\"` and `\\` are escapes, any other
//!   backslash is kept;
//! - quoted and unquoted parts that touch form one token, and `""` is an empty token.

use thiserror::Error;

/// Why a line cannot be split. `Display` is Python's `ValueError` text, which Ansible embeds
/// in `Error parsing host definition '<line>': <message>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ShlexError {
    /// A `'` or `"` was opened and the line ended before it was closed.
    #[error("No closing quotation")]
    NoClosingQuotation,
    /// The line ends with a backslash that has nothing left to escape.
    #[error("No escaped character")]
    NoEscapedCharacter,
}

/// Where the lexer is between two characters.
#[derive(Clone, Copy)]
enum State {
    /// Between tokens.
    Between,
    /// Inside an unquoted part of a token.
    Word,
    /// Inside `'…'`.
    Single,
    /// Inside `"…"`.
    Double,
    /// Just after a backslash outside quotes.
    EscapeInWord,
    /// Just after a backslash inside `"…"`.
    EscapeInDouble,
}

/// Python's `shlex.split(line, comments=True)` in POSIX mode, exactly.
///
/// Works on any text, including text with newlines (a comment then ends at the newline, as in
/// Python).
///
/// The common case without allocation: in a line with no quote and no backslash, the first `#`
/// starts a comment (mid-word too) and the rest splits exactly at shlex's whitespace (space,
/// tab, CR, LF). `None` when the line needs [`split`].
pub fn split_plain(line: &str) -> Option<Vec<&str>> {
    if line.bytes().any(|b| matches!(b, b'\'' | b'"' | b'\\')) {
        return None;
    }
    let code = line.split_once('#').map_or(line, |(code, _comment)| code);
    Some(
        code.split([' ', '\t', '\r', '\n'])
            .filter(|t| !t.is_empty())
            .collect(),
    )
}

/// # Errors
///
/// The `ValueError` Python raises for the same text: an unclosed quote or a final backslash.
pub fn split(line: &str) -> Result<Vec<String>, ShlexError> {
    let mut tokens = Vec::new();
    // `Some` while a token is open. Python emits a token when it is non-empty *or* was quoted;
    // every path that opens one here either pushes a character or enters quotes, so "open"
    // is exactly that condition.
    let mut token: Option<String> = None;
    let mut state = State::Between;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match state {
            State::Between => match c {
                ' ' | '\t' | '\r' | '\n' => {}
                '#' => skip_comment(&mut chars),
                '\\' => {
                    token = Some(String::new());
                    state = State::EscapeInWord;
                }
                '\'' => {
                    token = Some(String::new());
                    state = State::Single;
                }
                '"' => {
                    token = Some(String::new());
                    state = State::Double;
                }
                _ => {
                    token = Some(c.to_string());
                    state = State::Word;
                }
            },
            State::Word => match c {
                ' ' | '\t' | '\r' | '\n' => {
                    tokens.extend(token.take());
                    state = State::Between;
                }
                '#' => {
                    skip_comment(&mut chars);
                    tokens.extend(token.take());
                    state = State::Between;
                }
                '\\' => state = State::EscapeInWord,
                '\'' => state = State::Single,
                '"' => state = State::Double,
                _ => push(&mut token, c),
            },
            State::Single => match c {
                '\'' => state = State::Word,
                _ => push(&mut token, c),
            },
            State::Double => match c {
                '"' => state = State::Word,
                '\\' => state = State::EscapeInDouble,
                _ => push(&mut token, c),
            },
            State::EscapeInWord => {
                push(&mut token, c);
                state = State::Word;
            }
            State::EscapeInDouble => {
                if c != '"' && c != '\\' {
                    push(&mut token, '\\');
                }
                push(&mut token, c);
                state = State::Double;
            }
        }
    }
    match state {
        State::Between | State::Word => {
            tokens.extend(token);
            Ok(tokens)
        }
        State::Single | State::Double => Err(ShlexError::NoClosingQuotation),
        State::EscapeInWord | State::EscapeInDouble => Err(ShlexError::NoEscapedCharacter),
    }
}

/// Python's `instream.readline()` after a `#`: everything up to and including the next `'\n'`.
fn skip_comment(chars: &mut std::str::Chars<'_>) {
    for c in chars.by_ref() {
        if c == '\n' {
            break;
        }
    }
}

fn push(token: &mut Option<String>, c: char) {
    token.get_or_insert_with(String::new).push(c);
}

/// Quote `s` so that `split(&quote(s)) == vec![s]`: CPython's `shlex.quote`, exactly.
///
/// `s` comes back unchanged when it is non-empty and made only of `[A-Za-z0-9_@%+=:,./-]`;
/// such a token can never begin a comment (`#`, `;`) or look like a section header (`[`).
/// Anything else is wrapped in single quotes, each `'` inside written as `'"'"'`; the empty
/// string becomes `''`. Every Unicode string round-trips through [`split`], backslashes,
/// `#`, tabs and newlines included.
///
/// The caller's problem: an INI file is read line by line *before* shlex runs, with Python's
/// `str.splitlines()`, so a string containing any of `\n \r \x0b \x0c \x1c \x1d \x1e \x85
/// \u2028 \u2029` cannot be written on a host line at all, quoted or not. Refuse such text
/// before calling this.
pub fn quote(s: &str) -> String {
    if s.is_empty() {
        return "''".to_string();
    }
    if s.bytes().all(is_safe) {
        return s.to_string();
    }
    let mut quoted = String::with_capacity(s.len() + 2);
    quoted.push('\'');
    quoted.push_str(&s.replace('\'', r#"'"'"'"#));
    quoted.push('\'');
    quoted
}

/// Like [`quote`], but easier on the eye where it can be: text with single quotes and no `"` or
/// `\` goes in double quotes (`"port='8080'"`, not `'port='"'"'8080'"'"''`). Inside double
/// quotes POSIX shlex treats only `\` and `"` specially, so such text needs nothing else.
pub fn quote_readable(s: &str) -> String {
    if s.contains('\'') && !s.contains(['"', '\\']) {
        format!("\"{s}\"")
    } else {
        quote(s)
    }
}

/// Python's `re.compile(r'[^\w@%+=:,./-]', re.ASCII)` complement: bytes `quote` leaves bare.
/// Non-ASCII text is multi-byte UTF-8, and no byte of it is ASCII, so it is never "safe".
fn is_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::test_oracle::{XorShift, json_str};

    fn ok(line: &str) -> Vec<String> {
        split(line).unwrap()
    }

    #[test]
    fn splits_on_shell_whitespace_only() {
        assert_eq!(ok(" a\tb\r\nc  "), ["a", "b", "c"]);
        assert_eq!(ok("a\u{a0}b\x0bc\x0cd"), ["a\u{a0}b\x0bc\x0cd"]);
        assert!(ok("").is_empty());
        assert!(ok(" \t ").is_empty());
    }

    #[test]
    fn hash_starts_a_comment_even_inside_a_word() {
        assert_eq!(ok("h1#c a=1"), ["h1"]);
        assert_eq!(ok("h1 # a=1"), ["h1"]);
        assert_eq!(ok("#all"), Vec::<String>::new());
        assert_eq!(ok("'a#b' \"c#d\" e\\#f"), ["a#b", "c#d", "e#f"]);
    }

    #[test]
    fn comment_ends_at_newline_only() {
        assert_eq!(ok("a#x\nb c"), ["a", "b", "c"]);
        assert_eq!(ok("a#x\rb c"), ["a"]);
        assert_eq!(ok("#x\n\"\""), [""]);
    }

    #[test]
    fn double_quotes_keep_backslashes_except_before_quote_or_backslash() {
        assert_eq!(ok(r#""a\b\"c\\d""#), [r#"a\b"c\d"#]);
        assert_eq!(ok(r"'a\b\'"), [r"a\b\"]);
        assert_eq!(ok(r"a\ b\\c\'"), [r"a b\c'"]);
    }

    #[test]
    fn adjacent_parts_join_and_empty_quotes_make_empty_tokens() {
        assert_eq!(ok(r#"a"b c"'d e'f"#), ["ab cd ef"]);
        assert_eq!(ok(r#""" ''"#), ["", ""]);
        assert_eq!(ok(r#"k="""#), ["k="]);
        assert_eq!(ok(r#""""#), [""]);
        assert_eq!(ok("\"\"#x"), [""]);
    }

    #[test]
    fn unfinished_quotes_and_escapes_fail_with_python_messages() {
        assert_eq!(
            split("a 'b").unwrap_err().to_string(),
            "No closing quotation"
        );
        assert_eq!(
            split("a \"b\\\"").unwrap_err().to_string(),
            "No closing quotation"
        );
        assert_eq!(
            split("a\\").unwrap_err().to_string(),
            "No escaped character"
        );
        assert_eq!(
            split("\"a\\").unwrap_err().to_string(),
            "No escaped character"
        );
        assert_eq!(split("\\").unwrap_err().to_string(), "No escaped character");
    }

    #[test]
    fn quote_leaves_safe_text_bare_and_quotes_the_rest() {
        assert_eq!(quote("web-01.example.com:22"), "web-01.example.com:22");
        assert_eq!(quote("ansible_user=root"), "ansible_user=root");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("#x"), "'#x'");
        assert_eq!(quote(";x"), "';x'");
        assert_eq!(quote("[x]"), "'[x]'");
        assert_eq!(quote("it's"), r#"'it'"'"'s'"#);
        assert_eq!(quote("é"), "'é'");
    }

    #[test]
    fn quote_round_trips_through_split() {
        for s in [
            "",
            "'",
            "\"",
            "\\",
            "''",
            "a'b\"c\\d",
            "#",
            " # ",
            "\t",
            "\n",
            "é ü",
            "x=",
            "a b=c",
        ] {
            assert_eq!(split(&quote(s)).unwrap(), [s], "{s:?}");
        }
    }

    const PIECES: &[&str] = &[
        " ",
        "  ",
        "\t",
        "\r",
        "\n",
        "#",
        "'",
        "\"",
        "\\",
        "a",
        "b=c",
        "web01",
        "é",
        "\u{a0}",
        "\x0b",
        "\x0c",
        ";",
        "[",
        "]",
        "=",
        "x y",
        "\\\"",
        "\\\\",
        "\"\"",
        "''",
        "\u{2028}",
        "😀",
        "k=\"v w\"",
        "#c",
        "'#'",
        "$",
        "`",
        "*",
        "\0",
    ];

    fn split_cases() -> Vec<String> {
        let mut cases: Vec<String> = [
            "",
            " ",
            "h1",
            "h1#c a=1",
            "h1 a=1 # comment",
            "web[01:10] ansible_host=10.0.0.5 ansible_user='root'",
            "h \"a b\"c 'd'\"e\"",
            "h k=\"x\\y\"",
            "h k='x\\y'",
            "h k=\\x\\ y",
            "a#x\nb",
            "a#x\rb",
            "'unterminated",
            "\"unterminated\\\"",
            "trailing\\",
            "\"\\",
            "\"\"",
            "'' \"\"",
            "\"\"#x",
            "a\u{a0}b",
            "a\x0bb",
            "a\x0cb",
            "\\#notcomment",
            "x\"#\"y",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut rng = XorShift(0x5EED_0F5A_11CE_0001);
        for _ in 0..600 {
            cases.push(rng.text(PIECES, 0, 8));
        }
        cases
    }

    fn quote_cases() -> Vec<String> {
        let mut cases: Vec<String> = ["", "a", "'", "\"", "\\", "#", ";", "[", " ", "a=b c", "é"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut rng = XorShift(0x0000_DDBA_11C0_FFEE);
        for _ in 0..400 {
            cases.push(rng.text(PIECES, 0, 6));
        }
        cases
    }

    fn json_list(items: &[String]) -> String {
        let quoted: Vec<String> = items.iter().map(|s| json_str(s)).collect();
        format!("[{}]", quoted.join(","))
    }

    /// Runs `script` under the oracle interpreter with `input` on stdin; panics with its output
    /// unless it exits 0. There is no silent pass: without the interpreter the test fails.
    #[test]
    fn plain_split_agrees_with_split_where_it_applies() {
        for line in [
            "a b=1",
            "  a\tb=c d ",
            "a",
            "x\u{a0}y z",
            "a\r\nb",
            "h1#c a=1",
            "a b # c d",
            "#",
            "'q' x",
        ] {
            if let Some(plain) = split_plain(line) {
                assert_eq!(
                    Ok(plain.iter().map(|t| t.to_string()).collect()),
                    split(line)
                );
            } else {
                assert!(line.contains(['\'', '"', '\\']));
            }
        }
    }

    fn oracle(script: &str, input: &str) -> String {
        crate::inventory::test_oracle::run(script, input)
    }

    const SPLIT_ORACLE: &str = r#"
import json, sys
from ansible.utils.shlex import shlex_split
cases = json.loads(sys.stdin.buffer.read().decode("utf-8"))
bad = 0
for line, rust in cases:
    try:
        py = {"ok": shlex_split(line, comments=True)}
    except ValueError as e:
        py = {"err": str(e)}
    if py != rust:
        bad += 1
        print("MISMATCH", ascii(line), "python:", ascii(py), "rust:", ascii(rust))
print(f"{len(cases) - bad}/{len(cases)} split cases agree")
sys.exit(1 if bad else 0)
"#;

    #[test]
    fn split_agrees_with_python_shlex_on_tricky_and_random_lines() {
        let cases = split_cases();
        let rows: Vec<String> = cases
            .iter()
            .map(|line| {
                let result = match split(line) {
                    Ok(tokens) => format!("{{\"ok\":{}}}", json_list(&tokens)),
                    Err(e) => format!("{{\"err\":{}}}", json_str(&e.to_string())),
                };
                format!("[{},{result}]", json_str(line))
            })
            .collect();
        let report = oracle(SPLIT_ORACLE, &format!("[{}]", rows.join(",")));
        assert!(report.contains(&format!("{0}/{0} split cases agree", cases.len())));
        println!("{report}");
    }

    const QUOTE_ORACLE: &str = r#"
import json, shlex, sys
cases = json.loads(sys.stdin.buffer.read().decode("utf-8"))
bad = 0
for s, q in cases:
    if shlex.split(q, comments=True) != [s] or q != shlex.quote(s):
        bad += 1
        print("MISMATCH", ascii(s), "rust quote:", ascii(q), "python quote:", ascii(shlex.quote(s)))
print(f"{len(cases) - bad}/{len(cases)} quote cases round-trip")
sys.exit(1 if bad else 0)
"#;

    #[test]
    fn quote_round_trips_through_python_shlex_and_equals_shlex_quote() {
        let cases = quote_cases();
        for s in &cases {
            assert_eq!(split(&quote(s)).unwrap(), [s.as_str()], "{s:?}");
            assert_eq!(split(&quote_readable(s)).unwrap(), [s.as_str()], "{s:?}");
        }
        let rows: Vec<String> = cases
            .iter()
            .map(|s| format!("[{},{}]", json_str(s), json_str(&quote(s))))
            .collect();
        let report = oracle(QUOTE_ORACLE, &format!("[{}]", rows.join(",")));
        assert!(report.contains(&format!("{0}/{0} quote cases round-trip", cases.len())));
        println!("{report}");
    }
}
