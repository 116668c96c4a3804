//! `expand_hostname_range`.

use super::python::{PyInt, py_int};
use super::{ASCII_LETTERS, HostPatternError, MAX_HOSTS_PER_PATTERN, MAX_NESTED_RANGES};

/// One `[…]` of a pattern: the text before it and the values it stands for.
struct Level<'a> {
    head: &'a str,
    seq: Seq,
}

/// The values of one range, not yet rendered.
enum Seq {
    Letters(Vec<u8>),
    Numbers {
        start: i128,
        step: i128,
        len: u128,
        /// `str(x).zfill(width)` when the begin had a leading zero.
        width: Option<usize>,
    },
}

impl Seq {
    fn len(&self) -> u128 {
        match self {
            Seq::Letters(letters) => letters.len() as u128,
            Seq::Numbers { len, .. } => *len,
        }
    }

    /// Appends value `i` (< `len`, so in `i128` range by construction) to `out`.
    fn push_value(&self, i: usize, out: &mut String) {
        match self {
            Seq::Letters(letters) => out.push(char::from(letters[i])),
            Seq::Numbers {
                start, step, width, ..
            } => {
                let value = start + step * i as i128;
                let digits = value.to_string();
                match width {
                    Some(width) if digits.len() < *width => {
                        // `str.zfill`: zeros go after the sign.
                        let (sign, magnitude) = digits.split_at(usize::from(value < 0));
                        out.push_str(sign);
                        out.extend(std::iter::repeat_n('0', width - digits.len()));
                        out.push_str(magnitude);
                    }
                    _ => out.push_str(&digits),
                }
            }
        }
    }
}

/// `expand_hostname_range(pattern)`, with its recursion unrolled: Python recurses on
/// `head + value + tail` for each value, and since `head + value` holds no `[`, `]` or `|`,
/// every recursive call parses `tail` the same way. So the ranges are parsed once, left to
/// right, and the names are their product. Like Python, a range with no values ends the
/// expansion (nothing to the right of it is looked at), and an error to the right of a range
/// with values is raised.
pub(super) fn expand_hostname_range(
    pattern: &str,
    token: &str,
) -> Result<Vec<String>, HostPatternError> {
    let mut levels: Vec<Level<'_>> = Vec::new();
    let mut rest = pattern;
    let tail = loop {
        if levels.len() == MAX_NESTED_RANGES {
            return Err(HostPatternError::TooManyRanges);
        }
        let (head, nrange, tail) = split_first_range(rest)?;
        let seq = range_values(nrange, token)?;
        if seq.len() == 0 {
            return Ok(Vec::new());
        }
        levels.push(Level { head, seq });
        if !tail.contains('[') {
            break tail;
        }
        rest = tail;
    };
    let total = levels
        .iter()
        .fold(1u128, |total, level| total.saturating_mul(level.seq.len()));
    if total > MAX_HOSTS_PER_PATTERN as u128 {
        return Err(HostPatternError::TooManyHosts {
            pattern: token.to_string(),
        });
    }
    let mut names = vec![String::new()];
    for level in &levels {
        // Each length is at most `total`, checked above.
        let len = level.seq.len() as usize;
        let mut next = Vec::with_capacity(names.len() * len);
        for name in &names {
            for i in 0..len {
                let mut longer =
                    String::with_capacity(name.len() + level.head.len() + tail.len() + 8);
                longer.push_str(name);
                longer.push_str(level.head);
                level.seq.push_value(i, &mut longer);
                next.push(longer);
            }
        }
        names = next;
    }
    for name in &mut names {
        name.push_str(tail);
    }
    Ok(names)
}

