use super::*;
use crate::inventory::test_oracle::{XorShift, json_str};

fn hosts(token: &str) -> (Vec<String>, Option<u64>) {
    expand_hostpattern(token).unwrap_or_else(|e| panic!("{token:?}: {e}"))
}

fn names(token: &str) -> Vec<String> {
    hosts(token).0
}

fn error(token: &str) -> String {
    match expand_hostpattern(token) {
        Ok(found) => panic!("{token:?} expanded to {found:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn common_names_and_addresses_are_one_host() {
    assert_eq!(hosts("web-vm"), (vec!["web-vm".to_string()], None));
    assert_eq!(hosts("10.0.0.5"), (vec!["10.0.0.5".to_string()], None));
    assert_eq!(
        hosts("db_1.example.com"),
        (vec!["db_1.example.com".to_string()], None)
    );
    assert_eq!(hosts("fe80::1"), (vec!["fe80::1".to_string()], None));
    assert_eq!(
        hosts("::ffff:10.0.0.1"),
        (vec!["::ffff:10.0.0.1".to_string()], None)
    );
}

#[test]
fn a_port_is_split_off_names_ipv4_and_bracketed_addresses() {
    assert_eq!(hosts("host:2222"), (vec!["host".to_string()], Some(2222)));
    assert_eq!(
        hosts("10.0.0.5:22"),
        (vec!["10.0.0.5".to_string()], Some(22))
    );
    assert_eq!(
        hosts("[fe80::1]:22"),
        (vec!["fe80::1".to_string()], Some(22))
    );
    assert_eq!(hosts("[web]:0022"), (vec!["web".to_string()], Some(22)));
}

#[test]
fn port_zero_is_returned_as_parsed() {
    assert_eq!(hosts("h:0"), (vec!["h".to_string()], Some(0)));
}

#[test]
fn both_port_patterns_apply_in_turn() {
    // `bracketed_hostport` leaves `h:1`, on which `hostport` matches again.
    assert_eq!(hosts("[h:1]:99"), (vec!["h".to_string()], Some(1)));
}

#[test]
fn tokens_that_are_no_address_are_kept_whole_without_port() {
    for token in [
        "host@foo",
        "user/thing",
        "foo:bar",
        "foo@bar:22",
        "-web",
        "web-",
        "web_",
    ] {
        assert_eq!(hosts(token), (vec![token.to_string()], None), "{token}");
    }
    // `int(port)` refusing 4301 digits is caught the same way.
    let long = format!("h:{}", "1".repeat(4301));
    assert_eq!(hosts(&long), (vec![long.clone()], None));
}

#[test]
fn python_dollar_also_matches_before_a_final_newline() {
    assert_eq!(hosts("h:22\n"), (vec!["h".to_string()], Some(22)));
    assert_eq!(names("h[1:2]\n"), ["h1\n", "h2\n"]);
}

#[test]
fn numeric_ranges_follow_python_range_and_zero_fill() {
    assert_eq!(names("web[1:3]"), ["web1", "web2", "web3"]);
    assert_eq!(names("web[01:10:4]"), ["web01", "web05", "web09"]);
    assert_eq!(names("h[:2]"), ["h0", "h1", "h2"]);
    assert_eq!(names("h[5:1:-2]"), ["h5", "h3"]);
    assert_eq!(names("h[-2:0]"), ["h-2", "h-1", "h0"]);
    assert_eq!(names("h[-1:01]"), ["h-1", "h0", "h1"]);
    assert_eq!(names("h[000:-10:-5]"), ["h000", "h-05"]);
    assert!(names("h[3:1]").is_empty());
}

#[test]
fn python_int_accepts_spaces_signs_underscores_and_unicode_digits() {
    assert_eq!(names("h[ +1_0: 1_1 ]"), ["h10", "h11"]);
    assert_eq!(names("h[\u{661}:\u{663}]"), ["h1", "h2", "h3"]);
    assert_eq!(names("h[1:2\u{a0}]"), ["h1", "h2"]);
}

#[test]
fn letter_ranges_search_ascii_letters_as_a_substring() {
    assert_eq!(names("h[a:c]"), ["ha", "hb", "hc"]);
    assert_eq!(names("h[y:B]"), ["hy", "hz", "hA", "hB"]);
    assert_eq!(names("h[ab:cd]"), ["ha", "hb", "hc"]);
    assert_eq!(names("h[a:e:2]"), ["ha", "hc", "he"]);
    assert!(names("h[a:c:-1]").is_empty());
}

#[test]
fn several_ranges_expand_left_first() {
    assert_eq!(
        names("r[1:2]-[a:b].x"),
        ["r1-a.x", "r1-b.x", "r2-a.x", "r2-b.x"]
    );
    assert_eq!(
        hosts("h[1:2]:22"),
        (vec!["h1".to_string(), "h2".to_string()], Some(22))
    );
}

#[test]
fn an_empty_range_hides_errors_to_its_right_but_a_full_one_does_not() {
    assert!(names("h[3:1]x[").is_empty());
    assert_eq!(
        error("h[1:3]x["),
        "not enough values to unpack (expected 3, got 2)"
    );
    // Python would fail on its first iteration, before building the other names.
    assert_eq!(
        error("h[0:999999999]x[1:y]"),
        "invalid literal for int() with base 10: 'y'"
    );
}

#[test]
fn range_errors_carry_ansibles_and_pythons_messages() {
    let cases = [
        ("h[1", "not enough values to unpack (expected 3, got 2)"),
        ("a|b[1:2]", "too many values to unpack (expected 3)"),
        ("h[1]", "host range must be begin:end or begin:end:step"),
        (
            "h[1:2:3:4]",
            "host range must be begin:end or begin:end:step",
        ),
        ("h[1:]", "host range must specify end value"),
        (
            "h[01:100]",
            "host range must specify equal-length begin and end formats",
        ),
        ("h[b:a]", "host range must have begin <= end"),
        ("h[1:x]", "invalid literal for int() with base 10: 'x'"),
        ("h[a:b:0]", "invalid literal for int() with base 10: 'a'"),
        ("h[a:b:x]", "invalid literal for int() with base 10: 'a'"),
        ("h[ac:b]", "invalid literal for int() with base 10: 'ac'"),
        ("h[1:2:0]", "range() arg 3 must not be zero"),
        (
            "h[1:2\u{200b}]",
            "invalid literal for int() with base 10: '2\\u200b'",
        ),
        (
            "h[1:\"']",
            "invalid literal for int() with base 10: '\"\\''",
        ),
        ("h[1:']", "invalid literal for int() with base 10: \"'\""),
    ];
    for (token, message) in cases {
        assert_eq!(error(token), message, "{token}");
    }
}

#[test]
fn int_literal_messages_are_cut_to_200_characters_like_python() {
    let message = error(&format!("h[1:{}]", "x".repeat(300)));
    assert_eq!(
        message,
        format!(
            "invalid literal for int() with base 10: '{}",
            "x".repeat(199)
        )
    );
}

#[test]
fn int_digit_limit_is_checked_before_trailing_junk() {
    let message = error(&format!("h[1:{}x]", "1".repeat(4301)));
    assert!(message.starts_with(
        "Exceeds the limit (4300 digits) for integer string conversion: value has 4301 digits"
    ));
}

#[test]
fn trailing_colon_and_yaml_marker_are_refused() {
    assert_eq!(
        error("x:"),
        "Invalid host pattern 'x:' supplied, ending in ':' is not allowed, this character is reserved to provide a port."
    );
    // `::` is a valid IPv6 address, and still ends in ':'.
    assert!(error("::").starts_with("Invalid host pattern '::' supplied, ending in ':'"));
    assert_eq!(
        error("---"),
        "Invalid host pattern '---' supplied, '---' is normally a sign this is a YAML file."
    );
    assert!(error("--- ").contains("'--- '"));
}

#[test]
fn absurd_expansions_are_refused_with_vms_own_message() {
    assert_eq!(names("h[1:100000]").len(), 100_000);
    assert_eq!(
        error("h[0:100000]"),
        "host pattern 'h[0:100000]' expands to more than 100000 host names; split it into smaller ranges"
    );
    assert!(error("h[0:999][0:999]").contains("more than 100000"));
    assert!(error("h[0:99999999999999999999999999999999]").contains("beyond ±10^30"));
    assert!(error("h:99999999999999999999").contains("port 99999999999999999999"));
}

#[test]
fn nesting_beyond_pythons_recursion_limit_fails_like_ansible_inventory() {
    assert_eq!(names(&format!("h{}", "[0:0]".repeat(985))).len(), 1);
    assert_eq!(
        error(&format!("h{}", "[0:0]".repeat(986))),
        "maximum recursion depth exceeded while calling a Python object"
    );
}

// ------------------------------------------------------------------------------------------
// Differential tests against the oracle interpreter.

pub(super) fn json_list<T>(
    items: impl IntoIterator<Item = T>,
    each: impl Fn(T) -> String,
) -> String {
    let items: Vec<String> = items.into_iter().map(each).collect();
    format!("[{}]", items.join(","))
}

/// Runs `script` under the oracle interpreter with `input` on stdin and returns its stdout;
/// fails (never passes silently) when the interpreter is missing or reports a mismatch.
pub(super) fn oracle(script: &str, input: &str) -> String {
    crate::inventory::test_oracle::run(script, input)
}

const TRICKY_TOKENS: &[&str] = &[
    "web-vm",
    "10.0.0.5",
    "host:2222",
    "web[1:3]",
    "web[01:10:2]",
    "db-[a:c]",
    "h[ab:cd]",
    "h[A:z]",
    "h[z:A]",
    "h[y:B:2]",
    "[::1]",
    "[::1]:22",
    "[fe80::1]:2222",
    "fe80::1",
    "fe80::[a:f]",
    "fe80::[a:f]:22",
    "::",
    "fe80::",
    "::ffff:1.2.3.4",
    "1:2:3:4:5:6:7:8",
    "[1:2]:[3:4]::1",
    "1.2.3.[4:6]",
    "1.2.3.[4:6]:22",
    "1.2.3.4:5",
    "256.1.1.1",
    "[h:1]:99",
    "[h]:1",
    "[]:1",
    "[]]:1",
    "[[h]]:1",
    "h:",
    "x:",
    " x: ",
    ":22",
    ":",
    "---",
    "--- ",
    "-[-1:-1]-",
    "h[1",
    "h]1[2:3",
    "h]1:2[3",
    "a|b[1:2]",
    "a[1:2|x",
    "a[1|2",
    "x|y[1:2",
    "h[1]",
    "h[1:2:3:4]",
    "h[1:]",
    "h[:]",
    "h[:3]",
    "h[01:100]",
    "h[01: 5]",
    "h[b:a]",
    "h[1:x]",
    "h[a:b:0]",
    "h[a:b:x]",
    "h[ac:b]",
    "h[1:2:0]",
    "h[5:1:-1]",
    "h[-2:2]",
    "h[a:c:-1]",
    "h[a:c:99999999999999999999999999999999999]",
    "h[\u{661}:\u{663}]",
    "h[1_0:1_2]",
    "h[_1:2]",
    "h[1__0:11]",
    "h[1_:2]",
    "h[+1:2]",
    "h[ 1 :2]",
    "h[\t1:2]",
    "h[\u{a0}1:2]",
    "h[\x1c1:2]",
    "h[1\u{3000}:2]",
    "h[é:2]",
    "h[1:2\u{200b}]",
    "h[1:\"']",
    "h[1:']",
    "h[3:1]x[",
    "h[1:2]x[",
    "r[1:2]-[a:b].x",
    "h\n",
    "h[1:2]\n",
    "h:22\n",
    "[h]:22\n",
    "h\n\n",
    "h@foo",
    "user/thing",
    "foo:bar",
    "foo@bar:22",
    "-web",
    "web-",
    "web_",
    "_web",
    "web.-x",
    "a..b",
    ".a",
    "a.",
    "ſ",
    "K",
    "h[ſ:z]",
    "h[K:z]",
    "h[İ:ı]",
    "h[a:K]",
    "h[ä:b]",
    "ärger",
    "\u{661}\u{662}",
    "h\u{300}",
    "\u{300}h",
    "h\u{200b}",
    "日本[1:2]",
    "h[0:0]",
    "h[00:00]",
    "h[0:00]",
    "h[00:0]",
    "h[-1:01]",
    "h[-01:01]",
    "h[1:-01]",
    "h[00:-1:-1]",
    "h[000:-10:-5]",
    "h[00:-3:-1]",
    "h[1:3:2:]",
    "h[[1:2]]",
    "h[1:2]]",
    "h]",
    "h[",
    "[",
    "]",
    "[]",
    "[:]",
    "[1:2]",
    "[a:b]",
    "[a:b]:22",
    "h[1:2]:0",
    "h:0",
    "h:00",
    "h[a:c]:22",
    "h[1:3]x[a:b]y[08:10]",
    "[h[1:2]]:22",
    "[h]:[1:2]",
    "h[1:2]:[3:4]",
    "\"h\"",
    "h[1:2:3]",
    "h[10:1:-3]",
    "h[0x1:3]",
    "h[1e2:3]",
    "h[١٠:١٢]",
    "h[𝟏:𝟑]",
    "h[1:3:\u{661}]",
    "h[a:c:\u{661}]",
    "h[a:c:+1]",
    "h[a:c: 1 ]",
    "h[a:c:1_0]",
    "h[a:c:_1]",
    "A[Z:a]",
    "host.[1:3].example",
    "h-[1:2]-",
    "h_[1:2]_",
    "[1:2]h",
    "[a:b]",
    "0[1:2]",
    "h[1:2]-",
    "1:2:3:4:5:6:7:8:9",
    "1::2::3",
    "web_:22",
    "web-:22",
    "-web:22",
    "_web:22",
    "h[1:2]_:22",
    "h[1:2]-:22",
    "h[3:1][ſ:z]:22",
    "h[3:1][K:a]:22",
    "h[3:1][İ:b]:22",
    "h[3:1][a:ı]:22",
    "web_.x:22",
    "[web_]:22",
    "[::]:22",
    "[fe80::]:22",
    "é_:22",
    "h\u{300}:22",
    "h\u{200b}:22",
    "ſ:22",
    "h[ſ:z]:22",
    "h[K:z]:22",
    "h[İ:ı]:22",
    "g:::",
    "[::1]:",
    "[::1]:x",
    "h:22:33",
    "h[1:2]:22:33",
];

const HOST_PIECES: &[&str] = &[
    "web",
    "db",
    "h",
    "x1",
    "[1:3]",
    "[a:c]",
    "[01:10:2]",
    "[3:1]",
    "[Z:b]",
    "[b:a]",
    "[:2]",
    "[1:]",
    "[1:2:0]",
    "[5:1:-2]",
    "[a:e:2]",
    "[1:2:3:4]",
    "[ab:cd]",
    "[01:5]",
    ":22",
    ":0",
    ":",
    "[::1]",
    "1.2.3.4",
    "fe80::1",
    "::",
    "-",
    "_",
    ".",
    "[",
    "]",
    "|",
    " ",
    "é",
    "\u{661}",
    "ſ",
    "\u{a0}",
    "\n",
    "---",
    "0",
    "9",
    "A",
    "z",
    "@",
    "/",
    "'",
    "\u{200b}",
    "x",
    "[x:y]",
    "ffff",
    "[0:f]",
];

const NAME_PIECES: &[&str] = &[
    "web", "a", "0", "12", ".", "-", "_", "[1:3]", "[a:b]", "[08:10]", "[1:2:2]", "[Z:a]", "é",
    "\u{661}", "\u{300}", "\u{200b}", "ſ", "K", "日本", ":", "::", "fe80", "ffff", "1.2.3.4",
    "[0:f]", "[a:f:2]", "\n",
];

const EXPAND_ORACLE: &str = r#"
import json, sys
from ansible.plugins.inventory.ini import InventoryModule
module = InventoryModule()
cases = json.loads(sys.stdin.buffer.read().decode("utf-8"))
bad = 0
for token, rust in cases:
    try:
        names, port = module._expand_hostpattern(token)
        py = {"ok": [str(n) for n in names], "port": port}
    except Exception as e:
        py = {"err": str(e)}
    if py != rust:
        bad += 1
        print("MISMATCH", ascii(token), "python:", ascii(py), "rust:", ascii(rust))
print(f"{len(cases) - bad}/{len(cases)} host patterns agree")
sys.exit(1 if bad else 0)
"#;

fn expand_cases() -> Vec<String> {
    let mut cases: Vec<String> = TRICKY_TOKENS.iter().map(|s| s.to_string()).collect();
    let mut rng = XorShift(0x4A5B_1E0F_0DD5_EED5);
    for _ in 0..1500 {
        cases.push(rng.text(HOST_PIECES, 1, 6));
    }
    // Name-like tokens, often with a port, where the address patterns decide the outcome.
    for _ in 0..1000 {
        let name = rng.text(NAME_PIECES, 1, 4);
        cases.push(match rng.below(4) {
            0 => name,
            1 => format!("{name}:22"),
            2 => format!("[{name}]:2222"),
            _ => format!("{name}:{}", rng.text(&["0", "7", ":", "a"], 1, 3)),
        });
    }
    cases
}

#[test]
fn expand_hostpattern_agrees_with_ansible_on_tricky_and_random_tokens() {
    let cases = expand_cases();
    let input = json_list(&cases, |token| {
        let result = match expand_hostpattern(token) {
            Ok((names, port)) => format!(
                "{{\"ok\":{},\"port\":{}}}",
                json_list(&names, |n| json_str(n)),
                port.map_or("null".to_string(), |p| p.to_string())
            ),
            Err(e) => format!("{{\"err\":{}}}", json_str(&e.to_string())),
        };
        format!("[{},{result}]", json_str(token))
    });
    let report = oracle(EXPAND_ORACLE, &input);
    assert!(report.contains(&format!("{0}/{0} host patterns agree", cases.len())));
    println!("{report}");
}
