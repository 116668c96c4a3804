//! Ansible's INI inventory format, read line by line exactly as ansible-core 2.19's `ini` plugin
//! reads it (`plugins/inventory/ini.py`), driving [`Inventory`] with the same calls.
//!
//! Each source starts afresh under `[ungrouped]` with its own pending declarations, but shares the
//! inventory with earlier sources: a group defined in an earlier fragment satisfies a later
//! `[g:vars]`, not the reverse — that is how Ansible reads a directory, so that is how we read it.

use super::hostpattern::expand_hostpattern;
use super::model::{GroupId, Inventory, ModelError, Origin, UNGROUPED, Var, py_repr};
use super::pyliteral::{Value, parse_value};
use super::shlex;

/// A line Ansible refuses, with Ansible's own message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number, counted as Python's `str.splitlines()` counts.
    pub line: usize,
    /// Ansible's message for the line.
    pub message: String,
}

impl ParseError {
    fn new(line: usize, message: impl Into<String>) -> Self {
        ParseError {
            line,
            message: message.into(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Hosts,
    Children,
    Vars,
}

/// A group referenced before it is defined: by `[g:vars]` or by a `:children` line.
struct Pending {
    name: String,
    line: usize,
    state: State,
    parents: Vec<GroupId>,
}

/// Whether variable values are evaluated as Ansible does, or only their text is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Values {
    /// `ast.literal_eval` and Ansible's coercions: what Ansible holds.
    Evaluate,
    /// Text only (every value `Null`), for re-reading text the tool wrote from already evaluated
    /// values: the same text evaluates to the same value, so comparing texts is enough.
    /// `ansible_group_priority` is still evaluated, since it becomes the group's priority.
    TextOnly,
}

/// Parses one source into `inventory`. On error the inventory keeps what was added before the
/// bad line, as Ansible's does; the caller decides whether that matters.
pub fn parse_source(
    inventory: &mut Inventory,
    source: usize,
    text: &str,
) -> Result<(), ParseError> {
    parse_source_with(inventory, source, text, Values::Evaluate)
}

/// [`parse_source`] with a choice of how values are read.
pub fn parse_source_with(
    inventory: &mut Inventory,
    source: usize,
    text: &str,
    values: Values,
) -> Result<(), ParseError> {
    let mut pending: Vec<Pending> = Vec::new();
    let mut group: GroupId = UNGROUPED;
    let mut state = State::Hosts;
    for (index, raw) in splitlines(text).enumerate() {
        let line_no = index + 1;
        let line = py_strip(raw);
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let origin = Origin {
            source,
            line: line_no,
        };
        let fail = |message: String| ParseError::new(line_no, message);
        if let Some((name, kind)) = match_section(line) {
            state = match kind {
                None | Some("hosts") => State::Hosts,
                Some("children") => State::Children,
                Some("vars") => State::Vars,
                Some(other) => {
                    return Err(fail(format!(
                        "Section [{name}:{other}] has unknown type: {other}"
                    )));
                }
            };
            if inventory.group_id(name).is_none() {
                if state == State::Vars && !pending.iter().any(|p| p.name == name) {
                    pending.push(Pending {
                        name: name.to_string(),
                        line: line_no,
                        state,
                        parents: Vec::new(),
                    });
                }
                inventory.add_group(name, origin);
            }
            group = inventory.add_group(name, origin);
            let resolved = pending.iter().position(|p| p.name == name);
            if let Some(at) = resolved.filter(|_| state != State::Vars) {
                match pending[at].state {
                    State::Children => add_pending_children(inventory, source, name, &mut pending)
                        .map_err(|e| fail(e.to_string()))?,
                    _ => {
                        pending.remove(at);
                    }
                }
            }
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            return Err(fail(format!(
                "Invalid section entry: '{line}'. Please make sure that there are no spaces in the \
                 section entry, and that there are no other invalid characters"
            )));
        }
        match state {
            State::Hosts => host_line(inventory, group, line, origin, values).map_err(fail)?,
            State::Vars => {
                let Some((key, value)) = line.split_once('=') else {
                    return Err(fail(format!("Expected key=value, got: {line}")));
                };
                let (key, src) = (py_strip(key), py_strip(value));
                let value = evaluate(key, src, values).map_err(fail)?;
                let var = Var {
                    value,
                    src: src.to_string(),
                    origin,
                };
                inventory
                    .set_group_variable(group, key, var)
                    .map_err(|e| fail(e.to_string()))?;
            }
            State::Children => {
                let Some(child) = match_group_name(line) else {
                    return Err(fail(format!("Expected group name, got: {line}")));
                };
                match inventory.group_id(child) {
                    Some(child) => inventory
                        .add_child(group, child, origin)
                        .map_err(|e| fail(e.to_string()))?,
                    None => match pending.iter_mut().find(|p| p.name == child) {
                        Some(p) => p.parents.push(group),
                        None => pending.push(Pending {
                            name: child.to_string(),
                            line: line_no,
                            state,
                            parents: vec![group],
                        }),
                    },
                }
            }
        }
    }
    if let Some(p) = pending.first() {
        let message = match p.state {
            State::Vars => format!(
                "Section [{}:vars] not valid for undefined group {}.",
                p.name,
                py_repr(&p.name)
            ),
            _ => {
                let parent = p.parents.last().map_or("", |&g| &inventory.groups[g].name);
                format!(
                    "Section [{parent}:children] includes undefined group {}.",
                    py_repr(&p.name)
                )
            }
        };
        return Err(ParseError::new(p.line, message));
    }
    Ok(())
}

/// `_add_pending_children`: a group referenced by `:children` lines is now defined; attach it
/// to every parent that named it, and recurse into parents that were themselves pending.
fn add_pending_children(
    inventory: &mut Inventory,
    source: usize,
    name: &str,
    pending: &mut Vec<Pending>,
) -> Result<(), ModelError> {
    let Some(at) = pending.iter().position(|p| p.name == name) else {
        return Ok(());
    };
    let parents = pending[at].parents.clone();
    let origin = Origin {
        source,
        line: pending[at].line,
    };
    // Invariant: a pending name is resolved only once it is a group (its section was just read).
    let child = inventory.group_id(name).unwrap_or(UNGROUPED);
    for parent in parents {
        inventory.add_child(parent, child, origin)?;
        let parent_name = inventory.groups[parent].name.clone();
        if pending
            .iter()
            .any(|p| p.name == parent_name && p.state == State::Children)
        {
            add_pending_children(inventory, source, &parent_name, pending)?;
        }
    }
    if let Some(at) = pending.iter().position(|p| p.name == name) {
        pending.remove(at);
    }
    Ok(())
}

/// One line of a hosts section: a host pattern and `key=value` tokens.
fn host_line(
    inventory: &mut Inventory,
    group: GroupId,
    line: &str,
    origin: Origin,
    values: Values,
) -> Result<(), String> {
    let owned;
    let tokens: Vec<&str> = match shlex::split_plain(line) {
        Some(tokens) => tokens,
        None => {
            owned = shlex::split(line)
                .map_err(|e| format!("Error parsing host definition '{line}': {e}"))?;
            owned.iter().map(String::as_str).collect()
        }
    };
    let Some((&pattern, assignments)) = tokens.split_first() else {
        return Err("list index out of range".to_string());
    };
    let (names, port) = expand_hostpattern(pattern).map_err(|e| e.to_string())?;
    // A Python dict: a repeated key keeps its first place and takes the last value.
    let mut vars: Vec<(&str, Var)> = Vec::with_capacity(assignments.len());
    for token in assignments {
        let Some((key, src)) = token.split_once('=') else {
            return Err(format!(
                "Expected key=value host variable assignment, got: {token}"
            ));
        };
        let var = Var {
            value: evaluate(key, src, values)?,
            src: src.to_string(),
            origin,
        };
        match vars.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = var,
            None => vars.push((key, var)),
        }
    }
    let last = names.len().saturating_sub(1);
    for (index, name) in names.iter().enumerate() {
        let host = inventory
            .add_host(name, group, port, origin)
            .map_err(|e| e.to_string())?;
        // The last (usually the only) host takes the variables; the others get copies.
        if index == last {
            for (key, var) in vars.drain(..) {
                inventory
                    .set_host_variable(host, key, var)
                    .map_err(|e| e.to_string())?;
            }
        } else {
            for (key, var) in &vars {
                inventory
                    .set_host_variable(host, key, var.clone())
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(())
}

/// A variable's value as `values` asks.
fn evaluate(key: &str, src: &str, values: Values) -> Result<Value, String> {
    if values == Values::TextOnly && key != "ansible_group_priority" {
        return Ok(Value::Null);
    }
    parse_value(src).map_err(|e| e.to_string())
}

/// Python's `str.isspace()`, which is what `str.strip()` and `re`'s `\s` use: Unicode
/// White_Space plus the information separators U+001C..U+001F.
pub fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()` without arguments.
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// Whether Python's `str.splitlines()` ends a line at `c`.
pub fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r'
            | '\u{b}'
            | '\u{c}'
            | '\u{1c}'
            | '\u{1d}'
            | '\u{1e}'
            | '\u{85}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// Python's `str.splitlines()`: `\r\n` is one break; a final break adds no empty line.
pub fn splitlines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match find_line_break(rest.as_bytes()) {
            Some((at, len)) => {
                let line = &rest[..at];
                let mut next = at + len;
                if rest.as_bytes()[at] == b'\r' && rest.as_bytes().get(next) == Some(&b'\n') {
                    next += 1;
                }
                rest = &rest[next..];
                Some(line)
            }
            None => Some(std::mem::take(&mut rest)),
        }
    })
}

/// Byte offset and UTF-8 length of the first character `is_line_break` accepts, found by
/// scanning bytes: the ASCII breaks, U+0085 (`C2 85`), U+2028/U+2029 (`E2 80 A8/A9`).
fn find_line_break(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' | b'\r' | 0x0b | 0x0c | 0x1c | 0x1d | 0x1e => return Some((i, 1)),
            0xc2 if bytes.get(i + 1) == Some(&0x85) => return Some((i, 2)),
            0xe2 if bytes.get(i + 1) == Some(&0x80)
                && matches!(bytes.get(i + 2), Some(0xa8 | 0xa9)) =>
            {
                return Some((i, 3));
            }
            _ => i += 1,
        }
    }
    None
}

fn is_group_char(c: char) -> bool {
    c != ':' && c != ']' && !is_py_space(c)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether `rest` is what may follow a header or a group name: `\s*(?:#.*)?$`.
fn is_trailer(rest: &str) -> bool {
    let rest = rest.trim_start_matches(is_py_space);
    rest.is_empty() || rest.starts_with('#')
}

/// `^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:\#.*)?$` → (group, type).
fn match_section(line: &str) -> Option<(&str, Option<&str>)> {
    let body = line.strip_prefix('[')?;
    let name_end = body.find(|c| !is_group_char(c)).unwrap_or(body.len());
    if name_end == 0 {
        return None;
    }
    let (name, rest) = body.split_at(name_end);
    let (kind, rest) = match rest.strip_prefix(':') {
        Some(after) => {
            let end = after.find(|c| !is_word_char(c)).unwrap_or(after.len());
            if end == 0 {
                return None;
            }
            (Some(&after[..end]), &after[end..])
        }
        None => (None, rest),
    };
    let rest = rest.strip_prefix(']')?;
    is_trailer(rest).then_some((name, kind))
}

/// `^([^:\]\s]+)\s*(?:\#.*)?$` → the group name of a `:children` line. The regex backtracks:
/// a name may end right before a `#` that starts a comment (`a#:b` → `a`).
fn match_group_name(line: &str) -> Option<&str> {
    let end = line.find(|c| !is_group_char(c)).unwrap_or(line.len());
    if end == 0 {
        return None;
    }
    if is_trailer(&line[end..]) {
        return Some(&line[..end]);
    }
    let (cut, _) = line[..end]
        .char_indices()
        .skip(1)
        .filter(|&(_, c)| c == '#')
        .last()?;
    Some(&line[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitlines_treats_every_python_line_break_as_one() {
        let lines: Vec<&str> = splitlines("a\r\nb\rc\u{2028}d\u{85}e\n").collect();
        assert_eq!(lines, ["a", "b", "c", "d", "e"]);
        assert_eq!(splitlines("\n\n").count(), 2);
        let every: String = [
            '\n', '\r', '\u{b}', '\u{c}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{85}', '\u{2028}',
            '\u{2029}',
        ]
        .iter()
        .map(|c| format!("x{c}"))
        .collect();
        assert_eq!(splitlines(&every).count(), 10);
        assert_eq!(splitlines("a\u{2027}b\u{a0}c").count(), 1);
    }

    #[test]
    fn section_headers_follow_ansibles_regex() {
        assert_eq!(match_section("[web]"), Some(("web", None)));
        assert_eq!(match_section("[web:vars] # c"), Some(("web", Some("vars"))));
        assert_eq!(match_section("[web:foo]"), Some(("web", Some("foo"))));
        assert_eq!(match_section("[a#b]"), Some(("a#b", None)));
        assert_eq!(match_section("[g] ; c"), None);
        assert_eq!(match_section("[my group]"), None);
        assert_eq!(match_section("[g:]"), None);
        assert_eq!(match_section("[]"), None);
    }

    #[test]
    fn children_names_backtrack_before_a_comment() {
        assert_eq!(match_group_name("web"), Some("web"));
        assert_eq!(match_group_name("web # c"), Some("web"));
        assert_eq!(match_group_name("a#b"), Some("a#b"));
        assert_eq!(match_group_name("a#:b"), Some("a"));
        assert_eq!(match_group_name("a b"), None);
        assert_eq!(match_group_name("a:b"), None);
    }

    #[test]
    fn strip_removes_information_separators_like_python() {
        assert_eq!(py_strip("\u{1f} x \u{a0}"), "x");
        assert_eq!(py_strip("\u{feff}x"), "\u{feff}x");
    }
}
