//! NeuralForecast's ISQF (Incremental Spline Quantile Function, `DistributionLoss(distribution='ISQF')`, after
//! GluonTS): a quantile function through `Q` knots at the loss's quantiles (sorted), linear in `num_pieces`
//! pieces between neighbouring knots, with exponential tails beyond the outer ones.
//!
//! Per point the network gives `isqf_domain_map`'s `2 (Q - 1) num_pieces + 2 + Q` outputs: the pieces' widths
//! (a softmax per knot interval), then their heights likewise, the left and right tails' `beta` (through softplus),
//! and the knots' heights (the first as is, then increments through softplus, summed). Each width or height is
//! `(softmax + 1e-4) / (1 + num_pieces * 1e-4)` of its interval. The loss is NeuralForecast's `-log_prob`:
//! softplus of the closed-form CRPS (`BaseISQF.crps`) of the target in the scaler's space, plus log(scale), and a
//! draw is the quantile function at a uniform level, in data space (`loc + scale * q`).
//!
//! The CRPS's gradient is exact: the CRPS is written once in [`Dual`] numbers and evaluated with every input it
//! depends on seeded in a lane (a tail: its beta and its knot's height, one pass; an interval: its two knots'
//! heights and its pieces' softmax values, one pass per [`LANES`] of them), then chained through the softmax,
//! the softplus and the knots' running sum by hand.

use rand::{Rng, RngExt};

use super::dual::{Dual, LANES};
use super::special::{sigmoid, softplus};
use crate::nn::error::NnError;

/// `isqf_domain_map`'s (and `BaseISQF`'s) tolerance: the floor of each piece's share, of each knot increment and
/// of each tail's beta.
const TOL: f64 = 1e-4;
/// The most pieces per interval: the gradient costs O(num_pieces^2) per interval, and beyond this the pieces
/// outnumber anything a knot interval can resolve.
pub const MAX_PIECES: usize = 256;
const WHAT: &str = "DistributionLoss numPieces";

#[derive(Debug, Clone, PartialEq)]
pub struct Isqf {
    num_pieces: usize,
    /// The knots' quantile levels (x-positions), ascending and distinct: the loss's quantiles (f32) widened.
    knots: Vec<f64>,
}

/// The inputs of an interval's CRPS, numbered: its knots' heights, then its pieces' width and height softmax
/// values.
#[derive(Clone, Copy)]
struct Inputs {
    pieces: usize,
}

impl Inputs {
    fn count(self) -> usize {
        2 * self.pieces + 2
    }

    fn low(self) -> usize {
        0
    }

    fn high(self) -> usize {
        1
    }

    fn width(self, piece: usize) -> usize {
        2 + piece
    }

    fn height(self, piece: usize) -> usize {
        2 + self.pieces + piece
    }
}

impl Isqf {
    /// ISQF with `num_pieces` pieces per knot interval; its knots are set by [`Isqf::with_knots`] (the loss's
    /// quantiles, which `DistributionLoss` passes).
    pub fn new(num_pieces: usize) -> Result<Self, NnError> {
        if num_pieces == 0 || num_pieces > MAX_PIECES {
            return Err(NnError::InvalidValue { what: WHAT, reason: format!("must be between 1 and {MAX_PIECES}, got {num_pieces}") });
        }
        Ok(Isqf { num_pieces, knots: Vec::new() })
    }

    /// The knots at `quantiles` (each in (0, 1)), sorted as NeuralForecast's `torch.sort(qs)`; they must be
    /// distinct (a repeated one is an interval of width 0, NaN in NeuralForecast).
    pub fn with_knots(mut self, quantiles: &[f32]) -> Result<Self, NnError> {
        let mut knots: Vec<f32> = quantiles.to_vec();
        knots.sort_by(f32::total_cmp);
        if let Some(pair) = knots.windows(2).find(|pair| pair[0] == pair[1]) {
            let reason = format!("ISQF's knots are the quantiles, which must be distinct; {} is given twice", pair[0]);
            return Err(NnError::InvalidValue { what: "DistributionLoss quantiles", reason });
        }
        if knots.is_empty() || knots.iter().any(|&q| !(q > 0.0 && q < 1.0)) {
            let reason = format!("ISQF needs quantiles strictly between 0 and 1, got {quantiles:?}");
            return Err(NnError::InvalidValue { what: "DistributionLoss quantiles", reason });
        }
        self.knots = knots.into_iter().map(f64::from).collect();
        Ok(self)
    }

