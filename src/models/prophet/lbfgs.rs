//! Stan's L-BFGS minimiser, the algorithm behind Prophet's MAP fit (`optimizing`, CmdStan's `algorithm=lbfgs`),
//! ported from stan/optimization/bfgs.hpp (`BFGSMinimizer::step`), bfgs_linesearch.hpp (`WolfeLineSearch`,
//! `WolfLSZoom`, `CubicInterp`) and lbfgs_update.hpp (`LBFGSUpdate`), with CmdStan's default tolerances.
//!
//! Prophet's objective is not smooth (`|delta|` in the Laplace prior). Stan optimises it as it is, with the gradient
//! taking `sign(0) = 0`, and so does this port: following Stan step for step (the initial step of 1e-3, the cubic
//! guess of the next step, the strong-Wolfe search, resetting the Hessian approximation when a search fails, the
//! relative-gradient stop) ends close to where Prophet ends (on AirPassengers the same log posterior to 1e-3 with
//! additive seasonality), rather than at the different, sparser point that a smoothed prior or an orthant-wise
//! method would pick.

use std::collections::VecDeque;

/// CmdStan's `optimize` defaults (`init_alpha`, `tol_*`, `history_size`) and Stan's line-search constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Options {
    pub history: usize,
    pub init_alpha: f64,
    pub c1: f64,
    pub c2: f64,
    pub min_alpha: f64,
    pub max_line_search_iterations: usize,
    pub max_line_search_restarts: usize,
    pub max_iterations: usize,
    pub tol_abs_f: f64,
    /// In units of the machine epsilon.
    pub tol_rel_f: f64,
    pub tol_abs_grad: f64,
    /// In units of the machine epsilon.
    pub tol_rel_grad: f64,
    pub tol_abs_x: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            history: 5,
            init_alpha: 1e-3,
            c1: 1e-4,
            c2: 0.9,
            min_alpha: 1e-12,
            max_line_search_iterations: 20,
            max_line_search_restarts: 10,
            // Prophet passes `iter=1e4`.
            max_iterations: 10_000,
            tol_abs_f: 1e-12,
            tol_rel_f: 1e4,
            tol_abs_grad: 1e-8,
            tol_rel_grad: 1e7,
            tol_abs_x: 1e-8,
        }
    }
}

/// Why the minimiser stopped (Stan's `TerminationCondition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    AbsoluteChangeInObjective,
    RelativeChangeInObjective,
    GradientNorm,
    RelativeGradient,
    ParameterChange,
    MaxIterations,
    /// Even a search along the steepest descent failed; the last point is the best one found.
    LineSearchFailed,
}

impl std::fmt::Display for Termination {
    /// Stan's messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Termination::AbsoluteChangeInObjective => "absolute change in objective function was below tolerance",
            Termination::RelativeChangeInObjective => "relative change in objective function was below tolerance",
            Termination::GradientNorm => "gradient norm is below tolerance",
            Termination::RelativeGradient => "relative gradient magnitude is below tolerance",
            Termination::ParameterChange => "absolute parameter change was below tolerance",
            Termination::MaxIterations => "maximum number of iterations hit, may not be at an optimum",
            Termination::LineSearchFailed => {
                "line search failed to achieve a sufficient decrease, no more progress can be made"
            }
        })
    }
}

#[derive(Debug, Clone)]
pub(super) struct Outcome {
    pub x: Vec<f64>,
    pub f: f64,
    pub iterations: usize,
    pub termination: Termination,
}

/// A point with its objective value and gradient.
#[derive(Debug, Clone)]
struct Point {
    x: Vec<f64>,
    f: f64,
    g: Vec<f64>,
}

/// The objective: value and gradient at `x`, `None` where either is not finite (Stan's evaluation errors).
pub(super) trait Objective {
    fn evaluate(&mut self, x: &[f64], grad: &mut [f64]) -> Option<f64>;
}

