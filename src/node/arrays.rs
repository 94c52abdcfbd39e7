//! JS arrays and typed arrays read so that JavaScript cannot pull memory out from under the reader.
//!
//! User code can run in the middle of a conversion: a getter, a Proxy trap or an array element's accessor may
//! detach, transfer, resize or rewrite a buffer, or change an array's length. So a typed array's memory is
//! touched at one moment only: [`numbers`] lends it to a caller that reads no other JS value while it holds the
//! loan (ops read their options first, [`numbers_pair`] and [`numbers_list`] their plain arrays first); every
//! other reader copies it at once. Plain arrays are read one element at a time, their length checked again
//! after, and nothing is allocated up front from the length JS claims (a sparse array may claim 2^32 − 1).
//! Views of a SharedArrayBuffer, which another thread may write at any moment, are always copied, with atomic
//! loads.

use std::borrow::Cow;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicU8, Ordering};

use napi::bindgen_prelude::{Array, FromNapiValue, Unknown};
use napi::{sys, JsValue, ValueType};

use super::args::{describe, ArgError, ArgResult, Numbers};

/// An element type of the typed arrays the binding reads.
pub trait Element: Copy + 'static {
    /// napi's code for the typed array of this element type.
    const KIND: i32;

    /// Reads one element of shared memory, which another thread may be writing, without a data race.
    ///
    /// # Safety
    /// `at` points to a live, aligned element.
    unsafe fn load_shared(at: *const Self) -> Self;
}

macro_rules! element {
    ($($t:ty: $kind:ident, $atomic:ty, $from:path;)*) => {$(
        impl Element for $t {
            const KIND: i32 = sys::TypedarrayType::$kind;

            unsafe fn load_shared(at: *const Self) -> Self {
                $from(unsafe { <$atomic>::from_ptr(at as *mut _) }.load(Ordering::Relaxed))
            }
        }
    )*};
}

element! {
    f64: float64_array, AtomicU64, f64::from_bits;
    f32: float32_array, AtomicU32, f32::from_bits;
    u32: uint32_array, AtomicU32, std::convert::identity;
    i32: int32_array, AtomicI32, std::convert::identity;
    u8: uint8_array, AtomicU8, std::convert::identity;
}

/// At most this many elements are reserved before a plain array's elements have been read.
const RESERVED_ELEMENTS: usize = 1 << 16;

const NUMERIC_ARRAY: &str = "a Float64Array, a Float32Array or an array of numbers";

fn checked(status: sys::napi_status, what: &str) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::new(napi::Status::from(status), format!("{what} failed")))
    }
}

/// The kind of typed array `value` is (napi's code), `None` for any other value.
pub fn typed_kind(value: &Unknown<'_>) -> ArgResult<Option<i32>> {
    if value.get_type()? != ValueType::Object || !value.is_typedarray()? {
        return Ok(None);
    }
    Ok(Some(view(value)?.kind))
}

/// Where a typed array's elements are now: napi's answer, valid until JavaScript runs again.
struct View {
    kind: i32,
    data: *const u8,
    len: usize,
    buffer: sys::napi_value,
}

fn view(value: &Unknown<'_>) -> napi::Result<View> {
    let raw = value.value();
    let (mut kind, mut len, mut data, mut buffer, mut offset) = (0, 0, std::ptr::null_mut(), std::ptr::null_mut(), 0);
    checked(
        unsafe { sys::napi_get_typedarray_info(raw.env, raw.value, &mut kind, &mut len, &mut data, &mut buffer, &mut offset) },
        "napi_get_typedarray_info",
    )?;
    Ok(View { kind, data: data as *const u8, len, buffer })
}

