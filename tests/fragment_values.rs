//! The round-trip proof: whatever string a user passes with `vm inventory add … --var k=VALUE`
//! comes back from the real Ansible as exactly that string, both from the fragment folder
//! (`-i ansible/inventory.d`) and from the merged file (`-i ansible/inventory.ini`); `--user`,
//! `--group` and the port land where Ansible expects them, with the port an integer.
//!
//! Ansible is asked through the in-process oracle of `tests/common` (the real ansible-core in
//! the virtualenv `VM_ANSIBLE_BIN`), all questions in one batch.

mod common;

use std::path::PathBuf;

use common::{Answer, Failures, Project, ask_ansible};
use serde_json::{Value, json};

/// Values chosen to break a naive writer: INI and shlex syntax, Python literals Ansible would
/// evaluate into another type, Jinja, white space at the ends, escapes as text, characters that
/// Python's `splitlines` breaks lines on, control characters, non-ASCII, and sheer length.
fn hostile_values() -> Vec<(String, String)> {
    let named: &[(&str, &str)] = &[
        ("plain", "plain"),
        ("empty", ""),
        ("space", "a b"),
        ("spaces-around", "  both ends  "),
        ("leading-space", " lead"),
        ("trailing-space", "trail "),
        ("tabs-around", "\tx\t"),
        ("hash", "#"),
        ("hash-start", "#not a comment"),
        ("hash-middle", "a #b"),
        ("hash-glued", "a#b"),
        ("semicolon", ";x"),
        ("semicolon-middle", "a ; b"),
        ("single-quote", "'"),
        ("double-quote", "\""),
        ("both-quotes", "'both\""),
        ("apostrophe", "it's"),
        ("quoted-words", "say \"hi\" and 'bye'"),
        ("lone-backslash", "\\"),
        ("backslash-middle", "a\\b"),
        ("two-backslashes", "\\\\"),
        ("trailing-backslash", "end\\"),
        ("backslash-quote", "\\'"),
        ("backslash-n-text", "line1\\nline2"),
        ("backslash-x-text", "\\x41"),
        ("backslash-u-text", "\\u00e9"),
        ("equals", "="),
        ("equals-pair", "a=b"),
        ("equals-double", "=="),
        ("two-assignments", "k=v w=x"),
        ("True", "True"),
        ("False", "False"),
        ("true", "true"),
        ("None", "None"),
        ("null", "null"),
        ("yes", "yes"),
        ("int", "22"),
        ("negative-int", "-1"),
        ("plus-int", "+1"),
        ("underscore-int", "1_000"),
        ("leading-zero", "007"),
        ("quoted-int", "'1'"),
        ("double-quoted-int", "\"1\""),
        ("list", "[1,2]"),
        ("list-spaced", "[1, 2]"),
        ("empty-dict", "{}"),
        ("dict", "{'a': 1}"),
        ("tuple", "(1,)"),
        ("empty-tuple", "()"),
        ("set", "{1}"),
        ("exp-float", "1e3"),
        ("float", "1.5"),
        ("negative-zero", "-0.0"),
        ("inf", "inf"),
        ("huge-float", "1e999"),
        ("nan", "nan"),
        ("hex", "0x1F"),
        ("octal", "0o17"),
        ("binary", "0b1"),
        ("ellipsis", "..."),
        ("Ellipsis", "Ellipsis"),
        ("complex", "1j"),
        ("complex-sum", "1+2j"),
        ("bytes-literal", "b'x'"),
        ("unicode-literal", "u'x'"),
        ("raw-literal", "r'x'"),
        ("fstring", "f'{x}'"),
        ("big-int", "123456789012345678901234567890"),
        ("jinja-expression", "{{ lookup('env', 'HOME') }}"),
        ("jinja-statement", "{% raw %}"),
        ("shell-variable", "$HOME"),
        ("backticks", "`id`"),
        ("brackets", "[web]"),
        ("colon", "a:b"),
        ("url", "https://example.org/?a=1&b=2#frag"),
        ("path", "/etc/passwd"),
        ("dash-start", "-x"),
        ("double-dash", "--"),
        ("e-acute", "é"),
        ("cjk", "日本語"),
        ("emoji", "emoji 😀"),
        ("rtl", "עברית"),
        ("combining", "e\u{301}"),
        ("zero-width-space", "\u{200b}"),
        ("nbsp", "\u{a0}nbsp\u{a0}"),
        ("control-01", "\x01"),
        ("control-1f", "a\x1fb"),
        ("delete-7f", "\x7f"),
        ("escape", "\x1b[31mred"),
        ("newline", "two\nlines"),
        ("carriage-return", "a\rb"),
        ("crlf", "a\r\nb"),
        ("vertical-tab", "a\x0bb"),
        ("form-feed", "a\x0cb"),
        ("file-separator", "a\x1cb"),
        ("next-line", "a\u{85}b"),
        ("line-separator", "a\u{2028}b"),
        ("paragraph-separator", "a\u{2029}b"),
        ("bom", "\u{feff}x"),
        ("surrogate-looking", "\\ud800"),
    ];
    let mut values: Vec<(String, String)> = named
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    values.push(("long-plain".into(), "x".repeat(10_000)));
    values.push(("long-hostile".into(), "a b#c;d'e\"f\\g=h 😀 ".repeat(500)));
    values
}

