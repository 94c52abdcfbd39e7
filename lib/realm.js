'use strict'
// Values made by native code re-created in the caller's JavaScript realm.
//
// Values made by native code belong to the realm the addon was first loaded in. Code running in another realm
// (Jest runs every test file in its own vm context) would then see `err instanceof TypeError` and
// `out instanceof Float64Array` fail, and Jest's `toThrow(RangeError)` and `toBeInstanceOf(Float64Array)` with
// them. This module is evaluated in the caller's realm, so what it re-creates carries the caller's classes
// (typed arrays as zero-copy views of the same memory); in the ordinary single-realm case values pass through
// untouched.

const ERROR_CLASSES = { Error, TypeError, RangeError, SyntaxError }

function errorInThisRealm(err) {
  if (err instanceof Error || err === null || typeof err !== 'object') return err
  const ErrorClass = ERROR_CLASSES[err.name] || Error
  const local = new ErrorClass(err.message, { cause: err.cause })
  if (err.code !== undefined) local.code = err.code
  return local
}

/** A foreign-realm result as the same value in this realm: typed arrays, arrays and plain objects. */
function inThisRealm(value) {
  if (value === null || typeof value !== 'object' || value instanceof Object) return value
  if (ArrayBuffer.isView(value)) {
    const TypedArray = globalThis[value.constructor.name]
    return new TypedArray(value.buffer, value.byteOffset, value.length)
  }
  if (Array.isArray(value)) return Array.from(value, inThisRealm)
  if (Object.getPrototypeOf(Object.getPrototypeOf(value)) !== null) return value // a class instance
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, inThisRealm(v)]))
}

/** Calls native code, re-creating a thrown error in this realm. */
function callNative(fn) {
  try {
    return inThisRealm(fn())
  } catch (err) {
    throw errorInThisRealm(err)
  }
}

/** Awaits a native Promise, re-creating its value or rejection in this realm. */
async function awaitNative(promise) {
  try {
    return inThisRealm(await promise)
  } catch (err) {
    throw errorInThisRealm(err)
  }
}

module.exports = { errorInThisRealm, inThisRealm, callNative, awaitNative }
