//! Inverted dropout, as `torch.nn.Dropout`: while training each element is zeroed with probability `p` and the
//! others are scaled by `1 / (1 - p)`; at inference it is the identity. The mask is drawn from a ChaCha8 stream
//! keyed by the batch's training seed and the layer's own stream number, so it depends on those alone: not on
//! the thread that runs the batch.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::error::{expect_len, NnError};

/// Random words drawn per call of the generator.
const WORDS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dropout {
    p: f32,
    /// Distinguishes the layers of one model that draw from the same training seed.
    stream: u64,
}

impl Dropout {
    /// `p` in `[0, 1)`; `stream` must differ between the dropout layers of a model.
    pub fn new(p: f32, stream: u64) -> Result<Self, NnError> {
        if !(0.0..1.0).contains(&p) {
            return Err(NnError::InvalidValue { what: "dropout probability", reason: format!("must be in [0, 1), got {p}") });
        }
        Ok(Dropout { p, stream })
    }

    pub fn p(&self) -> f32 {
        self.p
    }

    /// Applies dropout to `values` in place when `train_seed` is given (training) and `p > 0`, keeping the
    /// scaled mask in `mask` for [`Dropout::backward_in_place`]; otherwise leaves `values` as they are and
    /// empties `mask`.
    pub fn forward_in_place(&self, values: &mut [f32], train_seed: Option<u64>, mask: &mut Vec<f32>) {
        mask.clear();
        let Some(seed) = train_seed.filter(|_| self.p > 0.0) else { return };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(self.stream);
        let keep = 1.0 / (1.0 - self.p);
        // `rng.random::<f32>() < p` is `(word >> 8) * 2^-24 < p`, i.e. `word >> 8 < ceil(p 2^24)`: the same
        // mask from the same words, drawn in bulk and compared in a loop the compiler vectorises.
        let threshold = (self.p as f64 * 16_777_216.0).ceil() as u32;
        let mut bytes = [0u8; 4 * WORDS];
        mask.resize(values.len(), 0.0);
        for chunk in mask.chunks_mut(WORDS) {
            let bytes = &mut bytes[..4 * chunk.len()];
            rng.fill_bytes(bytes);
            for (m, word) in chunk.iter_mut().zip(bytes.chunks_exact(4)) {
                let word = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
                *m = if word >> 8 < threshold { 0.0 } else { keep };
            }
        }
        values.iter_mut().zip(mask.iter()).for_each(|(v, m)| *v *= m);
    }

    /// Backpropagates through the mask of the forward pass (the identity when it was off).
    pub fn backward_in_place(&self, grad: &mut [f32], mask: &[f32]) -> Result<(), NnError> {
        if mask.is_empty() {
            return Ok(());
        }
        expect_len("dropout gradient", mask.len(), grad.len())?;
        grad.iter_mut().zip(mask).for_each(|(g, m)| *g *= m);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn off_at_inference_and_at_zero() {
        let mut x = vec![1.0; 10];
        let mut mask = vec![9.0];
        Dropout::new(0.5, 0).unwrap().forward_in_place(&mut x, None, &mut mask);
        Dropout::new(0.0, 0).unwrap().forward_in_place(&mut x, Some(3), &mut mask);
        assert!(x.iter().all(|&v| v == 1.0) && mask.is_empty());
    }

    #[test]
    fn drops_about_p_and_keeps_the_mean() {
        let layer = Dropout::new(0.25, 1).unwrap();
        let mut x = vec![1.0; 40_000];
        let mut mask = Vec::new();
        layer.forward_in_place(&mut x, Some(7), &mut mask);
        let dropped = x.iter().filter(|&&v| v == 0.0).count() as f64 / x.len() as f64;
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() / x.len() as f64;
        assert!((dropped - 0.25).abs() < 0.01, "dropped {dropped}");
        assert!((mean - 1.0).abs() < 0.02, "mean {mean}");
        let mut grad = vec![2.0; x.len()];
        layer.backward_in_place(&mut grad, &mask).unwrap();
        assert!(grad.iter().zip(&x).all(|(g, v)| *g == 2.0 * v));
    }

    #[test]
    fn draws_the_mask_of_one_uniform_per_element() {
        for (p, seed, len) in [(0.05, 3, 700), (0.5, 9, 257), (0.3, 1, 1)] {
            let layer = Dropout::new(p, 4).unwrap();
            let mut mask = Vec::new();
            layer.forward_in_place(&mut vec![1.0; len], Some(seed), &mut mask);
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(4);
            let expected: Vec<f32> = (0..len).map(|_| if rng.random::<f32>() < p { 0.0 } else { 1.0 / (1.0 - p) }).collect();
            assert_eq!(mask, expected);
        }
    }

    #[test]
    fn the_mask_depends_on_seed_and_stream_only() {
        let draw = |seed, stream| {
            let mut x = vec![1.0; 64];
            Dropout::new(0.5, stream).unwrap().forward_in_place(&mut x, Some(seed), &mut Vec::new());
            x
        };
        assert_eq!(draw(1, 0), draw(1, 0));
        assert_ne!(draw(1, 0), draw(2, 0));
        assert_ne!(draw(1, 0), draw(1, 1));
        assert!(Dropout::new(1.0, 0).is_err());
    }
}