/// `_meta.hostvars.<host>.<var>` of an `ansible-inventory --list --export` answer.
fn host_var<'a>(listing: &'a Value, host: &str, var: &str) -> Option<&'a Value> {
    listing.get("_meta")?.get("hostvars")?.get(host)?.get(var)
}

/// One project per case, each made by `vm inventory add`; the two paths Ansible is asked about.
struct Case {
    name: String,
    project: Project,
}

impl Case {
    fn paths(&self) -> [PathBuf; 2] {
        [self.project.inventory_ini(), self.project.inventory_d()]
    }
}

#[test]
fn every_hostile_var_value_comes_back_from_ansible_as_exactly_the_string_given() {
    let mut failures = Failures::new();
    let mut cases: Vec<(Case, String)> = Vec::new();
    for (name, value) in hostile_values() {
        let project = Project::new();
        let var = format!("k={value}");
        let run = project.run(&["inventory", "add", "h", "10.0.0.1", "--var", &var]);
        if run.code != Some(0) {
            failures.checked();
            failures.add(
                &name,
                format!("vm refused the value {value:?}:\n{}", run.describe()),
            );
            continue;
        }
        cases.push((Case { name, project }, value));
    }
    let paths: Vec<PathBuf> = cases.iter().flat_map(|(case, _)| case.paths()).collect();
    let answers = ask_ansible(&paths);
    for ((case, value), answers) in cases.iter().zip(answers.chunks(2)) {
        failures.checked();
        let expected = Value::String(value.clone());
        let fragment = String::from_utf8_lossy(
            &case
                .project
                .read("ansible/inventory.d/h.ini")
                .unwrap_or_default(),
        )
        .into_owned();
        for (source, answer) in ["inventory.ini", "inventory.d"].iter().zip(answers) {
            match answer {
                Answer::Ok(listing) => match host_var(listing, "h", "k") {
                    Some(got) if *got == expected => {}
                    got => failures.add(
                        &case.name,
                        format!(
                            "-i ansible/{source}: k is {got:?}, expected {expected}\n\
                             fragment:\n{fragment}"
                        ),
                    ),
                },
                Answer::Error(error) => failures.add(
                    &case.name,
                    format!("Ansible refused ansible/{source}:\n{error}\nfragment:\n{fragment}"),
                ),
            }
        }
        // What vm itself says Ansible will see must agree too.
        let own = case.project.run(&["inventory", "list", "--ansible-json"]);
        if own.code != Some(0) {
            failures.add(&case.name, own.describe());
        } else if host_var(&own.json(), "h", "k") != Some(&expected) {
            failures.add(
                &case.name,
                format!(
                    "vm inventory list --ansible-json: k is {:?}, expected {expected}",
                    host_var(&own.json(), "h", "k")
                ),
            );
        }
    }
    failures.finish("hostile --var values through Ansible");
}

