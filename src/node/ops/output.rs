//! The arrays `ops` write their results into: a new typed array, or the caller's `out`, written in place.
//!
//! Both are JS-owned memory that the kernel writes directly, so a call with `out` allocates no array at all,
//! and one without allocates only the array it returns (no Rust-side copy first).

use std::mem::{size_of, size_of_val};
use std::ptr::{self, NonNull};

use napi::bindgen_prelude::{ToNapiValue, TypeName, TypedArrayType, Unknown};
use napi::{check_status, sys, Env, JsValue, ValueType};

use super::super::args::{self, ArgError, ArgResult};
use super::super::arrays;
use super::Pooled;
use crate::kernels::KernelError;

/// An element type of the arrays `ops` returns, with its typed array.
pub(super) trait Element: Pooled {
    const ARRAY: TypedArrayType;
    const ARRAY_NAME: &'static str;
}

impl Element for f64 {
    const ARRAY: TypedArrayType = TypedArrayType::Float64;
    const ARRAY_NAME: &'static str = "Float64Array";
}

impl Element for f32 {
    const ARRAY: TypedArrayType = TypedArrayType::Float32;
    const ARRAY_NAME: &'static str = "Float32Array";
}

/// A typed array an op wrote, handed back to JS as it is: a new one, or the caller's `out` itself.
pub struct Written(sys::napi_value);

impl ToNapiValue for Written {
    unsafe fn to_napi_value(_env: sys::napi_env, written: Self) -> napi::Result<sys::napi_value> {
        Ok(written.0)
    }
}

impl TypeName for Written {
    fn type_name() -> &'static str {
        "TypedArray"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl Written {
    /// Any value napi can make, handed back as written (an array of arrays from `emaBatch`).
    pub fn from_value<V: ToNapiValue>(env: &Env, value: V) -> napi::Result<Self> {
        Ok(Written(unsafe { V::to_napi_value(env.raw(), value) }?))
    }
}

/// The elements of a typed array: the view's first element and its length (dangling when empty).
struct Elements<T> {
    value: sys::napi_value,
    data: NonNull<T>,
    len: usize,
}

/// A new, zeroed typed array of `len` elements in memory the JS engine owns.
fn new_array<T: Element>(env: &Env, len: usize) -> ArgResult<Elements<T>> {
    let (mut data, mut buffer, mut value) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    check_status!(unsafe { sys::napi_create_arraybuffer(env.raw(), len * size_of::<T>(), &mut data, &mut buffer) })?;
    check_status!(unsafe { sys::napi_create_typedarray(env.raw(), T::ARRAY as i32, len, buffer, 0, &mut value) })?;
    Ok(Elements { value, data: NonNull::new(data.cast()).unwrap_or(NonNull::dangling()), len })
}

/// The caller's `out` (named `name` in errors): a typed array of `T` with `len` elements. Reading it runs no
/// JS code, so nothing can detach its buffer between this check and the write.
fn given_array<T: Element>(out: &Unknown<'_>, name: &str, len: usize) -> ArgResult<Elements<T>> {
    let wrong_type = || ArgError::Type(format!("{name} must be a {} here, got {}", T::ARRAY_NAME, args::describe(out)));
    if out.get_type()? != ValueType::Object || !out.is_typedarray()? {
        return Err(wrong_type());
    }
    let raw = out.value();
    let (mut kind, mut length, mut data, mut buffer, mut offset) = (0, 0, ptr::null_mut(), ptr::null_mut(), 0);
    check_status!(unsafe {
        sys::napi_get_typedarray_info(raw.env, raw.value, &mut kind, &mut length, &mut data, &mut buffer, &mut offset)
    })?;
    if TypedArrayType::from(kind) != T::ARRAY {
        return Err(wrong_type());
    }
    let mut unshared = false;
    check_status!(unsafe { sys::napi_is_arraybuffer(raw.env, buffer, &mut unshared) })?;
    if !unshared {
        // Another thread could read or write shared memory while the kernel writes it: a data race.
        return Err(ArgError::Type(format!("{name} must not be backed by a SharedArrayBuffer")));
    }
    if length != len {
        return Err(ArgError::Range(format!("{name} must have {len} elements, got {length}")));
    }
    // A detached buffer reports no data and length 0, which only an empty result accepts.
    Ok(Elements { value: raw.value, data: NonNull::new(data.cast()).unwrap_or(NonNull::dangling()), len })
}

fn overlaps<T>(input: &[T], out: &Elements<T>) -> bool {
    let (start, end) = (input.as_ptr() as usize, input.as_ptr() as usize + size_of_val(input));
    let (out_start, out_end) = (out.data.as_ptr() as usize, out.data.as_ptr() as usize + out.len * size_of::<T>());
    start < out_end && out_start < end
}

/// Runs `kernel` over `inputs` into the op's result of `len` elements and returns the result with what the
/// kernel returned. The result is `out` when given (a typed array of `T` with `len` elements, else a TypeError
/// or RangeError naming `out`), a new array otherwise. An input that shares memory with `out` (an in-place
/// call such as `scale(x, 2, x)`) is first copied into a pooled buffer.
pub fn write<T: Element, R, const N: usize>(
    env: &Env,
    out: Option<&Unknown<'_>>,
    len: usize,
    inputs: [&[T]; N],
    kernel: impl FnOnce([&[T]; N], &mut [T]) -> Result<R, KernelError>,
) -> ArgResult<(Written, R)> {
    let target = match out {
        Some(out) => given_array::<T>(out, "out", len)?,
        None => new_array::<T>(env, len)?,
    };
    let copies: [Option<_>; N] = std::array::from_fn(|i| {
        overlaps(inputs[i], &target).then(|| {
            let mut copy = T::pool().acquire(inputs[i].len());
            copy.copy_from_slice(inputs[i]);
            copy
        })
    });
    let inputs: [&[T]; N] = std::array::from_fn(|i| copies[i].as_deref().unwrap_or(inputs[i]));
    // No input aliases the target now, and no JS code runs until the kernel returns.
    let elements = unsafe { std::slice::from_raw_parts_mut(target.data.as_ptr(), target.len) };
    let result = kernel(inputs, elements)?;
    Ok((Written(target.value), result))
}

/// The caller's `out` of a batched op: an array of typed arrays, its elements read (which may run JavaScript, a
/// getter or a Proxy) before any input is lent, and each checked only once no more JavaScript runs.
pub struct OutArrays<'a> {
    array: sys::napi_value,
    elements: Vec<Unknown<'a>>,
}