/// The elements of typed array `value` (of element type `T`): lent when `lend` and the memory is this thread's
/// alone, copied otherwise. A view of a detached buffer is a TypeError; one too large to copy, a RangeError.
fn typed_elements<'a, T: Element>(value: &Unknown<'a>, name: &str, lend: bool) -> ArgResult<Cow<'a, [T]>> {
    let env = value.value().env;
    let view = view(value)?;
    debug_assert_eq!(view.kind, T::KIND);
    if view.len == 0 {
        let mut detached = false;
        checked(unsafe { sys::napi_is_detached_arraybuffer(env, view.buffer, &mut detached) }, "napi_is_detached_arraybuffer")?;
        if detached {
            return Err(ArgError::Type(format!("{name}'s ArrayBuffer was detached (transferred); pass an array that holds its values")));
        }
        return Ok(Cow::Borrowed(&[]));
    }
    let at = view.data as *const T;
    if !at.is_aligned() {
        // JavaScript's typed arrays are aligned to their element size; anything else is not one of them.
        return Err(ArgError::Type(format!("{name} is not aligned to its element size")));
    }
    let mut unshared = false;
    checked(unsafe { sys::napi_is_arraybuffer(env, view.buffer, &mut unshared) }, "napi_is_arraybuffer")?;
    if unshared && lend {
        return Ok(Cow::Borrowed(unsafe { std::slice::from_raw_parts(at, view.len) }));
    }
    let mut out = Vec::new();
    out.try_reserve_exact(view.len)
        .map_err(|_| ArgError::Range(format!("{name} has {} elements, too many to copy into memory", view.len)))?;
    if unshared {
        out.extend_from_slice(unsafe { std::slice::from_raw_parts(at, view.len) });
    } else {
        out.extend((0..view.len).map(|i| unsafe { T::load_shared(at.add(i)) }));
    }
    Ok(Cow::Owned(out))
}

/// Copies the elements of typed array `value`, which must be of element type `T` (`what` names the accepted
/// arrays in the message otherwise).
pub fn copied<T: Element>(value: &Unknown<'_>, name: &str, what: &str) -> ArgResult<Vec<T>> {
    Ok(of_kind::<T>(value, name, what, false)?.into_owned())
}

/// The elements of typed array `value`, which must be of element type `T`, lent as [`numbers`] lends them: the
/// caller must read no other JS value while it holds the result.
pub fn lent<'a, T: Element>(value: &Unknown<'a>, name: &str, what: &str) -> ArgResult<Cow<'a, [T]>> {
    of_kind(value, name, what, true)
}

fn of_kind<'a, T: Element>(value: &Unknown<'a>, name: &str, what: &str, lend: bool) -> ArgResult<Cow<'a, [T]>> {
    if typed_kind(value)? != Some(T::KIND) {
        return Err(ArgError::Type(format!("{name} must be {what}, got {}", describe(value))));
    }
    typed_elements::<T>(value, name, lend)
}

fn is_array(value: &Unknown<'_>) -> ArgResult<bool> {
    Ok(value.get_type()? == ValueType::Object && value.is_array()?)
}

/// The current length of the JS array `value`.
fn array_length(value: &Unknown<'_>) -> napi::Result<u32> {
    let raw = value.value();
    let mut len = 0;
    checked(unsafe { sys::napi_get_array_length(raw.env, raw.value, &mut len) }, "napi_get_array_length")?;
    Ok(len)
}

fn changed_length(name: &str, before: u32, after: u32) -> ArgError {
    ArgError::Range(format!("{name} changed length from {before} to {after} while it was read (by a getter or Proxy)"))
}

/// Reads the elements of the JS array `value` one at a time with `read` (given the element and its index); `what`
/// describes the elements for the message when `value` is not an array. An array whose length changes while it
/// is read is a RangeError.
pub fn each_element<'a, T>(
    value: &Unknown<'a>,
    name: &str,
    what: &str,
    mut read: impl FnMut(&Unknown<'a>, usize) -> ArgResult<T>,
) -> ArgResult<Vec<T>> {
    if !is_array(value)? {
        return Err(ArgError::Type(format!("{name} must be an array of {what}, got {}", describe(value))));
    }
    let raw = value.value();
    let array = unsafe { Array::from_napi_value(raw.env, raw.value) }?;
    let len = array.len();
    let mut out = Vec::with_capacity((len as usize).min(RESERVED_ELEMENTS));
    for i in 0..len {
        let element: Unknown<'a> = array.get(i)?.ok_or_else(|| changed_length(name, len, i))?;
        if element.get_type()? == ValueType::Undefined {
            let now = array_length(value)?;
            if now != len {
                return Err(changed_length(name, len, now));
            }
        }
        out.push(read(&element, i as usize)?);
    }
    match array_length(value)? {
        now if now != len => Err(changed_length(name, len, now)),
        _ => Ok(out),
    }
}

