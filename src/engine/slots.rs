//! Reused buffers for work split across the thread pool.

use std::sync::{Mutex, MutexGuard, TryLockError};

use crate::nn::heap_bytes::HeapBytes;

/// One value per thread (buffers that only grow). Part `k` of `n` takes slot `k * slots / n`, the contiguous run of
/// parts rayon's splitting hands each thread, or a free one when another thread holds it; a slot is only ever passed
/// over while in use, so every slot is sized by the first call whatever the scheduling, and later calls of the same
/// shape allocate nothing. Callers rewrite a slot's contents on every use, so which slot a part gets does not change
/// any result.
pub(crate) struct Slots<T>(Vec<Mutex<T>>);

impl<T: Default> Slots<T> {
    /// `count` slots (at least one).
    pub fn new(count: usize) -> Slots<T> {
        Slots((0..count.max(1)).map(|_| Mutex::default()).collect())
    }

    /// The slot of part `part` of `parts`; when another thread holds it (a thread that finished its own run of
    /// parts steals from another's), any free slot instead, so stolen parts run at once rather than waiting.
    pub fn lock(&self, part: usize, parts: usize) -> MutexGuard<'_, T> {
        let preferred = (part * self.0.len() / parts.max(1)).min(self.0.len() - 1);
        for slot in (preferred..self.0.len()).chain(0..preferred) {
            match self.0[slot].try_lock() {
                Ok(guard) => return guard,
                Err(TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.0[preferred].lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<T: Default + HeapBytes> Slots<T> {
    /// Heap bytes the slots hold.
    pub fn heap_bytes(&self) -> usize {
        self.0.iter().map(|slot| slot.lock().unwrap_or_else(|p| p.into_inner()).heap_bytes()).sum()
    }

    /// Frees what the slots hold (the next use sizes them again).
    pub fn release(&self) {
        for slot in &self.0 {
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = T::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_map_onto_contiguous_runs_of_slots() {
        let slots: Slots<Vec<usize>> = Slots::new(2);
        for part in 0..5 {
            slots.lock(part, 5).push(part);
        }
        assert_eq!(*slots.lock(0, 1), [0, 1, 2]);
        assert_eq!(*slots.lock(4, 5), [3, 4]);
        assert_eq!(*Slots::<Vec<usize>>::new(0).lock(3, 2), Vec::<usize>::new(), "at least one slot, indices clamped");
        let held = slots.lock(4, 5);
        assert_eq!(*slots.lock(4, 5), [0, 1, 2], "a held slot passes the part to a free one");
        drop(held);
    }

    #[test]
    fn release_frees_every_slot() {
        let slots: Slots<Vec<f32>> = Slots::new(2);
        slots.lock(0, 2).reserve_exact(8);
        slots.lock(1, 2).reserve_exact(4);
        assert!(slots.heap_bytes() >= 12 * 4);
        slots.release();
        assert_eq!(slots.heap_bytes(), 0);
    }
}
