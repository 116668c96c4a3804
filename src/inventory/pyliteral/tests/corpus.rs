//! The corpus the differential tests feed to both sides: handwritten cases and seeded random
//! numbers, strings, containers, expressions, token soup, sets, f-strings and lambda parameters.

pub(super) struct XorShift(pub(super) u64);

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

pub(super) fn random_number(rng: &mut XorShift) -> String {
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

pub(super) fn random_string_literal(rng: &mut XorShift) -> String {
    let prefix = rng.pick(&[
        "", "", "", "r", "u", "b", "B", "br", "Rb", "rB", "f", "F", "fr", "Rf", "ur", "bu", "U",
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

pub(super) fn random_container(rng: &mut XorShift, depth: usize) -> String {
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
pub(super) fn random_expression(rng: &mut XorShift, depth: usize) -> String {
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
                "+", "-", "*", "/", "//", "%", "@", "|", "&", "^", "<<", ">>", "**", "and", "or",
                "<", "==", "!=", "in", "not in", "is", "is not", ">="
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
                "x", "x, y", "(x, y)", "[x, *y]", "x.a", "x[0]", "f()", "1", "*x", "(x)", "x,"
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
pub(super) fn parser_stack_boundaries() -> Vec<String> {
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
pub(super) fn random_fstring(rng: &mut XorShift) -> String {
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

pub(super) fn random_params(rng: &mut XorShift) -> String {
    let n = rng.below(5);
    let items: Vec<&str> = (0..n)
        .map(|_| rng.pick(&["a", "b=1", "*", "*c", "**d", "/", "e", "f=2", "**g", "*h"]))
        .collect();
    let trailing = if n > 0 && rng.chance(20) { "," } else { "" };
    format!("{}{trailing}", items.join(", "))
}

const SOUP: &[&str] = &[
    "a", "b", "x", "set", "True", "False", "None", "not", "and", "or", "in", "is", "if", "else",
    "for", "lambda", "await", "yield", "from", "async", "1", "0", "1.5", "1j", "0x1f", "'s'",
    "b'b'", "f'{a}'", "...", "(", ")", "[", "]", "{", "}", ",", ":", ":=", "=", "==", "+", "-",
    "*", "**", "/", "//", "%", "@", "|", "&", "^", "~", "<", ">", "<=", "!=", ".", ";", "->", "!",
    "$", "é", "€", "1_0", "07", "\t",
];

pub(super) fn token_soup(rng: &mut XorShift) -> String {
    let n = 1 + rng.below(10);
    let glue = if rng.chance(50) { " " } else { "" };
    (0..n)
        .map(|_| rng.pick(SOUP))
        .collect::<Vec<_>>()
        .join(glue)
}

pub(super) fn random_set(rng: &mut XorShift) -> String {
    let n = rng.below(40);
    let items: Vec<String> = (0..n)
        .map(|_| match rng.below(12) {
            0 => format!("{}", rng.next() as i64),
            1 => format!("{}.5", rng.below(1000) as i64 - 500),
            2 => format!("{}e{}", rng.below(100), rng.below(40) as i64 - 20),
            3 => format!("({}, {})", rng.below(10), rng.below(10)),
            4 => rng
                .pick(&[
                    "True", "False", "1.0", "-1", "-2", "2**64", "1e999", "-1e999", "0.0", "-0.0",
                    "1j", "1+1j",
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

pub(super) fn random_text(rng: &mut XorShift) -> String {
    let n = rng.below(12);
    (0..n)
        .map(|_| {
            let cp = match rng.below(8) {
                0 => rng.below(0x20) as u32,
                1 => 0x7f + rng.below(0x40) as u32,
                2 => *[
                    0x2028u32, 0x2029, 0x85, 0x1c, 0x1d, 0x1e, 0xa0, 0xfeff, 0x200b, 0xe000,
                    0x10ffff, 0xfffe,
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
pub(super) const HANDWRITTEN: &[&str] = &[
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