    pub fn num_pieces(&self) -> usize {
        self.num_pieces
    }

    fn intervals(&self) -> usize {
        self.knots.len().saturating_sub(1)
    }

    /// Where the heights, the two betas and the knots' heights start among a point's outputs.
    fn heights_at(&self) -> usize {
        self.intervals() * self.num_pieces
    }

    fn betas_at(&self) -> usize {
        2 * self.heights_at()
    }

    fn knots_at(&self) -> usize {
        self.betas_at() + 2
    }

    /// NeuralForecast's `outputsize_multiplier`: `2 (Q - 1) num_pieces + 2 + Q`.
    pub fn param_count(&self) -> usize {
        self.knots_at() + self.knots.len()
    }

    /// NeuralForecast's `param_names` for ISQF.
    pub fn param_names(&self) -> Vec<String> {
        let pieces = self.heights_at();
        let mut names: Vec<String> = (1..=pieces).map(|i| format!("-spline_knot_{i}")).collect();
        names.extend((1..=pieces).map(|i| format!("-spline_height_{i}")));
        names.extend(["-beta_l".to_string(), "-beta_r".to_string()]);
        names.extend((1..=self.knots.len()).map(|i| format!("-quantile_knot_{i}")));
        names
    }

    /// The parameters in data space, laid out as the outputs: each piece's share of its interval's width, then
    /// of its height, the left and right tails' slopes (`scale / beta`), and the knots' heights (`loc + scale * y`).
    pub fn params(&self, raw: &[f32], loc: f64, scale: f64, params: &mut [f64]) {
        let (p, b, k) = (self.num_pieces, self.betas_at(), self.knots_at());
        for (raw, out) in raw[..b].chunks_exact(p).zip(params[..b].chunks_exact_mut(p)) {
            softmax(raw, out);
            out.iter_mut().for_each(|v| *v = self.share(*v));
        }
        for side in 0..2 {
            params[b + side] = scale / beta(raw[b + side]);
        }
        let mut height = 0.0;
        for (i, (out, &r)) in params[k..].iter_mut().zip(&raw[k..]).enumerate() {
            height += knot_increment(i, r);
            *out = loc + scale * height;
        }
    }

    /// A piece's share of its interval from its softmax value.
    fn share(&self, softmax: f64) -> f64 {
        (softmax + TOL) / (1.0 + self.num_pieces as f64 * TOL)
    }

    /// The quantile function at level `alpha` in (0, 1) of data-space `params` ([`Isqf::params`]):
    /// `BaseISQF.quantile`, through the affine transform.
    pub fn quantile(&self, params: &[f64], alpha: f64) -> f64 {
        let (b, k, q) = (self.betas_at(), self.knots_at(), self.knots.len());
        let heights = &params[k..];
        let (x_first, x_last) = (self.knots[0], self.knots[q - 1]);
        if alpha < x_first {
            let slope = params[b];
            return slope * alpha.ln() + (-slope * x_first.ln() + heights[0]);
        }
        if alpha >= x_last {
            let slope = -params[b + 1];
            return slope * (1.0 - alpha).ln() + (-slope * (1.0 - x_last).ln() + heights[q - 1]);
        }
        let interval = self.knots.partition_point(|&x| x <= alpha) - 1;
        let mut value = heights[interval];
        for piece in self.pieces(params, interval) {
            value += ((alpha - piece.x) / piece.dx).clamp(0.0, 1.0) * piece.dy;
        }
        value
    }

    /// The linear pieces of `interval` in data-space `params`: where each starts and its width and height.
    fn pieces<'a>(&'a self, params: &'a [f64], interval: usize) -> impl Iterator<Item = Piece> + 'a {
        let (p, k) = (self.num_pieces, self.knots_at());
        let (x_low, x_high) = (self.knots[interval], self.knots[interval + 1]);
        let (y_low, y_high) = (params[k + interval], params[k + interval + 1]);
        let widths = &params[interval * p..(interval + 1) * p];
        let heights = &params[self.heights_at() + interval * p..][..p];
        let mut cumulative = 0.0;
        widths.iter().zip(heights).map(move |(&w, &h)| {
            let piece = Piece { x: cumulative * (x_high - x_low) + x_low, dx: w * (x_high - x_low), dy: h * (y_high - y_low) };
            cumulative += w;
            piece
        })
    }

