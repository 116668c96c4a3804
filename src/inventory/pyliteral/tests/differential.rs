//! `parse_value` and `python_str_literal` against Ansible's own `_parse_value` and JSON printer,
//! run by the interpreter Ansible runs on.

use super::corpus::{
    HANDWRITTEN, XorShift, parser_stack_boundaries, random_container, random_expression,
    random_fstring, random_number, random_params, random_set, random_string_literal, random_text,
    token_soup,
};
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
        std::env::var_os("HOME")
            .map(|home| PathBuf::from(home).join(".cache/vm/ansible-core-2.19.14/bin/python3")),
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
        serde_json::Value::Object(map) => {
            serde_json::Value::Object(map.iter().map(|(k, v)| (k.clone(), unordered(v))).collect())
        }
        other => other.clone(),
    }
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
            let py_json: serde_json::Value = serde_json::from_str(py["json"].as_str()?).ok()?;
            let Ok(printed) = ansible_json(src) else {
                return Some("ansible_json failed where parse_value did not".to_owned());
            };
            let mine_json = exact_floats(&printed);
            let (mine_json, py_json) = (norm(&mine_json).to_string(), norm(&py_json).to_string());
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
            '\n', '\r', '\u{b}', '\u{c}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{85}', '\u{2028}',
            '\u{2029}', '\0'
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
            std::fs::write(&file, format!("[g]\nh1 x=\"{value}\"\n")).expect("write inventory");
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
