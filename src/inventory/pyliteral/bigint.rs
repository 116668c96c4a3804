//! Integers beyond i64.

use std::fmt::Write as _;

use super::INT_MAX_STR_DIGITS;
use super::hash::{HASH_MODULUS, finish_hash, frexp};

/// A Python int: `Small` whenever it fits in i64 (so equal values have one representation).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Int {
    Small(i64),
    Big(Big),
}

/// Magnitude in little-endian 32-bit limbs, no trailing zero limbs; always outside i64.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Big {
    neg: bool,
    mag: Vec<u32>,
}

impl Int {
    /// Digits (no underscores, no prefix) in `radix` 2, 8, 10 or 16.
    pub(super) fn parse(digits: &str, radix: u32) -> Int {
        let mut mag: Vec<u32> = Vec::new();
        if radix == 10 {
            for d in digits.bytes() {
                mul_add(&mut mag, 10, u32::from(d - b'0'));
            }
        } else {
            // Power-of-two radixes pack bits directly: huge hex literals stay linear.
            let bits = radix.trailing_zeros();
            let mut acc: u64 = 0;
            let mut nbits = 0u32;
            for d in digits.bytes().rev() {
                let v = (d as char).to_digit(radix).unwrap_or(0);
                acc |= u64::from(v) << nbits;
                nbits += bits;
                if nbits >= 32 {
                    mag.push(acc as u32);
                    acc >>= 32;
                    nbits -= 32;
                }
            }
            if nbits > 0 {
                mag.push(acc as u32);
            }
        }
        Int::from_mag(false, mag)
    }

    fn from_mag(neg: bool, mut mag: Vec<u32>) -> Int {
        while mag.last() == Some(&0) {
            mag.pop();
        }
        if mag.len() <= 2 {
            let v = mag
                .iter()
                .rev()
                .fold(0u128, |acc, &l| (acc << 32) | u128::from(l));
            let signed = if neg { -(v as i128) } else { v as i128 };
            if let Ok(small) = i64::try_from(signed) {
                return Int::Small(small);
            }
        }
        Int::Big(Big { neg, mag })
    }

    pub(super) fn neg(self) -> Int {
        match self {
            Int::Small(v) => match v.checked_neg() {
                Some(n) => Int::Small(n),
                None => Int::from_mag(false, vec![0, 0x8000_0000]),
            },
            Int::Big(b) => Int::from_mag(!b.neg, b.mag),
        }
    }

    /// `float(int)`, correctly rounded; None when it overflows (OverflowError).
    pub(super) fn to_f64(&self) -> Option<f64> {
        match self {
            Int::Small(v) => Some(*v as f64),
            Int::Big(b) => {
                if b.mag.len() > 40 {
                    return None; // ≥ 2**1248
                }
                let f: f64 = b.to_decimal().parse().ok()?;
                f.is_finite().then_some(f)
            }
        }
    }

    /// Python's exact `int == float`.
    pub(super) fn eq_f64(&self, f: f64) -> bool {
        if !f.is_finite() || f.fract() != 0.0 {
            return false;
        }
        match self {
            Int::Small(v) => {
                (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f)
                    && f as i64 == *v
            }
            Int::Big(b) => {
                let (m, e) = frexp(f.abs());
                // |f| = mantissa * 2**(e - 53) with a 53-bit integer mantissa.
                let mantissa = (m * 9_007_199_254_740_992.0) as u64;
                let shift = e - 53;
                if shift < 0 {
                    return false; // |f| < 2**53 cannot equal a big int
                }
                let mut mag = vec![mantissa as u32, (mantissa >> 32) as u32];
                shl(&mut mag, shift as u32);
                Int::from_mag(f < 0.0, mag) == Int::Big(b.clone())
            }
        }
    }
}

impl Big {
    pub(super) fn to_decimal(&self) -> String {
        let mut mag = self.mag.clone();
        let mut chunks: Vec<u32> = Vec::new();
        while !mag.is_empty() {
            let mut rem: u64 = 0;
            for limb in mag.iter_mut().rev() {
                let cur = (rem << 32) | u64::from(*limb);
                *limb = (cur / 1_000_000_000) as u32;
                rem = cur % 1_000_000_000;
            }
            chunks.push(rem as u32);
            while mag.last() == Some(&0) {
                mag.pop();
            }
        }
        let mut out = String::with_capacity(chunks.len() * 9 + 1);
        if self.neg {
            out.push('-');
        }
        for (i, chunk) in chunks.iter().rev().enumerate() {
            // Writing to a String cannot fail.
            let _ = if i == 0 {
                write!(out, "{chunk}")
            } else {
                write!(out, "{chunk:09}")
            };
        }
        out
    }

    /// Decimal digits (without sign) exceed `INT_MAX_STR_DIGITS`?
    pub(super) fn too_many_digits(&self) -> bool {
        let bits = self.mag.len() * 32 - self.mag.last().map_or(32, |l| l.leading_zeros() as usize);
        // 10**4300 needs 14285 bits; only near that is the exact count needed.
        if bits < 14_280 {
            return false;
        }
        if bits > 14_290 {
            return true;
        }
        self.to_decimal().trim_start_matches('-').len() > INT_MAX_STR_DIGITS
    }

    pub(super) fn hash(&self) -> u64 {
        let m = self.mag.iter().rev().fold(0u64, |acc, &limb| {
            (((u128::from(acc) << 32) | u128::from(limb)) % u128::from(HASH_MODULUS)) as u64
        }) as i64;
        finish_hash(if self.neg { -m } else { m })
    }
}

fn mul_add(mag: &mut Vec<u32>, mul: u32, add: u32) {
    let mut carry = u64::from(add);
    for limb in mag.iter_mut() {
        let cur = u64::from(*limb) * u64::from(mul) + carry;
        *limb = cur as u32;
        carry = cur >> 32;
    }
    if carry > 0 {
        mag.push(carry as u32);
    }
}

fn shl(mag: &mut Vec<u32>, shift: u32) {
    let limbs = (shift / 32) as usize;
    let bits = shift % 32;
    if bits > 0 {
        let mut carry = 0u32;
        for limb in mag.iter_mut() {
            let next = *limb >> (32 - bits);
            *limb = (*limb << bits) | carry;
            carry = next;
        }
        if carry > 0 {
            mag.push(carry);
        }
    }
    mag.splice(0..0, std::iter::repeat_n(0, limbs));
}
