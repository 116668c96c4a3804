//! `literal_eval`'s conversion with Python's object semantics.

use std::collections::HashMap;

use super::bigint::Int;
use super::hash::{SetTable, py_eq, py_hash};
use super::parser::{Expr, Kind};

/// A Python object `literal_eval` can return.
#[derive(Debug, Clone)]
pub(super) enum Py {
    None,
    Bool(bool),
    Int(Int),
    Float(f64),
    Complex(f64, f64),
    Str(String),
    Bytes(Vec<u8>),
    Ellipsis,
    Tuple(Vec<Py>),
    List(Vec<Py>),
    Set(Vec<Py>),
    Dict(Vec<(Py, Py)>),
}

pub(super) enum ConvErr {
    /// ValueError ("malformed node or string"): the string is kept.
    Value,
    /// Any other exception: Ansible's parse fails with this message.
    Fatal(String),
}

pub(super) struct Converter {
    /// Set when a set's iteration order depends on Python's randomised hashing.
    pub(super) unordered: bool,
}

impl Converter {
    /// `_convert`, element by element in Python's order so the first error is Python's.
    pub(super) fn convert(&mut self, e: Expr) -> Result<Py, ConvErr> {
        match e.kind {
            Kind::Const(p) => Ok(p),
            Kind::Tuple(items) => Ok(Py::Tuple(self.convert_all(items)?)),
            Kind::List(items) => Ok(Py::List(self.convert_all(items)?)),
            Kind::EmptySetCall => Ok(Py::Set(Vec::new())),
            Kind::Set(items) => {
                let mut table = SetTable::new();
                for item in items {
                    let v = self.convert(item)?;
                    let h = py_hash(&v).map_err(unhashable)?;
                    table.insert(v, h);
                }
                self.unordered |= !table.stable;
                Ok(Py::Set(table.into_items()))
            }
            Kind::Dict(pairs) => {
                let mut entries: Vec<(Py, Py)> = Vec::with_capacity(pairs.len());
                let mut index: HashMap<u64, Vec<usize>> = HashMap::new();
                for (k, v) in pairs {
                    let k = self.convert(k.ok_or(ConvErr::Value)?)?;
                    let v = self.convert(v)?;
                    let (h, _) = py_hash(&k).map_err(unhashable)?;
                    let slot = index.entry(h).or_default();
                    match slot.iter().find(|&&i| py_eq(&entries[i].0, &k)) {
                        Some(&i) => entries[i].1 = v,
                        None => {
                            slot.push(entries.len());
                            entries.push((k, v));
                        }
                    }
                }
                Ok(Py::Dict(entries))
            }
            Kind::AddSub { sub, left, right } => {
                let l = convert_signed_num(*left)?;
                let r = convert_num(*right)?;
                let (Py::Complex(re, im), Some(lf)) = (&r, as_real(&l)) else {
                    return Err(ConvErr::Value);
                };
                let lf = lf?;
                Ok(if sub {
                    Py::Complex(lf - re, 0.0 - im)
                } else {
                    Py::Complex(lf + re, 0.0 + im)
                })
            }
            Kind::Unary { .. } => convert_signed_num(e),
            Kind::Name { .. } | Kind::Starred | Kind::Other => Err(ConvErr::Value),
        }
    }

    fn convert_all(&mut self, items: Vec<Expr>) -> Result<Vec<Py>, ConvErr> {
        items.into_iter().map(|e| self.convert(e)).collect()
    }
}

fn unhashable(type_name: &'static str) -> ConvErr {
    ConvErr::Fatal(format!("unhashable type: '{type_name}'"))
}

/// `int`/`float` as a float operand of complex arithmetic (None for other types).
fn as_real(p: &Py) -> Option<Result<f64, ConvErr>> {
    match p {
        Py::Int(i) => Some(
            i.to_f64()
                .ok_or_else(|| ConvErr::Fatal("int too large to convert to float".to_owned())),
        ),
        Py::Float(f) => Some(Ok(*f)),
        _ => None,
    }
}

/// `_convert_num`: a constant int, float or complex (not bool).
fn convert_num(e: Expr) -> Result<Py, ConvErr> {
    match e.kind {
        Kind::Const(p @ (Py::Int(_) | Py::Float(_) | Py::Complex(..))) => Ok(p),
        _ => Err(ConvErr::Value),
    }
}

/// `_convert_signed_num`: one unary `+`/`-` applied to a number.
fn convert_signed_num(e: Expr) -> Result<Py, ConvErr> {
    match e.kind {
        Kind::Unary { neg, operand } => {
            let v = convert_num(*operand)?;
            if !neg {
                return Ok(v);
            }
            Ok(match v {
                Py::Int(i) => Py::Int(i.neg()),
                Py::Float(f) => Py::Float(-f),
                Py::Complex(re, im) => Py::Complex(-re, -im),
                other => other,
            })
        }
        _ => convert_num(e),
    }
}