impl<F: FnMut(&[f64], &mut [f64]) -> Option<f64>> Objective for F {
    fn evaluate(&mut self, x: &[f64], grad: &mut [f64]) -> Option<f64> {
        self(x, grad)
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// Evaluates `from + alpha * p` into `out`; false when the objective is not finite there.
fn evaluate_along(func: &mut impl Objective, from: &[f64], alpha: f64, p: &[f64], out: &mut Point) -> bool {
    out.x.iter_mut().zip(from.iter().zip(p)).for_each(|(o, (x, d))| *o = x + alpha * d);
    match func.evaluate(&out.x, &mut out.g) {
        Some(f) if f.is_finite() && out.g.iter().all(|g| g.is_finite()) => {
            out.f = f;
            true
        }
        _ => false,
    }
}

/// Stan's `CubicInterp(df0, x1, f1, df1, loX, hiX)`: the minimiser on `[lo, hi]` of the cubic through `(0, 0)` with
/// slope `df0` and `(x1, f1)` with slope `df1`.
fn cubic_interp(df0: f64, x1: f64, f1: f64, df1: f64, lo: f64, hi: f64) -> f64 {
    let c3 = (-12.0 * f1 + 6.0 * x1 * (df0 + df1)) / (x1 * x1 * x1);
    let c2 = -(4.0 * df0 + 2.0 * df1) / x1 + 6.0 * f1 / (x1 * x1);
    let c1 = df0;
    let cubic = |x: f64| x * (x * (x * c3 / 3.0 + c2) / 2.0 + c1);
    let t_s = (c2 * c2 - 2.0 * c1 * c3).sqrt();
    let roots = [-(c2 + t_s) / c3, -(c2 - t_s) / c3];
    let (mut min_x, mut min_f) = (lo, cubic(lo));
    for x in std::iter::once(hi).chain(roots.into_iter().filter(|s| lo < *s && *s < hi)) {
        if cubic(x) < min_f {
            (min_x, min_f) = (x, cubic(x));
        }
    }
    min_x
}

/// One end of a bracketing interval: step, value, directional derivative.
#[derive(Debug, Clone, Copy)]
struct Bracket {
    alpha: f64,
    f: f64,
    dfp: f64,
}

/// The line search's fixed data: start point, direction, Wolfe thresholds.
struct Line<'a> {
    start: &'a Point,
    p: &'a [f64],
    c1dfp: f64,
    c2dfp: f64,
}

/// True when no double lies strictly between `a` and `b`.
fn adjacent(a: f64, b: f64) -> bool {
    a == b || (if b > a { a.next_up() } else { a.next_down() }) == b
}

/// Stan's `WolfLSZoom`: shrinks `[lo, hi]` by cubic interpolation (bisection every fifth try) until a step satisfies
/// the strong Wolfe conditions; the step is left in `alpha` and its point in `out`.
fn zoom(
    func: &mut impl Objective,
    line: &Line<'_>,
    alpha: &mut f64,
    out: &mut Point,
    mut lo: Bracket,
    mut hi: Bracket,
) -> bool {
    const MIN_RANGE: f64 = 1e-16;
    let mut iteration = 0;
    loop {
        iteration += 1;
        if (lo.alpha - hi.alpha).abs() < MIN_RANGE || adjacent(lo.alpha, hi.alpha) {
            return false;
        }
        let (low, high) = (lo.alpha.min(hi.alpha), lo.alpha.max(hi.alpha));
        *alpha = 0.5 * (lo.alpha + hi.alpha);
        if iteration % 5 != 0 {
            let d1 = lo.dfp + hi.dfp - 3.0 * (lo.f - hi.f) / (lo.alpha - hi.alpha);
            let d2 = (d1 * d1 - lo.dfp * hi.dfp).sqrt() * if hi.alpha < lo.alpha { -1.0 } else { 1.0 };
            let cubic = hi.alpha - (hi.alpha - lo.alpha) * (hi.dfp + d2 - d1) / (hi.dfp - lo.dfp + 2.0 * d2);
            let margin = 0.01 * (lo.alpha - hi.alpha).abs();
            if cubic.is_finite() && cubic >= low + margin && cubic <= high - margin {
                *alpha = cubic;
            }
        }
        while !evaluate_along(func, &line.start.x, *alpha, line.p, out) {
            let previous = *alpha;
            *alpha = 0.5 * (*alpha + low);
            if (low - *alpha).abs() < MIN_RANGE || *alpha == previous {
                return false;
            }
        }
        let trial = Bracket { alpha: *alpha, f: out.f, dfp: dot(&out.g, line.p) };
        if trial.f > line.start.f + trial.alpha * line.c1dfp || trial.f >= lo.f {
            hi = trial;
        } else {
            if trial.dfp.abs() <= -line.c2dfp {
                return true;
            }
            if trial.dfp * (hi.alpha - lo.alpha) >= 0.0 {
                hi = lo;
            }
            lo = trial;
        }
    }
}

/// Stan's `WolfeLineSearch` from `start` along `p`, first trying `alpha` and growing it tenfold until the minimum is
/// bracketed. On success the step is in `alpha` and its point in `out`.
fn wolfe_line_search(
    func: &mut impl Objective,
    opts: &Options,
    alpha: &mut f64,
    start: &Point,
    p: &[f64],
    out: &mut Point,
) -> bool {
    let dfp = dot(&start.g, p);
    let line = Line { start, p, c1dfp: opts.c1 * dfp, c2dfp: opts.c2 * dfp };
    let mut previous = Bracket { alpha: opts.min_alpha, f: start.f, dfp };
    let mut alpha1 = *alpha;
    let (mut iterations, mut restarts) = (0, 0);
    loop {
        if iterations >= opts.max_line_search_iterations {
            return false;
        }
        if !evaluate_along(func, &start.x, alpha1, p, out) {
            if restarts >= opts.max_line_search_restarts {
                return false;
            }
            alpha1 = 0.5 * (previous.alpha + alpha1);
            restarts += 1;
            continue;
        }
        restarts = 0;
        let trial = Bracket { alpha: alpha1, f: out.f, dfp: dot(&out.g, p) };
        // Stan tests sufficient decrease with the first step `alpha`, not `alpha1`; kept as it is.
        if trial.f > start.f + *alpha * line.c1dfp || (trial.f >= previous.f && iterations > 0) {
            return zoom(func, &line, alpha, out, previous, trial);
        }
        if trial.dfp.abs() <= -line.c2dfp {
            *alpha = alpha1;
            return true;
        }
        if trial.dfp >= 0.0 {
            return zoom(func, &line, alpha, out, trial, previous);
        }
        previous = trial;
        alpha1 *= 10.0;
        iterations += 1;
    }
}

/// Stan's `LBFGSUpdate`: the last `history` pairs `(1 / s.y, y, s)` and the scaling `s.y / y.y` of the newest.
#[derive(Debug)]
struct InverseHessian {
    pairs: VecDeque<(f64, Vec<f64>, Vec<f64>)>,
    capacity: usize,
    gamma: f64,
    alphas: Vec<f64>,
}

impl InverseHessian {
    fn new(capacity: usize) -> Self {
        let pairs = VecDeque::with_capacity(capacity);
        InverseHessian { pairs, capacity, gamma: 1.0, alphas: Vec::with_capacity(capacity) }
    }

