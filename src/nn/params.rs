//! Named parameter storage in the spirit of candle-nn's VarMap/VarBuilder: every parameter is a
//! [`Tensor`] under a dotted module path (`hist_encoder.weight_ih_l0`, `mlp_decoder.layers.0.weight`),
//! and modules only hold [`ParamId`]s into the store. Gradients are a second store of the same layout
//! ([`ParamStore::zeros_like`]), so one set of weights can serve several threads, each with its own
//! gradient store, reduced afterwards with [`ParamStore::add_assign`].

use rand_chacha::ChaCha8Rng;

use super::error::NnError;
use super::tensor::Tensor;

/// Index of a parameter in the [`ParamStore`] that created it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamId(usize);

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParamStore {
    names: Vec<String>,
    tensors: Vec<Tensor>,
    /// Per tensor: a buffer (torch's `register_buffer`, BatchNorm's running statistics), saved and loaded with
    /// the weights but not trained and not counted among the parameters. Its gradient stays zero, so Adam leaves it.
    buffers: Vec<bool>,
}

impl AsRef<ParamStore> for ParamStore {
    fn as_ref(&self) -> &ParamStore {
        self
    }
}

impl ParamStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn insert(&mut self, name: String, tensor: Tensor, buffer: bool) -> Result<ParamId, NnError> {
        if self.names.contains(&name) {
            return Err(NnError::InvalidValue { what: "parameter name", reason: format!("`{name}` is already defined") });
        }
        self.names.push(name);
        self.tensors.push(tensor);
        self.buffers.push(buffer);
        Ok(ParamId(self.tensors.len() - 1))
    }

    pub fn get(&self, id: ParamId) -> &Tensor {
        &self.tensors[id.0]
    }

    pub fn get_mut(&mut self, id: ParamId) -> &mut Tensor {
        &mut self.tensors[id.0]
    }

    /// The tensor at position `index` (in [`ParamStore::iter`] order); panics past the end, as slice indexing.
    pub fn tensor_at(&self, index: usize) -> &Tensor {
        &self.tensors[index]
    }

    /// The tensor stored under `name`, if any.
    pub fn find(&self, name: &str) -> Option<&Tensor> {
        self.names.iter().position(|n| n == name).map(|i| &self.tensors[i])
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.names.iter().map(String::as_str).zip(&self.tensors)
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &mut Tensor)> {
        self.names.iter().map(String::as_str).zip(&mut self.tensors)
    }

    /// Number of parameter tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Number of scalar parameters, as `sum(p.numel() for p in model.parameters())` (buffers left out).
    pub fn num_parameters(&self) -> usize {
        self.tensors.iter().zip(&self.buffers).filter(|(_, &buffer)| !buffer).map(|(t, _)| t.len()).sum()
    }

    /// A store with the same names and shapes, all zeros: a gradient accumulator or optimizer moment.
    pub fn zeros_like(&self) -> Self {
        let tensors = self.tensors.iter().map(|t| Tensor::zeros(&t.shape)).collect();
        ParamStore { names: self.names.clone(), tensors, buffers: self.buffers.clone() }
    }

    pub fn fill_zero(&mut self) {
        self.tensors.iter_mut().for_each(|t| t.data.fill(0.0));
    }

    /// Multiplies every value by `factor`.
    pub fn scale(&mut self, factor: f32) {
        self.tensors.iter_mut().for_each(|t| t.data.iter_mut().for_each(|v| *v *= factor));
    }

    /// Errors unless `other` has the same names and shapes in the same order.
    pub fn check_same_layout(&self, other: &ParamStore) -> Result<(), NnError> {
        if self.names != other.names {
            return Err(NnError::LayoutMismatch { reason: "parameter names differ".into() });
        }
        match self.iter().zip(other.iter()).find(|((_, a), (_, b))| a.shape != b.shape) {
            Some(((name, a), (_, b))) => Err(NnError::LayoutMismatch {
                reason: format!("`{name}` has shape {:?} here and {:?} there", a.shape, b.shape),
            }),
            None => Ok(()),
        }
    }

    /// `self += other`, element-wise: sums per-thread gradients.
    pub fn add_assign(&mut self, other: &ParamStore) -> Result<(), NnError> {
        self.check_same_layout(other)?;
        for (mine, theirs) in self.tensors.iter_mut().zip(&other.tensors) {
            mine.data.iter_mut().zip(&theirs.data).for_each(|(a, b)| *a += b);
        }
        Ok(())
    }
}

/// Creates parameters under a name prefix, like candle-nn's `VarBuilder::pp`, drawing their
/// initial values from one seeded generator so that a seed fixes every weight.
pub struct ParamInit<'a> {
    store: &'a mut ParamStore,
    rng: &'a mut ChaCha8Rng,
    prefix: String,
}

impl<'a> ParamInit<'a> {
    pub fn new(store: &'a mut ParamStore, rng: &'a mut ChaCha8Rng) -> Self {
        ParamInit { store, rng, prefix: String::new() }
    }

    /// A builder for the sub-module `name`: its parameters are named `<prefix>.<name>.<param>`.
    pub fn pp(&mut self, name: impl AsRef<str>) -> ParamInit<'_> {
        let prefix = self.path(name.as_ref());
        ParamInit { store: self.store, rng: self.rng, prefix }
    }

    /// Adds a parameter of `shape` drawn from U(-bound, bound).
    pub fn uniform(&mut self, name: &str, shape: &[usize], bound: f32) -> Result<ParamId, NnError> {
        let tensor = Tensor::uniform(shape, bound, self.rng);
        let path = self.path(name);
        self.store.insert(path, tensor, false)
    }

    /// Adds a parameter of `shape` with every element `value` (LayerNorm's weight 1 and bias 0, PReLU's 0.25).
    pub fn constant(&mut self, name: &str, shape: &[usize], value: f32) -> Result<ParamId, NnError> {
        self.with_values(name, shape, vec![value; shape.iter().product()])
    }

    /// Adds a parameter of `shape` drawn from N(0, std^2) (torch's `kaiming_normal_`, given its std).
    pub fn normal(&mut self, name: &str, shape: &[usize], std: f32) -> Result<ParamId, NnError> {
        let tensor = Tensor::normal(shape, std, self.rng);
        let path = self.path(name);
        self.store.insert(path, tensor, false)
    }

    /// Adds a parameter of `shape` holding `data` (row-major): constant initialisations such as PReLU's 0.25,
    /// and tensors torch registers with fixed values (NBEATS' basis templates).
    pub fn with_values(&mut self, name: &str, shape: &[usize], data: Vec<f32>) -> Result<ParamId, NnError> {
        super::error::expect_len("parameter values", shape.iter().product(), data.len())?;
        let path = self.path(name);
        self.store.insert(path, Tensor { shape: shape.to_vec(), data }, false)
    }

    /// Adds a buffer of `shape` with every element `value`: state saved with the weights but not trained
    /// (torch's `register_buffer`, such as BatchNorm's running statistics).
    pub fn buffer(&mut self, name: &str, shape: &[usize], value: f32) -> Result<ParamId, NnError> {
        let path = self.path(name);
        self.store.insert(path, Tensor { shape: shape.to_vec(), data: vec![value; shape.iter().product()] }, true)
    }

    fn path(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }
}