impl<'a> OutArrays<'a> {
    pub fn read(out: &Unknown<'a>) -> ArgResult<Self> {
        let elements = arrays::each_element(out, "out", "Float64Array or Float32Array", |element, _| Ok(*element))?;
        Ok(OutArrays { array: out.value().value, elements })
    }
}

/// Copies each of `parts` into its own array: `out`'s i-th array when `out` (one typed array of `T` per part,
/// each of the part's length) is given, else a new array; returns `out` itself or the new arrays.
pub fn write_parts<T: Element>(env: &Env, out: Option<&OutArrays<'_>>, parts: &[&[T]]) -> ArgResult<Written> {
    let Some(out) = out else {
        let arrays = parts.iter().map(|part| {
            let array = new_array::<T>(env, part.len())?;
            unsafe { ptr::copy_nonoverlapping(part.as_ptr(), array.data.as_ptr(), part.len()) };
            Ok(array.value)
        });
        return Ok(Written::from_value(env, arrays.collect::<ArgResult<Vec<_>>>()?)?);
    };
    if out.elements.len() != parts.len() {
        return Err(ArgError::Range(format!("out must hold {} arrays (one per series), got {}", parts.len(), out.elements.len())));
    }
    // Checking a typed array runs no JavaScript, so no buffer checked here can be detached before it is written.
    let targets = out
        .elements
        .iter()
        .zip(parts)
        .enumerate()
        .map(|(i, (array, part))| given_array::<T>(array, &format!("out[{i}]"), part.len()))
        .collect::<ArgResult<Vec<_>>>()?;
    for (target, part) in targets.iter().zip(parts) {
        // `copy` rather than `copy_nonoverlapping`: a part is pooled memory, but two targets may be one array.
        unsafe { ptr::copy(part.as_ptr(), target.data.as_ptr(), part.len()) };
    }
    Ok(Written(out.array))
}
