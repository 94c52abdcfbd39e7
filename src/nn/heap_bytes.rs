//! How many heap bytes a cache or scratch buffer holds: what a forecaster's `memoryStats` adds up.
//!
//! Caches declare their fields once through [`heap_bytes!`], which destructures the whole struct, so a field
//! added later without being listed fails to compile instead of going uncounted.

/// Heap bytes owned (allocated capacity, not length), excluding the value's own inline size.
pub trait HeapBytes {
    fn heap_bytes(&self) -> usize;
}

macro_rules! plain {
    ($($t:ty),*) => {
        $(impl HeapBytes for $t {
            fn heap_bytes(&self) -> usize {
                0
            }
        })*
    };
}
plain!(f32, f64, usize, u32, u64, bool);

impl<T: HeapBytes> HeapBytes for Vec<T> {
    fn heap_bytes(&self) -> usize {
        self.capacity() * std::mem::size_of::<T>() + self.iter().map(HeapBytes::heap_bytes).sum::<usize>()
    }
}

impl<T: HeapBytes> HeapBytes for Option<T> {
    fn heap_bytes(&self) -> usize {
        self.as_ref().map_or(0, HeapBytes::heap_bytes)
    }
}

/// `heap_bytes!(Type { field, … })` (every field, as the struct declares them): implements [`HeapBytes`] as the
/// sum of the fields'. Generic types: `heap_bytes!(Type<C: Bound> { … })`.
macro_rules! heap_bytes {
    ($ty:ident $(<$param:ident: $bound:path>)? { $($field:ident),* $(,)? }) => {
        impl$(<$param: $bound>)? $crate::nn::heap_bytes::HeapBytes for $ty$(<$param>)? {
            fn heap_bytes(&self) -> usize {
                let $ty { $($field),* } = self;
                0 $(+ $crate::nn::heap_bytes::HeapBytes::heap_bytes($field))*
            }
        }
    };
}
pub(crate) use heap_bytes;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Example {
        rows: usize,
        values: Vec<f32>,
        layers: Vec<Vec<f64>>,
    }
    heap_bytes!(Example { rows, values, layers });

    #[test]
    fn counts_capacity_of_nested_buffers() {
        let mut e = Example { rows: 3, ..Example::default() };
        assert_eq!(e.heap_bytes(), 0);
        e.values.reserve_exact(10);
        e.layers = Vec::with_capacity(2);
        e.layers.push(Vec::with_capacity(4));
        let outer = e.layers.capacity() * std::mem::size_of::<Vec<f64>>();
        assert_eq!(e.heap_bytes(), e.values.capacity() * 4 + outer + e.layers[0].capacity() * 8);
    }
}