    /// Adds the pair `(y, s)`; on `reset` forgets the others and returns the initial scaling `y.y / s.y`, else 1.
    fn update(&mut self, y: &[f64], s: &[f64], reset: bool) -> f64 {
        let sy = dot(y, s);
        let yy = dot(y, y);
        if reset {
            self.pairs.clear();
        }
        // Reuses the oldest pair's buffers once the history is full.
        let (mut y_buf, mut s_buf) = if self.pairs.len() >= self.capacity {
            self.pairs.pop_front().map(|(_, y, s)| (y, s)).unwrap_or_default()
        } else {
            (Vec::new(), Vec::new())
        };
        y_buf.clear();
        y_buf.extend_from_slice(y);
        s_buf.clear();
        s_buf.extend_from_slice(s);
        self.pairs.push_back((1.0 / sy, y_buf, s_buf));
        self.gamma = sy / yy;
        if reset { yy / sy } else { 1.0 }
    }

    /// The two-loop recursion: `p = -H g`.
    fn search_direction(&mut self, g: &[f64], p: &mut [f64]) {
        p.iter_mut().zip(g).for_each(|(p, g)| *p = -g);
        self.alphas.clear();
        for (rho, y, s) in self.pairs.iter().rev() {
            let alpha = rho * dot(s, p);
            p.iter_mut().zip(y).for_each(|(p, y)| *p -= alpha * y);
            self.alphas.push(alpha);
        }
        p.iter_mut().for_each(|p| *p *= self.gamma);
        for ((rho, y, s), alpha) in self.pairs.iter().zip(self.alphas.iter().rev()) {
            let beta = rho * dot(y, p);
            p.iter_mut().zip(s).for_each(|(p, s)| *p += (alpha - beta) * s);
        }
    }
}

/// Stan's `BFGSMinimizer` with the L-BFGS update.
struct Minimizer<F> {
    func: F,
    opts: Options,
    current: Point,
    previous: Point,
    p: Vec<f64>,
    p_previous: Vec<f64>,
    alpha_previous: f64,
    hessian: InverseHessian,
    iteration: usize,
    s: Vec<f64>,
    y: Vec<f64>,
}

impl<F: Objective> Minimizer<F> {
    fn new(mut func: F, x0: Vec<f64>, opts: Options) -> Option<Self> {
        let n = x0.len();
        let mut current = Point { x: x0, f: 0.0, g: vec![0.0; n] };
        current.f = func.evaluate(&current.x, &mut current.g).filter(|f| f.is_finite())?;
        if !current.g.iter().all(|g| g.is_finite()) {
            return None;
        }
        let p = current.g.iter().map(|g| -g).collect();
        Some(Minimizer {
            func,
            opts,
            previous: current.clone(),
            current,
            p,
            p_previous: vec![0.0; n],
            alpha_previous: 0.0,
            hessian: InverseHessian::new(opts.history),
            iteration: 0,
            s: vec![0.0; n],
            y: vec![0.0; n],
        })
    }