    /// One draw: the quantile function at a uniform level in (0, 1) (torch's `rand` may give 0, whose left tail
    /// is -inf; the open interval leaves it out).
    pub fn sample<R: Rng + ?Sized>(&self, params: &[f64], rng: &mut R) -> f64 {
        let alpha: f64 = rng.sample(rand::distr::Open01);
        self.quantile(params, alpha)
    }

    /// E[q(U)] = the integral of the quantile function: `x0 (y0 - a_l)` for the left tail (slope `a_l`),
    /// `(1 - xr) (yr + a_r)` for the right one, and the trapezoids of the pieces.
    pub fn mean(&self, params: &[f64]) -> f64 {
        self.moments(params).0
    }

    /// E[q(U)^2] - E[q(U)]^2: `x0 (y0^2 - 2 a_l y0 + 2 a_l^2)` and `(1 - xr) (yr^2 + 2 a_r yr + 2 a_r^2)` for
    /// the tails, `dx (q0^2 + q0 q1 + q1^2) / 3` for a piece from `q0` to `q1`.
    pub fn variance(&self, params: &[f64]) -> f64 {
        let (mean, second) = self.moments(params);
        second - mean * mean
    }

    fn moments(&self, params: &[f64]) -> (f64, f64) {
        let (b, k, q) = (self.betas_at(), self.knots_at(), self.knots.len());
        let (left, right) = (params[b], params[b + 1]);
        let (x_first, y_first) = (self.knots[0], params[k]);
        let (x_last, y_last) = (self.knots[q - 1], params[k + q - 1]);
        let mut mean = x_first * (y_first - left) + (1.0 - x_last) * (y_last + right);
        let mut second = x_first * (y_first * y_first - 2.0 * left * y_first + 2.0 * left * left)
            + (1.0 - x_last) * (y_last * y_last + 2.0 * right * y_last + 2.0 * right * right);
        for interval in 0..self.intervals() {
            let mut start = params[k + interval];
            for piece in self.pieces(params, interval) {
                let end = start + piece.dy;
                mean += piece.dx * 0.5 * (start + end);
                second += piece.dx * (start * start + start * end + end * end) / 3.0;
                start = end;
            }
        }
        (mean, second)
    }

