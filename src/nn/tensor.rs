//! A plain owned f32 tensor: the storage of parameters, gradients and optimizer state.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    /// Row-major elements; `data.len()` is the product of `shape`.
    pub data: Vec<f32>,
}

impl Tensor {
    pub fn zeros(shape: &[usize]) -> Self {
        Tensor { shape: shape.to_vec(), data: vec![0.0; shape.iter().product()] }
    }

    /// Elements drawn from U(-bound, bound), PyTorch's default init for Linear, LSTM and GRU.
    pub fn uniform(shape: &[usize], bound: f32, rng: &mut ChaCha8Rng) -> Self {
        let len = shape.iter().product();
        let data = (0..len).map(|_| rng.random_range(-bound..=bound)).collect();
        Tensor { shape: shape.to_vec(), data }
    }

    /// Elements drawn from N(0, std^2) by the Box-Muller transform (in f64, then rounded).
    pub fn normal(shape: &[usize], std: f32, rng: &mut ChaCha8Rng) -> Self {
        let len = shape.iter().product();
        let mut draw = || {
            // u1 in (0, 1] keeps the logarithm finite.
            let u1 = 1.0 - rng.random::<f64>();
            let u2 = rng.random::<f64>();
            ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos() * std as f64) as f32
        };
        let data = (0..len).map(|_| draw()).collect();
        Tensor { shape: shape.to_vec(), data }
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}
