//! Helpers shared by the fuzz targets: a byte reader that turns fuzz input
//! into lengths, indices and adversarial floats, and the backends to compare.

use bilevel::{Backend, Float};

/// Reads fuzz bytes as a stream of choices; past the end it yields zeros.
pub struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data, pos: 0 }
    }
    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    pub fn u64(&mut self) -> u64 {
        (0..8).fold(0u64, |acc, _| (acc << 8) | self.u8() as u64)
    }
    /// A length in `0..=max`.
    pub fn len(&mut self, max: usize) -> usize {
        let v = ((self.u8() as usize) << 8) | self.u8() as usize;
        v % (max + 1)
    }
    /// A float drawn from the classes that break kernels: zeros, ±∞, NaN,
    /// subnormals, extremes, and ordinary values of every magnitude.
    pub fn float<T: Float>(&mut self) -> T {
        let raw = self.u64();
        match self.u8() % 16 {
            0 => T::ZERO,
            1 => -T::ZERO,
            2 => T::INFINITY_T,
            3 => -T::INFINITY_T,
            4 => T::NAN_T,
            5 => T::MIN_POSITIVE_T * T::from_f64((raw % 1000) as f64 / 1024.0), // subnormal
            6 => T::MAX_T / T::from_f64(1.0 + (raw % 8) as f64),
            7 => -T::MAX_T / T::from_f64(2.0),
            8 => T::from_f64(1.0 + (raw % 3) as f64),
            _ => {
                // A finite value with a random exponent in [-60, 60] and sign.
                let m = (raw >> 11) as f64 / (1u64 << 53) as f64 + 0.5;
                let e = (raw % 121) as i32 - 60;
                let s = if raw & 1 == 1 { -1.0 } else { 1.0 };
                T::from_f64(s * m * 2f64.powi(e))
            }
        }
    }
    /// A moderate finite float in [-4, 4] (for differential checks whose
    /// bounds assume no overflow).
    pub fn moderate<T: Float>(&mut self) -> T {
        let raw = self.u64();
        T::from_f64(((raw >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 8.0)
    }
    pub fn vec<T: Float>(&mut self, n: usize) -> Vec<T> {
        (0..n).map(|_| self.float()).collect()
    }
    pub fn moderate_vec<T: Float>(&mut self, n: usize) -> Vec<T> {
        (0..n).map(|_| self.moderate()).collect()
    }
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }
}

/// The backends this CPU can run (the scalar one first).
pub fn backends() -> Vec<Backend> {
    Backend::ALL.into_iter().filter(|b| b.is_available()).collect()
}

/// Bitwise equality, with every NaN equal to every NaN.
pub fn same<T: Float>(a: &[T], b: &[T]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x.is_nan() && y.is_nan()) || x.to_f64().to_bits() == y.to_f64().to_bits())
}
