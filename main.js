'use strict'
// The package entry point: the addon as loaded by the generated `index.js`, with its errors and results
// re-created in the caller's JavaScript realm.
//
// Values made by native code belong to the realm the addon was first loaded in. Code running in another realm
// (Jest runs every test file in its own vm context) would then see `err instanceof TypeError` and
// `out instanceof Float64Array` fail, and Jest's `toThrow(RangeError)` and `toBeInstanceOf(Float64Array)` with
// them. This module is evaluated in the caller's realm, so what it re-creates carries the caller's classes
// (typed arrays as zero-copy views of the same memory); in the ordinary single-realm case values pass through
// untouched.

const native = require('./index.js')

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

function wrapFunction(fn) {
  return function (...args) {
    let result
    try {
      result = fn.apply(this, args)
    } catch (err) {
      throw errorInThisRealm(err)
    }
    return result && typeof result.then === 'function'
      ? result.then(inThisRealm, (err) => Promise.reject(errorInThisRealm(err)))
      : inThisRealm(result)
  }
}

function wrapNamespace(namespace) {
  const wrapped = {}
  for (const [name, value] of Object.entries(namespace)) {
    wrapped[name] = typeof value === 'function' ? wrapFunction(value) : value
  }
  return Object.freeze(wrapped)
}

module.exports = {
  ...native,
  ops: wrapNamespace(native.ops),
}