#[test]
fn user_groups_address_and_port_land_where_ansible_expects_them() {
    struct Host {
        name: &'static str,
        address: &'static str,
        user: Option<&'static str>,
        groups: &'static [&'static str],
        ansible_host: &'static str,
        port: Option<u16>,
    }
    let hosts = [
        Host {
            name: "web-1",
            address: "10.0.0.1:2222",
            user: Some("deploy"),
            groups: &["web", "db"],
            ansible_host: "10.0.0.1",
            port: Some(2222),
        },
        Host {
            name: "web-2",
            address: "10.0.0.2:22",
            user: Some("jörg#1"),
            groups: &["web"],
            ansible_host: "10.0.0.2",
            port: None,
        },
        Host {
            name: "v6",
            address: "[fe80::1]:65535",
            user: Some("True"),
            groups: &["db", "_private"],
            ansible_host: "fe80::1",
            port: Some(65535),
        },
        Host {
            name: "plain",
            address: "host.example.org",
            user: Some("22"),
            groups: &[],
            ansible_host: "host.example.org",
            port: None,
        },
        Host {
            name: "bare-v6",
            address: "fe80::2",
            user: None,
            groups: &["web"],
            ansible_host: "fe80::2",
            port: None,
        },
    ];
    let project = Project::new();
    for host in &hosts {
        let mut args = vec!["inventory", "add", host.name, host.address];
        if let Some(user) = host.user {
            args.extend(["--user", user]);
        }
        for group in host.groups {
            args.extend(["--group", group]);
        }
        project.run(&args).success();
    }
    let answers = ask_ansible(&[project.inventory_ini(), project.inventory_d()]);
    let own = project.run(&["inventory", "list", "--ansible-json"]);
    own.success();
    let views = [
        ("ansible -i inventory.ini", answers[0].clone()),
        ("ansible -i inventory.d", answers[1].clone()),
        ("vm inventory list --ansible-json", Answer::Ok(own.json())),
    ];
    let mut failures = Failures::new();
    for (view, answer) in &views {
        failures.checked();
        let listing = match answer {
            Answer::Ok(listing) => listing,
            Answer::Error(error) => {
                failures.add(*view, format!("refused:\n{error}"));
                continue;
            }
        };
        for host in &hosts {
            let var = |k| host_var(listing, host.name, k).cloned();
            let mut check = |what: &str, got: Option<Value>, expected: Option<Value>| {
                if got != expected {
                    failures.add(
                        *view,
                        format!("{}: {what} is {got:?}, expected {expected:?}", host.name),
                    );
                }
            };
            check(
                "ansible_host",
                var("ansible_host"),
                Some(json!(host.ansible_host)),
            );
            // An integer, not the string "2222": Ansible compares and formats it as a number.
            check(
                "ansible_port",
                var("ansible_port"),
                host.port.map(|p| json!(p)),
            );
            check(
                "ansible_user",
                var("ansible_user"),
                host.user.map(|u| json!(u)),
            );
            let groups_of_host: Vec<String> = listing
                .as_object()
                .unwrap()
                .iter()
                .filter(|(_, group)| {
                    group["hosts"]
                        .as_array()
                        .is_some_and(|h| h.contains(&json!(host.name)))
                })
                .map(|(name, _)| name.clone())
                .collect();
            let mut expected: Vec<String> = if host.groups.is_empty() {
                vec!["ungrouped".to_string()]
            } else {
                host.groups.iter().map(|g| g.to_string()).collect()
            };
            expected.sort();
            let mut got = groups_of_host;
            got.sort();
            check("groups", Some(json!(got)), Some(json!(expected)));
        }
    }
    failures.finish("user, groups, address and port");
}
