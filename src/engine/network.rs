//! The trainable network behind a `ModelSpec`, whatever its architecture: any [`Model`] behind one object-safe
//! interface, with a cache that each thread keeps and the network fills with its own cache type; and the
//! trainable head of a loss that has one (IQLoss's), whose parameters live in the model's store (`loss.*`, as
//! NeuralForecast's state dict), so Adam, gradients and checkpoints treat them as the model's.

use std::any::Any;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::models::{Model, WindowBatch};
use crate::nn::heap_bytes::HeapBytes;
use crate::nn::loss::implicit_quantile::{ImplicitQuantileCache, ImplicitQuantileHead, Quantiles};
use crate::nn::loss::Loss;
use crate::nn::params::ParamInit;
use crate::nn::{NnError, ParamStore};

/// [`Model`] without its associated cache type, so that networks of different models live in one list.
trait AnyModel: Send + Sync + std::fmt::Debug {
    fn params(&self) -> &ParamStore;
    fn params_mut(&mut self) -> &mut ParamStore;
    fn forward<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut ModelCache) -> Result<&'c [f32], NnError>;
    fn backward(&self, cache: &mut ModelCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError>;
    fn update_buffers(&mut self, cache: &mut ModelCache) -> Result<(), NnError>;
    fn forecast_paths(&self) -> Option<usize>;
    fn clone_box(&self) -> Box<dyn AnyModel>;
    fn as_any(&self) -> &dyn Any;
}

/// A model's cache behind the network's type erasure: any type, and its heap bytes.
trait AnyCache: Any + Send + Sync {
    fn heap_bytes(&self) -> usize;
}

impl<C: HeapBytes + Send + Sync + 'static> AnyCache for C {
    fn heap_bytes(&self) -> usize {
        HeapBytes::heap_bytes(self)
    }
}

/// A model's cache of whichever network a thread last ran.
#[derive(Default)]
struct ModelCache(Option<Box<dyn AnyCache>>);

/// A thread's activations and scratch buffers for whichever network it last ran: the model's, and its loss head's.
#[derive(Default)]
pub struct NetworkCache {
    model: ModelCache,
    head: ImplicitQuantileCache,
}

impl ModelCache {
    /// The cache as `C`, replaced by an empty one if it held another model's.
    fn get<C: Default + HeapBytes + Send + Sync + 'static>(&mut self) -> &mut C {
        if !self.0.as_ref().is_some_and(|c| (&**c as &dyn Any).is::<C>()) {
            self.0 = Some(Box::new(C::default()));
        }
        self.0.as_mut().and_then(|c| (&mut **c as &mut dyn Any).downcast_mut::<C>()).expect("the cache was just set to C")
    }

    /// The cache as `C` if it holds one (backward needs the forward pass's cache).
    fn existing<C: 'static>(&mut self) -> Result<&mut C, NnError> {
        self.0.as_mut().and_then(|c| (&mut **c as &mut dyn Any).downcast_mut::<C>()).ok_or_else(|| NnError::InvalidValue {
            what: "network cache",
            reason: "backward called before forward".into(),
        })
    }
}

impl HeapBytes for NetworkCache {
    fn heap_bytes(&self) -> usize {
        self.model.0.as_ref().map_or(0, |c| c.heap_bytes()) + HeapBytes::heap_bytes(&self.head)
    }
}

impl<M: Model> AnyModel for M {
    fn params(&self) -> &ParamStore {
        Model::params(self)
    }

    fn params_mut(&mut self) -> &mut ParamStore {
        Model::params_mut(self)
    }

    fn forward<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut ModelCache) -> Result<&'c [f32], NnError> {
        Model::forward(self, batch, cache.get::<M::Cache>())
    }

    fn backward(&self, cache: &mut ModelCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        Model::backward(self, cache.existing::<M::Cache>()?, d_output, grads)
    }

    fn update_buffers(&mut self, cache: &mut ModelCache) -> Result<(), NnError> {
        Model::update_buffers(self, cache.existing::<M::Cache>()?)
    }

    fn forecast_paths(&self) -> Option<usize> {
        Model::forecast_paths(self)
    }

    fn clone_box(&self) -> Box<dyn AnyModel> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[derive(Debug)]
pub struct Network {
    model: Box<dyn AnyModel>,
    head: Option<ImplicitQuantileHead>,
}

impl Clone for Network {
    fn clone(&self) -> Self {
        Network { model: self.model.clone_box(), head: self.head.clone() }
    }
}

impl Network {
    /// `model` with the head `loss` has (IQLoss's), its weights drawn from `seed` (on their own stream, so the
    /// model's weights are those it has without the head).
    pub fn new(model: impl Model, loss: &Loss, seed: u64) -> Result<Network, NnError> {
        const HEAD_STREAM: u64 = 1;
        let mut model: Box<dyn AnyModel> = Box::new(model);
        let head = match loss {
            Loss::ImplicitQuantile { cos_embedding_dim, .. } => {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(HEAD_STREAM);
                let mut init = ParamInit::new(model.params_mut(), &mut rng);
                Some(ImplicitQuantileHead::new(&mut init.pp("loss"), *cos_embedding_dim)?)
            }
            _ => None,
        };
        Ok(Network { model, head })
    }

    pub fn params(&self) -> &ParamStore {
        self.model.params()
    }

    /// The model and the cache of its last forward pass in `cache`, as `M` (a model's own outputs, such as TFT's
    /// interpretability weights); None for another model or before a forward pass.
    pub fn model_and_cache<'a, M: Model>(&'a self, cache: &'a NetworkCache) -> Option<(&'a M, &'a M::Cache)> {
        let model = self.model.as_any().downcast_ref::<M>()?;
        let cache = cache.model.0.as_ref().and_then(|c| (&**c as &dyn Any).downcast_ref::<M::Cache>())?;
        Some((model, cache))
    }

    pub fn params_mut(&mut self) -> &mut ParamStore {
        self.model.params_mut()
    }

    /// `[B, h, outputs_per_point]` forecasts (normalised space) of `batch`, each conditioned on its quantile
    /// where the network has an IQLoss head (ignored otherwise).
    pub fn forward<'c>(&self, batch: &WindowBatch<'_>, quantiles: Quantiles<'_>, cache: &'c mut NetworkCache) -> Result<&'c [f32], NnError> {
        let forecast = self.model.forward(batch, &mut cache.model)?;
        match &self.head {
            Some(head) => head.forward(self.model.params(), forecast, quantiles, &mut cache.head),
            None => Ok(forecast),
        }
    }

    /// The sample paths per point a forecast pass returns instead of a distribution's parameters
    /// ([`Model::forecast_paths`]).
    pub fn forecast_paths(&self) -> Option<usize> {
        self.model.forecast_paths()
    }

    /// Moves the model's buffers (BatchNorm's running statistics) after a training step whose whole batch ran
    /// through `cache` (see [`Model::update_buffers`]).
    pub fn update_buffers(&mut self, cache: &mut NetworkCache) -> Result<(), NnError> {
        self.model.update_buffers(&mut cache.model)
    }

    pub fn backward(&self, cache: &mut NetworkCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        match &self.head {
            Some(head) => {
                let d_forecast = head.backward(self.model.params(), &mut cache.head, d_output, grads)?;
                self.model.backward(&mut cache.model, d_forecast, grads)
            }
            None => self.model.backward(&mut cache.model, d_output, grads),
        }
    }

}

#[cfg(test)]
#[path = "network_tests.rs"]
mod tests;
