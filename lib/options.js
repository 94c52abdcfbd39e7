'use strict'

/**
 * Throws a TypeError for an options argument that is not an object or holds a key outside `accepted`: a typo such as
 * `{ windows: 3 }` for `nWindows` would otherwise be ignored silently.
 * @param {unknown} options
 * @param {string[]} accepted
 * @param {string} who the function, for the message
 * @returns {object} the options, `{}` when undefined
 */
function checkOptions(options, accepted, who) {
  if (options === undefined) return {}
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${who}: options must be an object, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`)
  }
  for (const key of Object.keys(options)) {
    if (!accepted.includes(key)) throw new TypeError(`${who}: unknown option '${key}'; options: ${accepted.join(', ')}`)
  }
  return options
}

module.exports = { checkOptions }