    /// The first step to try: Stan's cubic guess along the previous line, or `init_alpha` on the first step and
    /// after a reset.
    fn initial_step(&self, reset: bool) -> f64 {
        if self.iteration > 1 && !reset {
            let guess = cubic_interp(
                dot(&self.previous.g, &self.p_previous),
                self.alpha_previous,
                self.current.f - self.previous.f,
                dot(&self.current.g, &self.p_previous),
                self.opts.min_alpha,
                1.0,
            );
            (1.01 * guess).min(1.0)
        } else {
            self.opts.init_alpha
        }
    }

    /// Stan's `step()`: a line search along the current direction, the L-BFGS update, the next direction, and the
    /// convergence tests. `None` while it should go on. The first step, and a step whose quasi-Newton search failed,
    /// reset: they search along the steepest descent and restart the Hessian approximation.
    fn step(&mut self) -> Option<Termination> {
        self.iteration += 1;
        let mut reset = self.iteration == 1;
        let mut alpha = loop {
            if reset {
                self.p.iter_mut().zip(&self.current.g).for_each(|(p, g)| *p = -g);
            }
            let mut alpha = self.initial_step(reset);
            if wolfe_line_search(&mut self.func, &self.opts, &mut alpha, &self.current, &self.p, &mut self.previous) {
                break alpha;
            }
            if reset {
                return Some(Termination::LineSearchFailed);
            }
            reset = true;
        };
        // The search wrote the new point into `previous`: swap so that `current` is the newest.
        std::mem::swap(&mut self.current, &mut self.previous);
        std::mem::swap(&mut self.p, &mut self.p_previous);
        for i in 0..self.s.len() {
            self.s[i] = self.current.x[i] - self.previous.x[i];
            self.y[i] = self.current.g[i] - self.previous.g[i];
        }
        let grad_norm = norm(&self.current.g);
        let step_norm = norm(&self.s);
        if reset {
            let b0 = self.hessian.update(&self.y, &self.s, true);
            self.p_previous.iter_mut().for_each(|p| *p /= b0);
            alpha *= b0;
        } else {
            self.hessian.update(&self.y, &self.s, false);
        }
        self.alpha_previous = alpha;
        self.hessian.search_direction(&self.current.g, &mut self.p);
        self.converged(grad_norm, step_norm)
    }

