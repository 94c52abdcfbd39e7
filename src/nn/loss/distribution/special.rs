//! The f64 scalar functions the distribution losses are written in: softplus and its derivative the sigmoid,
//! in forms that neither overflow nor lose the small end, `lgamma` (libm's) and the digamma function its
//! derivative, which the StudentT degrees of freedom and the negative binomial's total count need.

/// `ln(1 + e^x)` as `max(x, 0) + ln(1 + e^-|x|)`: no overflow for large `x`, no loss of `e^x` for very negative `x`.
pub fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// `1 / (1 + e^-x)`, the derivative of [`softplus`], without overflowing `e^-x` for very negative `x`.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

pub fn lgamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// ψ(x) = d/dx ln Γ(x) for x > 0: the recurrence ψ(x) = ψ(x + 1) - 1/x up to x >= 10, then the asymptotic series
/// ln x - 1/(2x) - Σ B_2k / (2k x^2k), whose first six terms leave an error below 1e-15 there
/// (at x >= 6 it would be 1e-12).
pub fn digamma(x: f64) -> f64 {
    let mut x = x;
    let mut shift = 0.0;
    while x < 10.0 {
        shift -= 1.0 / x;
        x += 1.0;
    }
    let inv2 = 1.0 / (x * x);
    let series = inv2 * (1.0 / 12.0 - inv2 * (1.0 / 120.0 - inv2 * (1.0 / 252.0 - inv2 * (1.0 / 240.0 - inv2 * (1.0 / 132.0 - inv2 * 691.0 / 32760.0)))));
    shift + x.ln() - 0.5 / x - series
}
