//! Hashing and equality, as CPython 3.11 (64-bit) defines them.

use super::bigint::Int;
use super::convert::Py;

pub(super) const HASH_MODULUS: u64 = (1 << 61) - 1;
const HASH_INF: i64 = 314_159;
const HASH_IMAG: u64 = 1_000_003;

/// Python's `hash()`, as `(bits, stable)`. `stable` is false for str, bytes, None and `...`, whose
/// hash changes from process to process (string hashing is randomised, `None`'s is its address); for
/// those a private hash consistent with equality is returned. Unhashable types give their name.
pub(super) fn py_hash(p: &Py) -> Result<(u64, bool), &'static str> {
    Ok(match p {
        Py::Bool(b) => (u64::from(*b), true),
        Py::Int(Int::Small(v)) => (hash_i64(*v), true),
        Py::Int(Int::Big(b)) => (b.hash(), true),
        Py::Float(f) => (hash_f64(*f), true),
        Py::Complex(re, im) => {
            let h = hash_f64(*re).wrapping_add(HASH_IMAG.wrapping_mul(hash_f64(*im)));
            (if h == u64::MAX { u64::MAX - 1 } else { h }, true)
        }
        Py::Str(s) => (fnv(1, s.as_bytes()), false),
        Py::Bytes(b) => (fnv(2, b), false),
        Py::None => (0x5eed_0000_0000_0001, false),
        Py::Ellipsis => (0x5eed_0000_0000_0002, false),
        Py::Tuple(items) => {
            const P1: u64 = 11_400_714_785_074_694_791;
            const P2: u64 = 14_029_467_366_897_019_727;
            const P5: u64 = 2_870_177_450_012_600_261;
            let mut acc = P5;
            let mut stable = true;
            for item in items {
                let (lane, s) = py_hash(item)?;
                stable &= s;
                acc = acc.wrapping_add(lane.wrapping_mul(P2));
                acc = acc.rotate_left(31);
                acc = acc.wrapping_mul(P1);
            }
            acc = acc.wrapping_add((items.len() as u64) ^ (P5 ^ 3_527_539));
            (if acc == u64::MAX { 1_546_275_796 } else { acc }, stable)
        }
        Py::List(_) => return Err("list"),
        Py::Set(_) => return Err("set"),
        Py::Dict(_) => return Err("dict"),
    })
}

fn fnv(tag: u8, bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(tag);
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

pub(super) fn finish_hash(h: i64) -> u64 {
    (if h == -1 { -2 } else { h }) as u64
}

fn hash_i64(v: i64) -> u64 {
    let m = (v.unsigned_abs() % HASH_MODULUS) as i64;
    finish_hash(if v < 0 { -m } else { m })
}

/// `_Py_HashDouble`: integral floats hash like the equal int.
fn hash_f64(v: f64) -> u64 {
    if v.is_infinite() {
        return finish_hash(if v > 0.0 { HASH_INF } else { -HASH_INF });
    }
    if v.is_nan() {
        return 0; // never produced by a literal
    }
    let (mut m, mut e) = frexp(v);
    let mut negative = false;
    if m < 0.0 {
        negative = true;
        m = -m;
    }
    let mut x: u64 = 0;
    while m != 0.0 {
        x = ((x << 28) & HASH_MODULUS) | (x >> (61 - 28));
        m *= 268_435_456.0; // 2**28
        e -= 28;
        let y = m as u64; // the integer part
        m -= y as f64;
        x += y;
        if x >= HASH_MODULUS {
            x -= HASH_MODULUS;
        }
    }
    let e = (if e >= 0 {
        e % 61
    } else {
        61 - 1 - ((-1 - e) % 61)
    }) as u32;
    x = ((x << e) & HASH_MODULUS) | (x >> (61 - e));
    if negative {
        x = x.wrapping_neg();
    }
    if x == u64::MAX { u64::MAX - 1 } else { x }
}

/// C's `frexp`: `v = m * 2**e` with `0.5 <= |m| < 1`.
pub(super) fn frexp(v: f64) -> (f64, i32) {
    if v == 0.0 || !v.is_finite() {
        return (v, 0);
    }
    let bits = v.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        let (m, e) = frexp(v * 2f64.powi(64));
        return (m, e - 64);
    }
    let m = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (m, exp - 1022)
}

