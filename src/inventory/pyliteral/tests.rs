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

mod corpus;
mod differential;