/// The numbers of the plain JS array `value`.
fn number_elements(value: &Unknown<'_>, name: &str) -> ArgResult<Vec<f64>> {
    each_element(value, name, "numbers", |element, i| {
        if element.get_type()? != ValueType::Number {
            return Err(ArgError::Type(format!("{name}[{i}] must be a number, got {}", describe(element))));
        }
        let raw = element.value();
        Ok(unsafe { f64::from_napi_value(raw.env, raw.value) }?)
    })
}

/// A numeric array read as far as JavaScript can run: a plain array's numbers (copied), or `None` for a
/// Float64Array or Float32Array, whose memory is read later by [`numbers`].
fn copied_if_array(value: &Unknown<'_>, name: &str) -> ArgResult<Option<Numbers<'static>>> {
    match typed_kind(value)? {
        Some(f64::KIND | f32::KIND) => Ok(None),
        None if is_array(value)? => Ok(Some(Numbers::F64(Cow::Owned(number_elements(value, name)?)))),
        _ => Err(ArgError::Type(format!("{name} must be {NUMERIC_ARRAY}, got {}", describe(value)))),
    }
}

/// Reads a Float64Array, Float32Array or array of numbers; a typed array's memory is lent, not copied, so the
/// caller must read no other JS value (property, option, array element) while it holds the result.
pub fn numbers<'a>(value: &Unknown<'a>, name: &str) -> ArgResult<Numbers<'a>> {
    read_numbers(value, name, true)
}

fn read_numbers<'a>(value: &Unknown<'a>, name: &str, lend: bool) -> ArgResult<Numbers<'a>> {
    if let Some(copied) = copied_if_array(value, name)? {
        return Ok(copied);
    }
    match typed_kind(value)? {
        Some(f32::KIND) => Ok(Numbers::F32(typed_elements(value, name, lend)?)),
        _ => Ok(Numbers::F64(typed_elements(value, name, lend)?)),
    }
}

/// Reads a Float64Array, Float32Array or array of numbers into f64 values of its own (nothing lent).
pub fn f64s(value: &Unknown<'_>, name: &str) -> ArgResult<Vec<f64>> {
    Ok(match read_numbers(value, name, false)? {
        Numbers::F64(values) => values.into_owned(),
        Numbers::F32(values) => values.iter().map(|&v| v as f64).collect(),
    })
}

/// Reads two numeric arrays as [`numbers`] does, both plain arrays before either typed array's memory.
pub fn numbers_pair<'a>((a, a_name): (&Unknown<'a>, &str), (b, b_name): (&Unknown<'a>, &str)) -> ArgResult<(Numbers<'a>, Numbers<'a>)> {
    let (a_copied, b_copied) = (copied_if_array(a, a_name)?, copied_if_array(b, b_name)?);
    let a = match a_copied {
        Some(copied) => copied,
        None => numbers(a, a_name)?,
    };
    let b = match b_copied {
        Some(copied) => copied,
        None => numbers(b, b_name)?,
    };
    Ok((a, b))
}

/// Reads an array of numeric arrays as [`numbers`] does, every plain array before any typed array's memory.
pub fn numbers_list<'a>(value: &Unknown<'a>, name: &str) -> ArgResult<Vec<Numbers<'a>>> {
    let items = each_element(value, name, "numeric arrays", |item, _| Ok(*item))?;
    let copied = items.iter().enumerate().map(|(i, item)| copied_if_array(item, &format!("{name}[{i}]"))).collect::<ArgResult<Vec<_>>>()?;
    items
        .iter()
        .zip(copied)
        .enumerate()
        .map(|(i, (item, copied))| match copied {
            Some(copied) => Ok(copied),
            None => numbers(item, &format!("{name}[{i}]")),
        })
        .collect()
}
