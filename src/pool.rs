//! A bounded pool of reusable buffers, in power-of-two size classes: the temporaries of `ops`' batched calls
//! (`ops.poolStats()` reports it).
//!
//! A batched `ops` call leases its working buffers here instead of from the allocator, so repeated calls of
//! similar sizes reuse them. A buffer is leased through [`PooledBuffer`], an RAII guard that hands it back on
//! drop. (A forecaster does not use this pool: its training and forecast buffers are its own, reused per
//! thread, and its `memoryPool` option decides whether they outlive a call.)
//!
//! The pool is `Sync`: rayon workers lease and return buffers concurrently (one short mutex per size class).
//! It is bounded: idle buffers beyond `max_idle_bytes` are freed rather than kept, so a burst of large
//! requests does not pin memory for the life of the process.

use std::mem::size_of;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Smallest size class, in elements: smaller requests share it, so tiny buffers do not fragment the pool.
const MIN_CLASS_SHIFT: u32 = 6;
/// One class per power of two up to 2^(MIN_CLASS_SHIFT + CLASS_COUNT - 1) elements; larger requests
/// bypass the pool (allocated and freed directly, counted as misses).
const CLASS_COUNT: usize = 32;

/// Default bound on idle bytes kept for reuse.
pub const DEFAULT_MAX_IDLE_BYTES: usize = 256 << 20;

/// How a pool behaves: `enabled: false` turns every lease into a fresh allocation, the baseline the memory
/// benchmarks compare against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    pub enabled: bool,
    pub max_idle_bytes: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig { enabled: true, max_idle_bytes: DEFAULT_MAX_IDLE_BYTES }
    }
}

/// A snapshot of a pool's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Leases served from an idle buffer.
    pub hits: u64,
    /// Leases that had to allocate.
    pub misses: u64,
    /// Returned buffers freed because keeping them would exceed the idle bound.
    pub evictions: u64,
    /// Bytes currently leased out.
    pub bytes_in_use: usize,
    /// Bytes held idle for reuse.
    pub bytes_idle: usize,
    /// Highest value reached by `bytes_in_use + bytes_idle`.
    pub high_water_bytes: usize,
    /// The idle bound.
    pub max_idle_bytes: usize,
}

pub struct MemoryPool<T> {
    config: PoolConfig,
    classes: Vec<Mutex<Vec<Vec<T>>>>,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
    bytes_in_use: AtomicUsize,
    bytes_idle: AtomicUsize,
    high_water_bytes: AtomicUsize,
}

impl<T: Copy + Default> MemoryPool<T> {
    pub fn new(config: PoolConfig) -> Self {
        MemoryPool {
            config,
            classes: (0..CLASS_COUNT).map(|_| Mutex::new(Vec::new())).collect(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            bytes_in_use: AtomicUsize::new(0),
            bytes_idle: AtomicUsize::new(0),
            high_water_bytes: AtomicUsize::new(0),
        }
    }

    /// Leases a buffer of `len` elements, all set to `T::default()` (zero for numbers).
    pub fn acquire(&self, len: usize) -> PooledBuffer<'_, T> {
        let mut buf = self.take_idle(len).unwrap_or_else(|| {
            self.misses.fetch_add(1, Ordering::Relaxed);
            Vec::with_capacity(class_of(len).map_or(len, class_capacity))
        });
        buf.resize(len, T::default());
        self.add_in_use(bytes_of(&buf));
        PooledBuffer { pool: self, buf }
    }

    pub fn stats(&self) -> PoolStats {
        PoolStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            bytes_in_use: self.bytes_in_use.load(Ordering::Relaxed),
            bytes_idle: self.bytes_idle.load(Ordering::Relaxed),
            high_water_bytes: self.high_water_bytes.load(Ordering::Relaxed),
            max_idle_bytes: self.config.max_idle_bytes,
        }
    }

    fn take_idle(&self, len: usize) -> Option<Vec<T>> {
        if !self.config.enabled {
            return None;
        }
        let buf = lock(self.classes.get(class_of(len)?)?).pop()?;
        self.bytes_idle.fetch_sub(bytes_of(&buf), Ordering::Relaxed);
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(buf)
    }

    fn release(&self, mut buf: Vec<T>) {
        let bytes = bytes_of(&buf);
        self.bytes_in_use.fetch_sub(bytes, Ordering::Relaxed);
        let class = class_of(buf.capacity()).filter(|&c| class_capacity(c) == buf.capacity());
        let keep = self.config.enabled && class.is_some() && self.reserve_idle(bytes);
        match class {
            Some(c) if keep => {
                buf.clear();
                lock(&self.classes[c]).push(buf);
            }
            _ => {
                if self.config.enabled {
                    self.evictions.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Claims `bytes` of the idle budget; false when that would exceed the bound.
    fn reserve_idle(&self, bytes: usize) -> bool {
        self.bytes_idle
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |idle| {
                let total = idle.checked_add(bytes)?;
                (total <= self.config.max_idle_bytes).then_some(total)
            })
            .is_ok()
    }

    fn add_in_use(&self, bytes: usize) {
        let in_use = self.bytes_in_use.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let footprint = in_use + self.bytes_idle.load(Ordering::Relaxed);
        self.high_water_bytes.fetch_max(footprint, Ordering::Relaxed);
    }
}

impl<T: Copy + Default> Default for MemoryPool<T> {
    fn default() -> Self {
        MemoryPool::new(PoolConfig::default())
    }
}

/// A leased buffer; derefs to a slice of the requested length and returns to its pool on drop.
pub struct PooledBuffer<'a, T: Copy + Default> {
    pool: &'a MemoryPool<T>,
    buf: Vec<T>,
}

impl<T: Copy + Default> Deref for PooledBuffer<'_, T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.buf
    }
}