/// Python's `==` between hashable literal values (numbers compare exactly across types).
pub(super) fn py_eq(a: &Py, b: &Py) -> bool {
    match (a, b) {
        (Py::Str(x), Py::Str(y)) => x == y,
        (Py::Bytes(x), Py::Bytes(y)) => x == y,
        (Py::None, Py::None) | (Py::Ellipsis, Py::Ellipsis) => true,
        (Py::Tuple(x), Py::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        _ => match (Number::of(a), Number::of(b)) {
            (Some(x), Some(y)) => x.eq(&y),
            _ => false,
        },
    }
}

enum Number<'a> {
    Int(std::borrow::Cow<'a, Int>),
    Float(f64),
    Complex(f64, f64),
}

impl<'a> Number<'a> {
    fn of(p: &'a Py) -> Option<Number<'a>> {
        match p {
            Py::Bool(b) => Some(Number::Int(std::borrow::Cow::Owned(Int::Small(i64::from(
                *b,
            ))))),
            Py::Int(i) => Some(Number::Int(std::borrow::Cow::Borrowed(i))),
            Py::Float(f) => Some(Number::Float(*f)),
            Py::Complex(re, im) => Some(Number::Complex(*re, *im)),
            _ => None,
        }
    }

    fn eq(&self, other: &Number) -> bool {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a == b,
            (Number::Int(i), Number::Float(f)) | (Number::Float(f), Number::Int(i)) => i.eq_f64(*f),
            (Number::Float(a), Number::Float(b)) => a == b,
            (Number::Complex(ar, ai), Number::Complex(br, bi)) => ar == br && ai == bi,
            (Number::Complex(re, im), x) | (x, Number::Complex(re, im)) => {
                *im == 0.0 && Number::Float(*re).eq(x)
            }
        }
    }
}

/// CPython's set: open addressing with linear probes then perturbed jumps; iteration is table order.
pub(super) struct SetTable {
    slots: Vec<Option<(u64, usize)>>,
    fill: usize,
    items: Vec<Py>,
    pub(super) stable: bool,
}

const LINEAR_PROBES: usize = 9;
const PERTURB_SHIFT: u32 = 5;

impl SetTable {
    pub(super) fn new() -> Self {
        SetTable {
            slots: vec![None; 8],
            fill: 0,
            items: Vec::new(),
            stable: true,
        }
    }

    /// `set_add_entry`: equal keys keep the first one.
    pub(super) fn insert(&mut self, key: Py, (hash, stable): (u64, bool)) {
        self.stable &= stable;
        let mask = self.slots.len() - 1;
        let mut perturb = hash;
        let mut i = (hash as usize) & mask;
        loop {
            let mut probes = if i + LINEAR_PROBES <= mask {
                LINEAR_PROBES
            } else {
                0
            };
            let mut j = i;
            loop {
                match self.slots[j] {
                    None => {
                        self.slots[j] = Some((hash, self.items.len()));
                        self.items.push(key);
                        self.fill += 1;
                        if self.fill * 5 >= mask * 3 {
                            let used = self.items.len();
                            self.resize(if used > 50_000 { used * 2 } else { used * 4 });
                        }
                        return;
                    }
                    Some((h, idx)) if h == hash && py_eq(&self.items[idx], &key) => return,
                    Some(_) => {}
                }
                if probes == 0 {
                    break;
                }
                probes -= 1;
                j += 1;
            }
            perturb >>= PERTURB_SHIFT;
            i = (i
                .wrapping_mul(5)
                .wrapping_add(1)
                .wrapping_add(perturb as usize))
                & mask;
        }
    }

    /// `set_table_resize` + `set_insert_clean`, reinserting in old table order.
    fn resize(&mut self, min_used: usize) {
        let mut size = 8;
        while size <= min_used {
            size <<= 1;
        }
        let old = std::mem::replace(&mut self.slots, vec![None; size]);
        let mask = size - 1;
        for (hash, idx) in old.into_iter().flatten() {
            let mut perturb = hash;
            let mut i = (hash as usize) & mask;
            'probe: loop {
                if self.slots[i].is_none() {
                    self.slots[i] = Some((hash, idx));
                    break 'probe;
                }
                if i + LINEAR_PROBES <= mask {
                    for j in i + 1..=i + LINEAR_PROBES {
                        if self.slots[j].is_none() {
                            self.slots[j] = Some((hash, idx));
                            break 'probe;
                        }
                    }
                }
                perturb >>= PERTURB_SHIFT;
                i = (i
                    .wrapping_mul(5)
                    .wrapping_add(1)
                    .wrapping_add(perturb as usize))
                    & mask;
            }
        }
    }

    /// Elements in Python's iteration order, or in source order when that order is random.
    pub(super) fn into_items(self) -> Vec<Py> {
        if !self.stable {
            return self.items;
        }
        let mut items: Vec<Option<Py>> = self.items.into_iter().map(Some).collect();
        self.slots
            .into_iter()
            .flatten()
            .filter_map(|(_, idx)| items[idx].take())
            .collect()
    }
}
