//! Ansible's coercion (`_parse_recursive_coerce_types_and_tag`) and the checks that follow it.

use std::collections::HashMap;

use super::bigint::{Big, Int};
use super::convert::Py;
use super::repr::complex_repr;
use super::{INT_DIGITS_ERROR, LiteralError, Value, json_object};

/// The coerced value; dict keys are not coerced by Ansible, so tuple and bytes keys survive until
/// Ansible tries to print them.
pub(super) enum Co {
    Scalar(Value),
    /// Text decoded from bytes: Ansible does not mark it as trusted, which shows when printed.
    Untrusted(String),
    Big(Big),
    List(Vec<Co>),
    Dict(Vec<(CoKey, Co)>),
}

pub(super) enum CoKey {
    Scalar(Value),
    Big(Big),
    Tuple,
    Bytes,
}

pub(super) fn coerce(p: Py) -> Result<Co, LiteralError> {
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
    pub(super) fn height(&self) -> usize {
        match self {
            Co::Scalar(_) | Co::Untrusted(_) | Co::Big(_) => 1,
            Co::List(items) => 1 + items.iter().map(Co::height).max().unwrap_or(0),
            Co::Dict(entries) => 1 + entries.iter().map(|(_, v)| v.height()).max().unwrap_or(0),
        }
    }

    pub(super) fn into_value(self) -> Value {
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
    pub(super) fn into_json(self) -> serde_json::Value {
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
pub(super) fn output_check(co: &Co) -> Result<(), LiteralError> {
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
