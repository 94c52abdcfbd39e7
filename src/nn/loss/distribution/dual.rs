//! Forward-mode dual numbers: a value and its derivative along one direction, carried through the arithmetic,
//! `exp`, `min` and `max`. ISQF's closed-form CRPS is written once in them, and each seeded input gives
//! the exact derivative w.r.t. that input. `min`/`max` pass the derivative as torch's `minimum`/`maximum` do:
//! from the selected side, half from each on a tie.

use std::ops::{Add, Div, Mul, Neg, Sub};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dual {
    pub value: f64,
    pub tangent: f64,
}

impl Dual {
    pub fn new(value: f64, tangent: f64) -> Self {
        Dual { value, tangent }
    }

    pub fn constant(value: f64) -> Self {
        Dual { value, tangent: 0.0 }
    }

    pub fn exp(self) -> Self {
        let value = self.value.exp();
        Dual { value, tangent: self.tangent * value }
    }

    pub fn max(self, other: Dual) -> Self {
        pick(self, other, self.value > other.value)
    }

    pub fn min(self, other: Dual) -> Self {
        pick(self, other, self.value < other.value)
    }
}

/// `first` where `first_wins`, `second` where the other one strictly wins, and on a tie the value with the mean
/// of the two derivatives.
fn pick(first: Dual, second: Dual, first_wins: bool) -> Dual {
    if first_wins {
        first
    } else if first.value == second.value {
        Dual { value: first.value, tangent: 0.5 * (first.tangent + second.tangent) }
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
        Dual { value: -self.value, tangent: -self.tangent }
    }
}

impl Add for Dual {
    type Output = Dual;
    fn add(self, o: Dual) -> Dual {
        Dual { value: self.value + o.value, tangent: self.tangent + o.tangent }
    }
}

impl Sub for Dual {
    type Output = Dual;
    fn sub(self, o: Dual) -> Dual {
        Dual { value: self.value - o.value, tangent: self.tangent - o.tangent }
    }
}

impl Mul for Dual {
    type Output = Dual;
    fn mul(self, o: Dual) -> Dual {
        Dual { value: self.value * o.value, tangent: self.tangent * o.value + self.value * o.tangent }
    }
}

impl Div for Dual {
    type Output = Dual;
    fn div(self, o: Dual) -> Dual {
        let value = self.value / o.value;
        Dual { value, tangent: (self.tangent - value * o.tangent) / o.value }
    }
}

/// The mixed operations with a constant on either side.
macro_rules! with_constants {
    ($($trait:ident $method:ident),*) => {$(
        impl $trait<f64> for Dual {
            type Output = Dual;
            fn $method(self, o: f64) -> Dual {
                self.$method(Dual::constant(o))
            }
        }
        impl $trait<Dual> for f64 {
            type Output = Dual;
            fn $method(self, o: Dual) -> Dual {
                Dual::constant(self).$method(o)
            }
        }
    )*};
}

with_constants!(Add add, Sub sub, Mul mul, Div div);
