//! Hands the memory a finished trial freed back to the system. A search runs trials of different sizes one after
//! another on the same threads; glibc's malloc keeps what an earlier trial freed resident (in holes of its arenas
//! that later, differently sized buffers do not fill), so without this a search's resident memory grows past what
//! it holds, and past its largest trial's alone.

/// Returns the free pages of every malloc arena to the system (glibc's `malloc_trim`); elsewhere nothing.
pub(super) fn release() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim takes no pointers; it works on the allocator's own state under the arenas' locks.
        unsafe {
            malloc_trim(0);
        }
    }
}
