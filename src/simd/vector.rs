//! The vector trait every kernel body is written against, and its portable (`wide`)
//! implementations.

use super::float::Float;

/// Lanes of the widest vector (16 × f32 in AVX-512); sizes the stack buffers of the default
/// tail and horizontal methods.
pub(crate) const MAX_LANES: usize = 16;

/// A fixed-width vector of [`Float`] lanes.
///
/// `min`/`max` propagate NaN in every lane where either operand is NaN (numpy `minimum`
/// semantics), so kernels need no separate NaN handling.
pub trait SimdVec: Copy {
    type Elem: Float;
    const LANES: usize;

    fn splat(v: Self::Elem) -> Self;
    /// Loads the first `LANES` elements of `s` (unaligned); panics if `s` is shorter, which the
    /// kernels rule out by loading from `chunks_exact(LANES)`.
    fn load(s: &[Self::Elem]) -> Self;
    /// Stores into the first `LANES` elements of `out` (same contract as [`SimdVec::load`]).
    fn store(self, out: &mut [Self::Elem]);
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn div(self, o: Self) -> Self;
    /// `self * a + b`, fused (single rounding) where the instruction set has FMA.
    fn mul_add(self, a: Self, b: Self) -> Self;
    fn min(self, o: Self) -> Self;
    fn max(self, o: Self) -> Self;
    fn sqrt(self) -> Self;

    /// The vector whose lane k is `f(k)`: a gather from computed positions.
    #[inline(always)]
    fn from_fn(mut f: impl FnMut(usize) -> Self::Elem) -> Self {
        let mut buf = [Self::Elem::ZERO; MAX_LANES];
        for (k, b) in buf[..Self::LANES].iter_mut().enumerate() {
            *b = f(k);
        }
        Self::load(&buf)
    }

    /// Calls `f(k, lane k)` for every lane in order: a scatter to computed positions.
    #[inline(always)]
    fn for_each_lane(self, mut f: impl FnMut(usize, Self::Elem)) {
        let mut buf = [Self::Elem::ZERO; MAX_LANES];
        self.store(&mut buf);
        for (k, &v) in buf[..Self::LANES].iter().enumerate() {
            f(k, v);
        }
    }

    /// Loads up to `LANES` elements, padding the missing lanes with `fill`.
    #[inline(always)]
    fn load_partial(s: &[Self::Elem], fill: Self::Elem) -> Self {
        let mut buf = [fill; MAX_LANES];
        let n = s.len().min(Self::LANES);
        buf[..n].copy_from_slice(&s[..n]);
        Self::load(&buf)
    }

    /// Stores the first `min(out.len(), LANES)` lanes.
    #[inline(always)]
    fn store_partial(self, out: &mut [Self::Elem]) {
        let mut buf = [Self::Elem::ZERO; MAX_LANES];
        self.store(&mut buf);
        let n = out.len().min(Self::LANES);
        out[..n].copy_from_slice(&buf[..n]);
    }

    #[inline(always)]
    fn reduce_sum(self) -> Self::Elem {
        self.fold_lanes(|a, b| a + b)
    }

    #[inline(always)]
    fn reduce_min(self) -> Self::Elem {
        self.fold_lanes(Float::min_nan)
    }

    #[inline(always)]
    fn reduce_max(self) -> Self::Elem {
        self.fold_lanes(Float::max_nan)
    }

    /// Folds the lanes pairwise (a tree, so sums keep their pairwise error bound).
    #[inline(always)]
    fn fold_lanes(self, f: impl Fn(Self::Elem, Self::Elem) -> Self::Elem) -> Self::Elem {
        let mut buf = [Self::Elem::ZERO; MAX_LANES];
        self.store(&mut buf);
        let mut width = Self::LANES;
        while width > 1 {
            width /= 2;
            for i in 0..width {
                buf[i] = f(buf[i], buf[i + width]);
            }
        }
        buf[0]
    }
}

macro_rules! impl_wide {
    ($v:ty, $e:ty, $lanes:expr) => {
        impl SimdVec for $v {
            type Elem = $e;
            const LANES: usize = $lanes;

            #[inline(always)]
            fn splat(v: $e) -> Self {
                <$v>::splat(v)
            }
            #[inline(always)]
            fn load(s: &[$e]) -> Self {
                let mut a = [0.0; $lanes];
                a.copy_from_slice(&s[..$lanes]);
                <$v>::new(a)
            }
            #[inline(always)]
            fn store(self, out: &mut [$e]) {
                out[..$lanes].copy_from_slice(&self.to_array());
            }
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                self + o
            }
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                self - o
            }
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                self * o
            }
            #[inline(always)]
            fn div(self, o: Self) -> Self {
                self / o
            }
            #[inline(always)]
            fn mul_add(self, a: Self, b: Self) -> Self {
                <$v>::mul_add(self, a, b)
            }
            #[inline(always)]
            fn min(self, o: Self) -> Self {
                // `fast_min` leaves NaN lanes unspecified; a + b is NaN exactly where either is.
                (self.is_nan() | o.is_nan()).select(self + o, self.fast_min(o))
            }
            #[inline(always)]
            fn max(self, o: Self) -> Self {
                (self.is_nan() | o.is_nan()).select(self + o, self.fast_max(o))
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$v>::sqrt(self)
            }
        }
    };
}

impl_wide!(wide::f64x4, f64, 4);
impl_wide!(wide::f32x8, f32, 8);
