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

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}
