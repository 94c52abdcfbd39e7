//! The trainable network behind a `ModelSpec`, whatever its architecture: any [`Model`] behind one object-safe
//! interface, with a cache that each thread keeps and the network fills with its own cache type.

use std::any::Any;

use crate::models::{Model, WindowBatch};
use crate::nn::heap_bytes::HeapBytes;
use crate::nn::{NnError, ParamStore};

/// [`Model`] without its associated cache type, so that networks of different models live in one list.
trait AnyModel: Send + Sync + std::fmt::Debug {
    fn params(&self) -> &ParamStore;
    fn params_mut(&mut self) -> &mut ParamStore;
    fn forward<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut NetworkCache) -> Result<&'c [f32], NnError>;
    fn backward(&self, cache: &mut NetworkCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError>;
    fn clone_box(&self) -> Box<dyn AnyModel>;
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

/// A thread's activations and scratch buffers for whichever network it last ran.
#[derive(Default)]
pub struct NetworkCache(Option<Box<dyn AnyCache>>);

impl NetworkCache {
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
        self.0.as_ref().map_or(0, |c| c.heap_bytes())
    }
}

impl<M: Model> AnyModel for M {
    fn params(&self) -> &ParamStore {
        Model::params(self)
    }

    fn params_mut(&mut self) -> &mut ParamStore {
        Model::params_mut(self)
    }

    fn forward<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut NetworkCache) -> Result<&'c [f32], NnError> {
        Model::forward(self, batch, cache.get::<M::Cache>())
    }

    fn backward(&self, cache: &mut NetworkCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        Model::backward(self, cache.existing::<M::Cache>()?, d_output, grads)
    }

    fn clone_box(&self) -> Box<dyn AnyModel> {
        Box::new(self.clone())
    }
}

#[derive(Debug)]
pub struct Network(Box<dyn AnyModel>);

impl Clone for Network {
    fn clone(&self) -> Self {
        Network(self.0.clone_box())
    }
}

impl Network {
    pub fn new(model: impl Model) -> Network {
        Network(Box::new(model))
    }

    pub fn params(&self) -> &ParamStore {
        self.0.params()
    }

    pub fn params_mut(&mut self) -> &mut ParamStore {
        self.0.params_mut()
    }

    /// `[B, h, outputs_per_point]` forecasts (normalised space) of `batch`.
    pub fn forward<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut NetworkCache) -> Result<&'c [f32], NnError> {
        self.0.forward(batch, cache)
    }

    pub fn backward(&self, cache: &mut NetworkCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        self.0.backward(cache, d_output, grads)
    }
}
