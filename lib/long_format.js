'use strict'
// Long-format data as the library accepts it (columns, rows, or one bare series) brought to one shape:
// `{ unique_id: string[], ds: Array<string|number|Date>, y: number[] | Float64Array }`, plus the row indices of
// each series in order. Shared by cross-validation, evaluation and the plot.

const DEFAULT_ID = 'series'

/** A bare series: a typed array, or an array whose first element is a number (as the native reader decides). */
function isNumericArray(x) {
  return ArrayBuffer.isView(x) || (Array.isArray(x) && typeof x[0] === 'number')
}

/**
 * The values of a column (an array or typed array) copied into an Array, element by element: the copy fails with a
 * TypeError at the first missing element (or, with `numeric`, the first non-number), and with a RangeError when a
 * getter changes the column's length meanwhile. So a sparse array claiming 2^32 − 1 elements fails at its first
 * hole instead of filling memory, and what follows reads these values whatever getters do.
 * @param {unknown} values
 * @param {string} name the column in messages, e.g. 'evaluate: y'
 * @param {boolean} [numeric] whether every value must be a number (NaN included)
 */
function columnValues(values, name, numeric = false) {
  if (!Array.isArray(values) && !ArrayBuffer.isView(values)) {
    throw new TypeError(`${name} must be an array, got ${values === null ? 'null' : typeof values}`)
  }
  const n = values.length
  const out = []
  for (let i = 0; i < n; i++) {
    const value = values[i]
    if (numeric ? typeof value !== 'number' : value === undefined) {
      if (values.length !== n) throw new RangeError(`${name} changed length from ${n} to ${values.length} while it was read`)
      throw new TypeError(`${name}[${i}] must be ${numeric ? 'a number' : 'present'}, got ${value === null ? 'null' : typeof value}`)
    }
    out.push(value)
  }
  if (values.length !== n) throw new RangeError(`${name} changed length from ${n} to ${values.length} while it was read`)
  return out
}

/**
 * @param {unknown} data columns `{ unique_id?, ds?, y }`, rows `[{ unique_id, ds, y }]` or numbers
 * @param {string} [who] the caller's name for error messages
 */
function toColumns(data, who = 'data') {
  if (data === null || typeof data !== 'object') {
    throw new TypeError(`${who}: expected long-format columns { unique_id, ds, y }, rows or an array of numbers, got ${data === null ? 'null' : typeof data}`)
  }
  if (isNumericArray(data)) {
    const y = columnValues(data, who, true)
    return { unique_id: y.map(() => DEFAULT_ID), ds: y.map((_, i) => i), y }
  }
  if (Array.isArray(data)) {
    const rows = columnValues(data, who)
    const uniqueId = []
    const ds = []
    const y = []
    const perSeries = new Map()
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r]
      if (row === null || typeof row !== 'object') throw new TypeError(`${who}: row ${r} is not an object`)
      const id = row.unique_id === undefined ? DEFAULT_ID : String(row.unique_id)
      uniqueId.push(id)
      const k = perSeries.get(id) ?? 0
      perSeries.set(id, k + 1)
      ds.push(row.ds === undefined ? k : row.ds)
      y.push(row.y)
    }
    return { unique_id: uniqueId, ds, y: Float64Array.from(y) }
  }
  // Each column is read once and copied at once: a getter could change one between two reads.
  const target = data.y
  if (!target) throw new TypeError(`${who}: columns need a y column`)
  const y = columnValues(target, `${who}: y`, true)
  const n = y.length
  const column = (key) => {
    const given = data[key]
    if (given === undefined) return undefined
    const values = columnValues(given, `${who}: ${key}`)
    if (values.length !== n) throw new RangeError(`${who}: ${key} has ${values.length} values, y has ${n}`)
    return values
  }
  const givenIds = column('unique_id')
  const givenDs = column('ds')
  const uniqueId = givenIds === undefined ? y.map(() => DEFAULT_ID) : givenIds.map(String)
  let ds
  if (givenDs !== undefined) ds = givenDs
  else {
    const perSeries = new Map()
    ds = uniqueId.map((id) => {
      const k = perSeries.get(id) ?? 0
      perSeries.set(id, k + 1)
      return k
    })
  }
  return { unique_id: uniqueId, ds, y }
}

/** Row indices of each series, series in order of first appearance, rows in data order. */
function groupSeries(uniqueId) {
  const groups = new Map()
  for (let r = 0; r < uniqueId.length; r++) {
    const id = String(uniqueId[r])
    let rows = groups.get(id)
    if (!rows) groups.set(id, (rows = []))
    rows.push(r)
  }
  return groups
}

const pad = (n, w = 2) => String(n).padStart(w, '0')

/** A ds value as the library prints it: integers as numbers, dates as `YYYY-MM-DD[ HH:MM:SS]`. */
function formatDs(ds) {
  if (ds instanceof Date) {
    const date = `${ds.getUTCFullYear()}-${pad(ds.getUTCMonth() + 1)}-${pad(ds.getUTCDate())}`
    const h = ds.getUTCHours()
    const m = ds.getUTCMinutes()
    const s = ds.getUTCSeconds()
    return h || m || s ? `${date} ${pad(h)}:${pad(m)}:${pad(s)}` : date
  }
  return ds
}

/**
 * A ds value as a number for axes and ordering: milliseconds since the epoch (UTC) for dates, the integer for
 * integer steps; NaN when it is neither.
 */
function dsToNumber(ds) {
  if (typeof ds === 'number') return ds
  if (ds instanceof Date) return ds.getTime()
  if (typeof ds !== 'string') return NaN
  const s = ds.trim()
  if (/^[+-]?\d+$/.test(s)) return Number(s)
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?Z?$/.exec(s)
  if (!m) return NaN
  const ms = m[7] ? Number(`0.${m[7]}`) * 1000 : 0
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0), ms)
}

module.exports = { DEFAULT_ID, columnValues, toColumns, groupSeries, formatDs, dsToNumber }
