//! The one seedable random generator of the tests: xorshift64* with its state seeded through
//! splitmix64. Small, fast, no dependency, and the same numbers on every platform, so a printed
//! seed replays the same cases. `src/inventory/test_oracle.rs` includes this very file for the
//! unit tests (`#[path]`), which cannot `mod common`.
//!
//! Changing the algorithm changes every documented seed's cases (`tests/ansible_random.rs`):
//! don't.

/// The generator. `Rng(state)` takes a raw nonzero state; [`Rng::new`] any seed.
pub struct Rng(pub u64);

impl Rng {
    /// A generator whose state is `seed` mixed by splitmix64 (never zero, so any seed works).
    pub fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A number in `low..=high_inclusive`.
    pub fn range(&mut self, low: usize, high_inclusive: usize) -> usize {
        low + self.below(high_inclusive - low + 1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// One of `items`.
    pub fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }

    /// `min..=max` pieces picked at random, joined.
    pub fn text(&mut self, pieces: &[&str], min: usize, max: usize) -> String {
        let n = self.range(min, max);
        (0..n).map(|_| pieces[self.below(pieces.len())]).collect()
    }
}

/// The seed named by the environment variable `name` (decimal, or hex after `0x`), else
/// `default()`. Panics on a value that is not a number: a typo must not run other cases.
pub fn seed_from_env(name: &str, default: impl FnOnce() -> u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => {
            let text = text.trim();
            let parsed = match text.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => text.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("{name}={text:?} is not a number"))
        }
        Err(_) => default(),
    }
}