impl<T: Copy + Default> DerefMut for PooledBuffer<'_, T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.buf
    }
}

impl<T: Copy + Default> Drop for PooledBuffer<'_, T> {
    fn drop(&mut self) {
        if self.buf.capacity() > 0 {
            self.pool.release(std::mem::take(&mut self.buf));
        }
    }
}

/// The size class whose capacity fits `len` elements, or `None` when `len` is beyond the largest class.
fn class_of(len: usize) -> Option<usize> {
    let shift = len.max(1).checked_next_power_of_two()?.trailing_zeros().max(MIN_CLASS_SHIFT);
    let class = (shift - MIN_CLASS_SHIFT) as usize;
    (class < CLASS_COUNT).then_some(class)
}

fn class_capacity(class: usize) -> usize {
    1 << (class as u32 + MIN_CLASS_SHIFT)
}

fn bytes_of<T>(buf: &Vec<T>) -> usize {
    buf.capacity() * size_of::<T>()
}

/// The lists hold plain buffers, valid whatever a panicking holder was doing, so a poisoned lock is used as is.
fn lock<V>(m: &Mutex<V>) -> MutexGuard<'_, V> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[test]
    fn second_lease_of_a_class_reuses_the_buffer() {
        let pool = MemoryPool::<f32>::default();
        let first_ptr = {
            let b = pool.acquire(100);
            assert_eq!(b.len(), 100);
            b.as_ptr()
        };
        let b = pool.acquire(120); // same class (128)
        assert_eq!(b.as_ptr(), first_ptr);
        let s = pool.stats();
        assert_eq!((s.hits, s.misses), (1, 1));
        assert_eq!(s.bytes_in_use, 128 * 4);
        assert_eq!(s.bytes_idle, 0);
        assert_eq!(s.high_water_bytes, 128 * 4);
    }

    #[test]
    fn leased_buffers_are_zeroed_even_when_reused() {
        let pool = MemoryPool::<f64>::default();
        pool.acquire(10).fill(7.0);
        assert!(pool.acquire(10).iter().all(|&x| x == 0.0));
    }

    #[test]
    fn idle_bytes_stay_within_the_bound() {
        let pool = MemoryPool::<f64>::new(PoolConfig { enabled: true, max_idle_bytes: 1024 * 8 });
        let leases: Vec<_> = (0..4).map(|_| pool.acquire(1000)).collect(); // 1024 elements each
        drop(leases);
        let s = pool.stats();
        assert_eq!(s.bytes_idle, 1024 * 8);
        assert_eq!(s.evictions, 3);
        assert_eq!(s.bytes_in_use, 0);
        assert_eq!(s.high_water_bytes, 4 * 1024 * 8);
    }

    #[test]
    fn disabled_pool_always_allocates() {
        let pool = MemoryPool::<f32>::new(PoolConfig { enabled: false, max_idle_bytes: 1 << 20 });
        drop(pool.acquire(10));
        drop(pool.acquire(10));
        let s = pool.stats();
        assert_eq!((s.hits, s.misses, s.bytes_idle), (0, 2, 0));
    }

    #[test]
    fn zero_length_and_huge_classes_do_not_panic() {
        let pool = MemoryPool::<u8>::default();
        assert!(pool.acquire(0).is_empty());
        assert_eq!(class_of(usize::MAX), None);
        assert_eq!(class_of(0), Some(0));
        assert_eq!(class_of(65), Some(1));
    }

    #[test]
    fn concurrent_leases_under_rayon_balance_out() {
        let pool = MemoryPool::<f64>::default();
        (0..10_000usize).into_par_iter().for_each(|i| {
            let mut b = pool.acquire(1 + i % 3000);
            b[0] = i as f64;
            assert_eq!(b[0], i as f64);
        });
        let s = pool.stats();
        assert_eq!(s.bytes_in_use, 0);
        assert_eq!(s.hits + s.misses, 10_000);
        assert!(s.hits > s.misses, "reuse should dominate: {s:?}");
    }
}