    /// NeuralForecast's ISQF loss of a data-space target `y`, `softplus(crps((y - loc) / scale)) + ln(scale)`,
    /// and its gradient w.r.t. `raw` into `grad` (param_count values), which also holds the intermediate values.
    pub fn nll_and_grad(&self, raw: &[f32], loc: f64, scale: f64, y: f64, grad: &mut [f64]) -> f64 {
        let z = (y - loc) / scale;
        let (p, b, k, q) = (self.num_pieces, self.betas_at(), self.knots_at(), self.knots.len());
        // The base (scaler-space) parameters, where their gradients will be: the softmax values of the widths
        // and heights, the betas and the knots' heights.
        for (raw, out) in raw[..b].chunks_exact(p).zip(grad[..b].chunks_exact_mut(p)) {
            softmax(raw, out);
        }
        let mut height = 0.0;
        for (i, (out, &r)) in grad[k..].iter_mut().zip(&raw[k..]).enumerate() {
            height += knot_increment(i, r);
            *out = height;
        }
        // The tails read their knot's height before the intervals overwrite it with its gradient.
        let (x_first, x_last) = (self.knots[0], self.knots[q - 1]);
        let (beta_left, beta_right) = (beta(raw[b]), beta(raw[b + 1]));
        let (y_first, y_last) = (grad[k], grad[k + q - 1]);
        // Each tail in one pass: lane 0 its beta, lane 1 its knot's height.
        let left = left_tail_crps(z, x_first, Dual::seeded(beta_left, Some(0), 1.0), Dual::seeded(y_first, Some(1), 1.0));
        let right = right_tail_crps(z, x_last, Dual::seeded(beta_right, Some(0), 1.0), Dual::seeded(y_last, Some(1), 1.0));
        let mut crps = left.value + right.value;
        grad[b] = left.tangent[0] * sigmoid(raw[b] as f64);
        grad[b + 1] = right.tangent[0] * sigmoid(raw[b + 1] as f64);
        // d crps / d (height of knot i), carried from the interval below (or the left tail) to the next.
        let mut carried = left.tangent[1];
        // An interval's inputs, numbered as `Inputs` does, their derivatives filled LANES at a time.
        let mut d_inputs = [0.0; 2 * MAX_PIECES + 2];
        let inputs = Inputs { pieces: p };
        for interval in 0..self.intervals() {
            let ends = (grad[k + interval], grad[k + interval + 1]);
            let widths = &grad[interval * p..(interval + 1) * p];
            let heights = &grad[b / 2 + interval * p..][..p];
            for first in (0..inputs.count()).step_by(LANES) {
                let pass = self.interval_crps(z, interval, widths, heights, ends, first);
                if first == 0 {
                    crps += pass.value;
                }
                let lanes = LANES.min(inputs.count() - first);
                d_inputs[first..first + lanes].copy_from_slice(&pass.tangent[..lanes]);
            }
            grad[k + interval] = carried + d_inputs[inputs.low()];
            carried = d_inputs[inputs.high()];
            softmax_backward(&mut grad[interval * p..(interval + 1) * p], &d_inputs[inputs.width(0)..][..p]);
            softmax_backward(&mut grad[b / 2 + interval * p..][..p], &d_inputs[inputs.height(0)..][..p]);
        }
        grad[k + q - 1] = carried + right.tangent[1];
        // The knots' heights are running sums of the increments: d raw_j = sum_{i >= j} d y_i times the
        // increment's derivative (1 for the first, sigmoid after).
        let mut suffix = 0.0;
        for i in (0..q).rev() {
            suffix += grad[k + i];
            grad[k + i] = suffix * if i == 0 { 1.0 } else { sigmoid(raw[k + i] as f64) };
        }
        let d_softplus = sigmoid(crps);
        grad.iter_mut().for_each(|g| *g *= d_softplus);
        softplus(crps) + scale.ln()
    }

    /// `BaseISQF.crps_spline` for one knot interval, in dual numbers: `softmax_widths`/`softmax_heights` are its
    /// pieces' softmax values, `ends` its knots' heights (scaler space); inputs `first..first + LANES` (numbered
    /// as [`Inputs`]) carry the derivatives, in lane order.
    fn interval_crps(&self, z: f64, interval: usize, softmax_widths: &[f64], softmax_heights: &[f64], ends: (f64, f64), first: usize) -> Dual {
        let p = self.num_pieces;
        let inputs = Inputs { pieces: p };
        let lane = |input: usize| (first..first + LANES).contains(&input).then(|| input - first);
        let (x_low, x_high) = (self.knots[interval], self.knots[interval + 1]);
        let (y_low, y_high) = (Dual::seeded(ends.0, lane(inputs.low()), 1.0), Dual::seeded(ends.1, lane(inputs.high()), 1.0));
        let d_share = 1.0 / (1.0 + p as f64 * TOL);
        let width_share = |s: usize| Dual::seeded(self.share(softmax_widths[s]), lane(inputs.width(s)), d_share);
        let width = |s: usize| width_share(s) * (x_high - x_low);
        let height = |s: usize| Dual::seeded(self.share(softmax_heights[s]), lane(inputs.height(s)), d_share) * (y_high - y_low);
        // `cdf_spline`: the level of z within the interval, from the last piece whose start lies below z.
        let (mut start_x, mut start_y) = (Dual::constant(0.0), Dual::constant(0.0));
        let mut alpha_tilde = Dual::constant(0.0);
        for s in 0..p {
            let knot_height = y_low + start_y;
            if !(knot_height.value < z) {
                break;
            }
            let (dx, dy) = (width(s), height(s));
            alpha_tilde = (start_x * (x_high - x_low) + x_low) + (z - y_low - start_y) * (dx / dy);
            start_x = start_x + width_share(s);
            start_y = start_y + dy;
        }
        let alpha_tilde = alpha_tilde.max(x_low.into()).min(x_high.into());
        // `crps_spline`'s sums over the pieces.
        let mut cumulative = Dual::constant(0.0);
        let mut sum = Dual::constant(0.0);
        for s in 0..p {
            let (dx, dy) = (width(s), height(s));
            let x = cumulative * (x_high - x_low) + x_low;
            cumulative = cumulative + width_share(s);
            let x_plus = if s + 1 < p { cumulative * (x_high - x_low) + x_low } else { x_high.into() };
            let r = alpha_tilde.max(x).min(x_plus);
            let coeff1 = -2.0 / 3.0 * x_plus * x_plus * x_plus + x * x_plus * x_plus + x_plus * x_plus - (1.0 / 3.0) * x * x * x
                - 2.0 * x * x_plus
                - r * r
                + 2.0 * x * r;
            let coeff2 = -2.0 * alpha_tilde.max(x_plus) + x_plus * x_plus + 2.0 * x_high - x_high * x_high;
            sum = sum + (dy / dx) * coeff1 + dy * coeff2;
        }
        (x_high * x_high - x_low * x_low) * (z - y_low) + 2.0 * (x_high - alpha_tilde) * (y_low - z) + sum
    }
}