    /// Stan's tests, in Stan's order.
    fn converged(&self, grad_norm: f64, step_norm: f64) -> Option<Termination> {
        let (f, f_previous) = (self.current.f, self.previous.f);
        let change = (f_previous - f).abs();
        let rel_change = change / f_previous.abs().max(f.abs()).max(1.0);
        let rel_grad = -dot(&self.p, &self.current.g) / f.abs().max(1.0);
        let o = &self.opts;
        if change < o.tol_abs_f {
            Some(Termination::AbsoluteChangeInObjective)
        } else if grad_norm < o.tol_abs_grad {
            Some(Termination::GradientNorm)
        } else if step_norm < o.tol_abs_x {
            Some(Termination::ParameterChange)
        } else if self.iteration >= o.max_iterations {
            Some(Termination::MaxIterations)
        } else if rel_change < o.tol_rel_f * f64::EPSILON {
            Some(Termination::RelativeChangeInObjective)
        } else if rel_grad < o.tol_rel_grad * f64::EPSILON {
            Some(Termination::RelativeGradient)
        } else {
            None
        }
    }
}

/// Minimises `func` from `x0`; `None` when the objective is not finite at `x0`.
pub(super) fn minimize(func: impl Objective, x0: Vec<f64>, opts: Options) -> Option<Outcome> {
    let mut minimizer = Minimizer::new(func, x0, opts)?;
    let termination = loop {
        if let Some(termination) = minimizer.step() {
            break termination;
        }
    };
    Some(Outcome {
        iterations: minimizer.iteration,
        f: minimizer.current.f,
        x: minimizer.current.x,
        termination,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rosenbrock(x: &[f64], g: &mut [f64]) -> Option<f64> {
        let (a, b) = (x[0], x[1]);
        g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
        g[1] = 200.0 * (b - a * a);
        Some((1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2))
    }

    #[test]
    fn minimises_the_rosenbrock_function() {
        let outcome = minimize(rosenbrock, vec![-1.2, 1.0], Options::default()).unwrap();
        assert!((outcome.x[0] - 1.0).abs() < 1e-4 && (outcome.x[1] - 1.0).abs() < 1e-4, "{outcome:?}");
        assert_ne!(outcome.termination, Termination::LineSearchFailed);
    }

    #[test]
    fn backs_off_where_the_objective_is_not_finite() {
        // log-barrier at x = 2: steps past it are rejected and the search halves back.
        let barrier = |x: &[f64], g: &mut [f64]| {
            g[0] = 2.0 * (x[0] - 1.9) - 1.0 / (x[0] - 2.0);
            (x[0] < 2.0).then(|| (x[0] - 1.9).powi(2) - (2.0 - x[0]).ln())
        };
        let outcome = minimize(barrier, vec![0.0], Options::default()).unwrap();
        // f'(x) = 0 where 2 u^2 - 0.2 u - 1 = 0, u = 2 - x.
        let expected = 2.0 - (0.2 + 8.04f64.sqrt()) / 4.0;
        assert!((outcome.x[0] - expected).abs() < 1e-6, "{outcome:?} vs {expected}");
        assert!(minimize(barrier, vec![3.0], Options::default()).is_none());
    }

    #[test]
    fn cubic_interpolation_finds_the_minimum_of_a_cubic() {
        // f(x) = x^3 - x through (0, 0) with slope -1 and (1, 0) with slope 2: minimum at 1 / sqrt(3).
        assert!((cubic_interp(-1.0, 1.0, 0.0, 2.0, 0.0, 1.0) - 3f64.sqrt().recip()).abs() < 1e-12);
        // Outside the interval the better end wins.
        assert_eq!(cubic_interp(-1.0, 1.0, 0.0, 2.0, 0.0, 0.5), 0.5);
    }
}