/// `(head, nrange, tail) = line.replace('[', '|', 1).replace(']', '|', 1).split('|')`.
fn split_first_range(line: &str) -> Result<(&str, &str, &str), HostPatternError> {
    let mut separators: Vec<usize> = [line.find('['), line.find(']')]
        .into_iter()
        .flatten()
        .collect();
    // The pattern's own `|` characters split too; beyond two, their number does not matter.
    if let Some(first) = line.find('|') {
        separators.push(first);
        separators.extend(line[first + 1..].find('|').map(|at| first + 1 + at));
    }
    separators.sort_unstable();
    match separators[..] {
        [first, second] => Ok((
            &line[..first],
            &line[first + 1..second],
            &line[second + 1..],
        )),
        [] | [_] => Err(HostPatternError::NotEnoughParts {
            got: separators.len() + 1,
        }),
        _ => Err(HostPatternError::TooManyParts),
    }
}

/// The values of `[nrange]`, checked in Python's order.
fn range_values(nrange: &str, token: &str) -> Result<Seq, HostPatternError> {
    let bounds: Vec<&str> = nrange.split(':').collect();
    let (beg, end, step) = match bounds[..] {
        [beg, end] => (beg, end, None),
        [beg, end, step] => (beg, end, Some(step)),
        _ => return Err(HostPatternError::RangeShape),
    };
    let beg = if beg.is_empty() { "0" } else { beg };
    if end.is_empty() {
        return Err(HostPatternError::RangeWithoutEnd);
    }
    let width = if beg.starts_with('0') && beg.chars().count() > 1 {
        let width = beg.chars().count();
        if width != end.chars().count() {
            return Err(HostPatternError::RangeWidthMismatch);
        }
        Some(width)
    } else {
        None
    };

    // `try: … ascii_letters.index(…) … except ValueError:` falls through to numbers.
    if let (Some(first), Some(last)) = (ASCII_LETTERS.find(beg), ASCII_LETTERS.find(end)) {
        if first > last {
            return Err(HostPatternError::RangeBackwards);
        }
        if let Some(letters) = letter_slice(first, last, step) {
            return Ok(Seq::Letters(letters));
        }
    }

    // `range(int(beg), int(end) + 1, int(step))`, evaluated left to right.
    let first = py_int(beg)?;
    let last = py_int(end)?;
    let step = match step {
        None => PyInt::Small(1),
        Some(step) => py_int(step)?,
    };
    if step == PyInt::Small(0) {
        return Err(HostPatternError::ZeroStep);
    }
    let (PyInt::Small(start), PyInt::Small(last), PyInt::Small(step)) = (first, last, step) else {
        return Err(HostPatternError::NumberTooLarge {
            pattern: token.to_string(),
        });
    };
    // All three are within ±10^30, so none of this overflows.
    let stop = last + 1;
    let len = if step > 0 && start < stop {
        (stop - start + step - 1) / step
    } else if step < 0 && start > stop {
        (start - stop - step - 1) / -step
    } else {
        0
    };
    Ok(Seq::Numbers {
        start,
        step,
        len: len.unsigned_abs(),
        width,
    })
}

/// `list(ascii_letters[first:last + 1:int(step)])`, or `None` where Python raises ValueError
/// (a step `int()` refuses, or 0) and so falls back to the numeric path.
fn letter_slice(first: usize, last: usize, step: Option<&str>) -> Option<Vec<u8>> {
    let step = match step.map(py_int) {
        None => 1,
        Some(Ok(PyInt::Small(step))) => step,
        // Python clamps huge slice steps to ±sys.maxsize: one letter, or none.
        Some(Ok(PyInt::Huge { negative })) => {
            if negative {
                -1
            } else {
                i128::MAX
            }
        }
        Some(Err(_)) => return None,
    };
    if step == 0 {
        return None;
    }
    if step < 0 {
        // Walking down from `first` toward `last + 1 > first` yields nothing.
        return Some(Vec::new());
    }
    let step = usize::try_from(step.min(ASCII_LETTERS.len() as i128)).unwrap_or(1);
    Some(
        ASCII_LETTERS.as_bytes()[first..=last]
            .iter()
            .copied()
            .step_by(step)
            .collect(),
    )
}
