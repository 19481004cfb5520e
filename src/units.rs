//! Units as types: byte counts, bandwidths and speeds.
//!
//! Every quantity that crosses a module boundary carries its unit in its type, so a
//! GiB can never be mistaken for a GB, nor a GB/s for tokens/s. These types do no I/O
//! and format themselves for humans with `Display`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A count of bytes.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Bytes(pub u64);

pub const KIB: u64 = 1024;
pub const MIB: u64 = 1024 * 1024;
pub const GIB: u64 = 1024 * 1024 * 1024;

impl Bytes {
    pub const ZERO: Bytes = Bytes(0);

    pub fn from_mib(mib: u64) -> Bytes {
        Bytes(mib.saturating_mul(MIB))
    }

    /// Rounds to the nearest byte; negative or non-finite input gives zero.
    pub fn from_gib_f64(gib: f64) -> Bytes {
        if gib.is_finite() && gib > 0.0 {
            Bytes((gib * GIB as f64).round() as u64)
        } else {
            Bytes(0)
        }
    }

    pub fn as_u64(self) -> u64 {
        self.0
    }

    pub fn mib(self) -> f64 {
        self.0 as f64 / MIB as f64
    }

    pub fn gib(self) -> f64 {
        self.0 as f64 / GIB as f64
    }

    pub fn saturating_sub(self, other: Bytes) -> Bytes {
        Bytes(self.0.saturating_sub(other.0))
    }

    pub fn checked_add(self, other: Bytes) -> Option<Bytes> {
        self.0.checked_add(other.0).map(Bytes)
    }
}

impl Add for Bytes {
    type Output = Bytes;
    /// Saturating: byte totals never wrap.
    fn add(self, rhs: Bytes) -> Bytes {
        Bytes(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for Bytes {
    fn add_assign(&mut self, rhs: Bytes) {
        self.0 = self.0.saturating_add(rhs.0);
    }
}

impl Sub for Bytes {
    type Output = Bytes;
    /// Saturating at zero.
    fn sub(self, rhs: Bytes) -> Bytes {
        Bytes(self.0.saturating_sub(rhs.0))
    }
}

impl std::iter::Sum for Bytes {
    fn sum<I: Iterator<Item = Bytes>>(iter: I) -> Bytes {
        iter.fold(Bytes::ZERO, |a, b| a + b)
    }
}

impl fmt::Display for Bytes {
    /// Binary units, three significant digits: `512 B`, `1.50 KiB`, `20.3 GiB`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0 as f64;
        let (value, unit) = if self.0 >= GIB {
            (v / GIB as f64, "GiB")
        } else if self.0 >= MIB {
            (v / MIB as f64, "MiB")
        } else if self.0 >= KIB {
            (v / KIB as f64, "KiB")
        } else {
            return write!(f, "{} B", self.0);
        };
        if value >= 100.0 {
            write!(f, "{value:.0} {unit}")
        } else if value >= 10.0 {
            write!(f, "{value:.1} {unit}")
        } else {
            write!(f, "{value:.2} {unit}")
        }
    }
}

/// A bandwidth in decimal gigabytes per second (10^9 bytes/s), as vendors quote it.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GbPerSec(pub f64);

impl GbPerSec {
    pub fn bytes_per_sec(self) -> f64 {
        self.0 * 1e9
    }
}

impl fmt::Display for GbPerSec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 >= 100.0 {
            write!(f, "{:.0} GB/s", self.0)
        } else {
            write!(f, "{:.1} GB/s", self.0)
        }
    }
}

/// A generation or prompt-processing speed.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokensPerSec(pub f64);

impl fmt::Display for TokensPerSec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 >= 100.0 {
            write!(f, "{:.0} tok/s", self.0)
        } else {
            write!(f, "{:.1} tok/s", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_display_picks_binary_units() {
        let cases = [
            (Bytes(512), "512 B"),
            (Bytes(1536), "1.50 KiB"),
            (Bytes::from_mib(560), "560 MiB"),
            (Bytes(20 * GIB + 3 * GIB / 10), "20.3 GiB"),
        ];
        for (b, want) in cases {
            assert_eq!(b.to_string(), want);
        }
    }

    #[test]
    fn bytes_arithmetic_saturates() {
        assert_eq!(Bytes(u64::MAX) + Bytes(1), Bytes(u64::MAX));
        assert_eq!(Bytes(1) - Bytes(2), Bytes(0));
        assert_eq!(Bytes::from_gib_f64(-1.0), Bytes(0));
        assert_eq!(Bytes::from_gib_f64(1.0), Bytes(GIB));
    }

    #[test]
    fn speeds_format_with_units() {
        assert_eq!(GbPerSec(360.0).to_string(), "360 GB/s");
        assert_eq!(TokensPerSec(29.9).to_string(), "29.9 tok/s");
        assert_eq!(GbPerSec(2.0).bytes_per_sec(), 2e9);
    }
}
