//! Reused buffers for work split across the thread pool.

use std::sync::{Mutex, MutexGuard};

/// One value per thread (buffers that only grow). Part `k` of `n` always takes slot `k * slots / n`, the contiguous
/// run of parts rayon's splitting hands each thread, so every slot is sized by the first call whatever the
/// scheduling, and later calls of the same shape allocate nothing. Callers rewrite a slot's contents on every
/// use, so which slot a part gets does not change any result.
pub(crate) struct Slots<T>(Vec<Mutex<T>>);

impl<T: Default> Slots<T> {
    /// `count` slots (at least one).
    pub fn new(count: usize) -> Slots<T> {
        Slots((0..count.max(1)).map(|_| Mutex::default()).collect())
    }

    /// The slot of part `part` of `parts`.
    pub fn lock(&self, part: usize, parts: usize) -> MutexGuard<'_, T> {
        let slot = (part * self.0.len() / parts.max(1)).min(self.0.len() - 1);
        self.0[slot].lock().unwrap_or_else(|p| p.into_inner())
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
    }
}