/// One linear piece of the quantile function: it starts at level `x` and rises by `dy` over `dx`.
struct Piece {
    x: f64,
    dx: f64,
    dy: f64,
}

/// `softplus(raw) + tol`: a tail's beta.
fn beta(raw: f32) -> f64 {
    softplus(raw as f64) + TOL
}

/// Knot `i`'s height above the previous knot's (the first knot's height itself).
fn knot_increment(i: usize, raw: f32) -> f64 {
    if i == 0 {
        raw as f64
    } else {
        softplus(raw as f64) + TOL
    }
}

fn softmax(raw: &[f32], out: &mut [f64]) {
    let max = raw.iter().fold(f64::NEG_INFINITY, |m, &r| m.max(r as f64));
    for (o, &r) in out.iter_mut().zip(raw) {
        *o = (r as f64 - max).exp();
    }
    let total: f64 = out.iter().sum();
    out.iter_mut().for_each(|o| *o /= total);
}

/// Replaces the softmax values `probabilities` with d/d its inputs, given `d` = d/d the values:
/// `p_j (d_j - sum_i p_i d_i)`.
fn softmax_backward(probabilities: &mut [f64], d: &[f64]) {
    let mean: f64 = probabilities.iter().zip(d).map(|(p, d)| p * d).sum();
    for (p, d) in probabilities.iter_mut().zip(d) {
        *p *= d - mean;
    }
}

/// `BaseISQF.crps_tail(left_tail=True)` in the scaler's space: tail slope `1 / beta`, knot (`x`, `y`).
fn left_tail_crps(z: f64, x: f64, beta: Dual, y: Dual) -> Dual {
    let a = 1.0 / beta;
    let b = -a * x.ln() + y;
    let alpha_tilde = ((z - b) / a).min(x.ln().into()).exp();
    let term1 = (z - b) * (x * x - 2.0 * x + 2.0 * alpha_tilde);
    let mut term2 = x * x * a * (-x.ln() + 0.5);
    if z < y.value {
        term2 = term2 + 2.0 * (x * a * (x.ln() - 1.0) + alpha_tilde * (-z + b + a));
    }
    term1 + term2
}

/// `BaseISQF.crps_tail(left_tail=False)`: tail slope `-1 / beta`, knot (`x`, `y`).
fn right_tail_crps(z: f64, x: f64, beta: Dual, y: Dual) -> Dual {
    let a = 1.0 / -beta;
    let log_rest = (1.0 - x).ln();
    let b = -a * log_rest + y;
    let alpha_tilde = 1.0 - ((z - b) / a).min(log_rest.into()).exp();
    let term1 = (z - b) * (-1.0 - x * x + 2.0 * alpha_tilde);
    let term2 = a * (-0.5 * (x + 1.0) * (x + 1.0) + (x * x - 1.0) * log_rest + 2.0 * alpha_tilde);
    let tail = if z > y.value { (1.0 - alpha_tilde) * (z - b) } else { a * (1.0 - x) * log_rest };
    term1 + term2 + 2.0 * tail
}

#[cfg(test)]
#[path = "isqf_tests.rs"]
mod tests;
