//! Forward-mode dual numbers: a value and its derivatives along [`LANES`] directions at once, carried through
//! the arithmetic, `exp`, `min` and `max`. ISQF's closed-form CRPS is written once in them, and each input seeded
//! in a lane gives the exact derivative w.r.t. that input in that lane (the lanes' loops vectorise). `min`/`max`
//! pass the derivatives as torch's `minimum`/`maximum` do: from the selected side, half from each on a tie.

use std::ops::{Add, Div, Mul, Neg, Sub};

/// Directions per dual number.
pub const LANES: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dual {
    pub value: f64,
    pub tangent: [f64; LANES],
}

impl Dual {
    pub fn constant(value: f64) -> Self {
        Dual { value, tangent: [0.0; LANES] }
    }

    /// `value` with derivative `slope` in `lane` (none when `lane` is None).
    pub fn seeded(value: f64, lane: Option<usize>, slope: f64) -> Self {
        let mut tangent = [0.0; LANES];
        if let Some(lane) = lane {
            tangent[lane] = slope;
        }
        Dual { value, tangent }
    }

    pub fn exp(self) -> Self {
        let value = self.value.exp();
        self.with(value, |t| t * value)
    }

    pub fn max(self, other: Dual) -> Self {
        pick(self, other, self.value > other.value)
    }

    pub fn min(self, other: Dual) -> Self {
        pick(self, other, self.value < other.value)
    }

    /// `value` with each derivative mapped.
    fn with(self, value: f64, f: impl Fn(f64) -> f64) -> Dual {
        Dual { value, tangent: self.tangent.map(f) }
    }

    fn zip(self, o: Dual, value: f64, f: impl Fn(f64, f64) -> f64) -> Dual {
        let mut tangent = [0.0; LANES];
        for ((t, a), b) in tangent.iter_mut().zip(self.tangent).zip(o.tangent) {
            *t = f(a, b);
        }
        Dual { value, tangent }
    }
}

/// `first` where `first_wins`, `second` where the other one strictly wins, and on a tie the value with the mean
/// of the two derivatives.
fn pick(first: Dual, second: Dual, first_wins: bool) -> Dual {
    if first_wins {
        first
    } else if first.value == second.value {
        first.zip(second, first.value, |a, b| 0.5 * (a + b))
    } else {
        second
    }
}

impl From<f64> for Dual {
    fn from(value: f64) -> Self {
        Dual::constant(value)
    }
}

impl Neg for Dual {
    type Output = Dual;
    fn neg(self) -> Dual {
        self.with(-self.value, |t| -t)
    }
}

impl Add for Dual {
    type Output = Dual;
    fn add(self, o: Dual) -> Dual {
        self.zip(o, self.value + o.value, |a, b| a + b)
    }
}

impl Sub for Dual {
    type Output = Dual;
    fn sub(self, o: Dual) -> Dual {
        self.zip(o, self.value - o.value, |a, b| a - b)
    }
}

impl Mul for Dual {
    type Output = Dual;
    fn mul(self, o: Dual) -> Dual {
        let (u, v) = (self.value, o.value);
        self.zip(o, u * v, |a, b| a * v + u * b)
    }
}

impl Div for Dual {
    type Output = Dual;
    fn div(self, o: Dual) -> Dual {
        let value = self.value / o.value;
        self.zip(o, value, |a, b| (a - value * b) / o.value)
    }
}

impl Add<f64> for Dual {
    type Output = Dual;
    fn add(self, c: f64) -> Dual {
        Dual { value: self.value + c, ..self }
    }
}

impl Sub<f64> for Dual {
    type Output = Dual;
    fn sub(self, c: f64) -> Dual {
        Dual { value: self.value - c, ..self }
    }
}

impl Mul<f64> for Dual {
    type Output = Dual;
    fn mul(self, c: f64) -> Dual {
        self.with(self.value * c, |t| t * c)
    }
}

impl Div<f64> for Dual {
    type Output = Dual;
    fn div(self, c: f64) -> Dual {
        self.with(self.value / c, |t| t / c)
    }
}

impl Add<Dual> for f64 {
    type Output = Dual;
    fn add(self, d: Dual) -> Dual {
        d + self
    }
}

impl Sub<Dual> for f64 {
    type Output = Dual;
    fn sub(self, d: Dual) -> Dual {
        -d + self
    }
}

impl Mul<Dual> for f64 {
    type Output = Dual;
    fn mul(self, d: Dual) -> Dual {
        d * self
    }
}

impl Div<Dual> for f64 {
    type Output = Dual;
    fn div(self, d: Dual) -> Dual {
        Dual::constant(self) / d
    }
}
