'use strict'
// Long-format data as the library accepts it (columns, rows, or one bare series) brought to one shape:
// `{ unique_id: string[], ds: Array<string|number|Date>, y: number[] | Float64Array }`, plus the row indices of
// each series in order. Shared by cross-validation, evaluation and the plot.

const DEFAULT_ID = 'series'

function isNumericArray(x) {
  return ArrayBuffer.isView(x) || (Array.isArray(x) && x.every((v) => typeof v === 'number'))
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
    const n = data.length
    return { unique_id: new Array(n).fill(DEFAULT_ID), ds: Array.from({ length: n }, (_, i) => i), y: data }
  }
  if (Array.isArray(data)) {
    const n = data.length
    const uniqueId = new Array(n)
    const ds = new Array(n)
    const y = new Float64Array(n)
    const perSeries = new Map()
    for (let r = 0; r < n; r++) {
      const row = data[r]
      if (row === null || typeof row !== 'object') throw new TypeError(`${who}: row ${r} is not an object`)
      const id = row.unique_id === undefined ? DEFAULT_ID : String(row.unique_id)
      uniqueId[r] = id
      const k = perSeries.get(id) ?? 0
      perSeries.set(id, k + 1)
      ds[r] = row.ds === undefined ? k : row.ds
      y[r] = row.y
    }
    return { unique_id: uniqueId, ds, y }
  }
  const { y } = data
  if (!y || typeof y.length !== 'number') throw new TypeError(`${who}: columns need a y column`)
  const n = y.length
  if (data.unique_id !== undefined && data.unique_id.length !== n) {
    throw new RangeError(`${who}: unique_id has ${data.unique_id.length} values, y has ${n}`)
  }
  if (data.ds !== undefined && data.ds.length !== n) throw new RangeError(`${who}: ds has ${data.ds.length} values, y has ${n}`)
  const uniqueId = data.unique_id === undefined ? new Array(n).fill(DEFAULT_ID) : Array.from(data.unique_id, String)
  let ds
  if (data.ds !== undefined) ds = Array.from(data.ds)
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

module.exports = { DEFAULT_ID, toColumns, groupSeries, formatDs, dsToNumber }
