//! What a forecaster keeps between calls (`memoryStats`), and how `memoryPool: false` gives it back after each
//! call that computes.

use super::Engine;
use crate::nn::matmul;

/// Bytes of reusable buffers a forecaster holds between calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// The forecaster's own forecast buffers: each model's input batches and network activations, one set per
    /// thread of a batch forecast.
    pub scratch_bytes: usize,
    /// The packed weights that the threads of the forecaster's thread pool keep for the small layers' products.
    /// The pool is shared by every forecaster with the same `numThreads` and `simdEnabled`, so these bytes are
    /// theirs too. A forecast made on the calling thread keeps such a buffer there, which is not counted (other
    /// forecasters use that thread too) but is freed like the others under `memoryPool: false`.
    pub thread_bytes: usize,
}

impl MemoryStats {
    pub fn total_bytes(&self) -> usize {
        self.scratch_bytes + self.thread_bytes
    }
}

impl Engine {
    /// What the forecaster holds now (training buffers only exist during a fit: they are never kept).
    pub fn memory_stats(&self) -> MemoryStats {
        let scratch_bytes = self.forecast_scratch.iter().map(|slots| slots.heap_bytes()).sum();
        let thread_bytes = self.threads.broadcast(|_| matmul::thread_buffer_bytes()).iter().sum();
        MemoryStats { scratch_bytes, thread_bytes }
    }

    /// Ends a call that computed: under `memoryPool: false`, frees the forecast buffers and the packed weights of
    /// the pool's threads and the calling thread (the next call sizes them again); otherwise keeps them.
    pub(super) fn end_call<T>(&self, result: T) -> T {
        if !self.config.memory_pool {
            self.forecast_scratch.iter().for_each(|slots| slots.release());
            self.threads.broadcast(|_| matmul::release_thread_buffers());
            matmul::release_thread_buffers();
        }
        result
    }
}
