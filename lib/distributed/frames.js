'use strict'
// The compact form in which chunks of series travel through Redis: one Buffer per chunk holding a small JSON
// header (series labels, rows per series, column names) and the columns as raw little-endian Float64 values,
// never one JSON object per row. Date ds travel as one newline-joined UTF-8 block.

const { load } = require('../load.js')
const { callNative } = require('../realm.js')

const ALIGN = 8

/**
 * Long-format columns (`unique_id`, `ds`, `y` and numeric exogenous columns) grouped into series in order of
 * first appearance (the order `predict` returns them in): `{ labels, counts, rows }`, `rows` the row indices
 * series after series (within a series in the given order), or null when the rows already are.
 */
function groupRows(data, what) {
  if (data === null || typeof data !== 'object' || Array.isArray(data) || ArrayBuffer.isView(data)) {
    throw new TypeError(`${what}: data must be long-format columns { unique_id, ds, y, … }`)
  }
  const prototype = Object.getPrototypeOf(data)
  if (prototype !== Object.prototype && prototype !== null) {
    throw new TypeError(`${what}: data must be plain long-format columns { unique_id, ds, y, … } (a Dataset cannot be split into chunks)`)
  }
  const { unique_id: ids, y } = data
  if (!ids || typeof ids.length !== 'number') throw new TypeError(`${what}: data.unique_id must be an array of series ids`)
  if (!y || typeof y.length !== 'number') throw new TypeError(`${what}: data.y must be an array of numbers`)
  if (ids.length !== y.length) throw new RangeError(`${what}: data.unique_id has ${ids.length} rows but data.y has ${y.length}`)
  const labelOf = ArrayBuffer.isView(ids)
    ? (i) => {
        if (!Array.isArray(data.labels)) throw new TypeError(`${what}: integer data.unique_id codes need data.labels`)
        return String(data.labels[ids[i]])
      }
    : (i) => String(ids[i])
  // The usual layout, each series' rows together, needs no row index.
  const runLabels = []
  const runCounts = []
  const lengths = nativeRunLengths(ids)
  if (lengths !== null) {
    for (let r = 0, start = 0; r < lengths.length; start += lengths[r++]) {
      runLabels.push(labelOf(start))
      runCounts.push(lengths[r])
    }
  } else {
    for (let i = 1, start = 0; i <= ids.length; i++) {
      if (i < ids.length && ids[i] === ids[i - 1]) continue
      runLabels.push(labelOf(start))
      runCounts.push(i - start)
      start = i
    }
  }
  if (new Set(runLabels).size === runLabels.length) return { labels: runLabels, counts: runCounts, rows: null }
  const series = new Map()
  for (let i = 0; i < ids.length; i++) {
    const label = labelOf(i)
    let rows = series.get(label)
    if (rows === undefined) series.set(label, (rows = []))
    rows.push(i)
  }
  const labels = [...series.keys()]
  const counts = labels.map((label) => series.get(label).length)
  const rows = new Uint32Array(ids.length)
  let at = 0
  for (const list of series.values()) for (const i of list) rows[at++] = i
  return { labels, counts, rows }
}

const RUN_KINDS = new Set(['Uint32Array', 'Int32Array', 'Float64Array'])

/** The lengths of the runs of equal ids, from the addon (src/data/runs.rs) for non-empty typed ids it reads, else null. */
function nativeRunLengths(ids) {
  if (!ArrayBuffer.isView(ids) || !RUN_KINDS.has(ids[Symbol.toStringTag]) || ids.length === 0) return null
  return callNative(() => load().runLengths(ids))
}

/**
 * The numeric columns of `data` besides unique_id and ds (y first), with a check that each is numeric and that
 * they and ds have a value per row, as the local call checks.
 */
function numericColumns(data, what) {
  const names = Object.keys(data).filter((name) => name !== 'unique_id' && name !== 'ds' && name !== 'labels')
  const rows = data.unique_id.length
  for (const name of names) {
    const column = data[name]
    if (!ArrayBuffer.isView(column) && !(Array.isArray(column) && column.every((v) => typeof v === 'number' || v === null))) {
      throw new TypeError(`${what}: data.${name} must be numbers (a Float64Array or an array of numbers)`)
    }
  }
  for (const name of ['ds', ...names]) {
    if (data[name] !== undefined && data[name].length !== rows) throw new RangeError(`${what}: data.unique_id has ${rows} rows but data.${name} has ${data[name].length}`)
  }
  return ['y', ...names.filter((name) => name !== 'y')]
}

/** Packs a header and Float64 columns (and an optional text block) into one Buffer. */
function encode(header, columns, text) {
  const { out, dataStart } = encodeHead(header, text, columns.reduce((bytes, c) => bytes + c.length * 8, 0))
  let at = dataStart
  for (const column of columns) {
    new Float64Array(out.buffer, out.byteOffset + at, column.length).set(column)
    at += column.length * 8
  }
  return out
}

/**
 * A Buffer of `encode`'s layout with the header and text written and `columnBytes` zero bytes left for the
 * columns, from `dataStart` (the first multiple of 8 after the text) on.
 */
function encodeHead(header, text, columnBytes) {
  const textBytes = text === undefined ? Buffer.alloc(0) : Buffer.from(text, 'utf8')
  const json = Buffer.from(JSON.stringify({ ...header, textBytes: textBytes.length }), 'utf8')
  const headerEnd = 4 + json.length
  const dataStart = Math.ceil((headerEnd + textBytes.length) / ALIGN) * ALIGN
  const out = Buffer.alloc(dataStart + columnBytes)
  out.writeUInt32LE(json.length, 0)
  json.copy(out, 4)
  textBytes.copy(out, headerEnd)
  return { out, dataStart }
}

/** `{ header, text, column(k, length) }` of a Buffer made by `encode`. */
function decode(buffer) {
  const jsonLength = buffer.readUInt32LE(0)
  const header = JSON.parse(buffer.toString('utf8', 4, 4 + jsonLength))
  const textStart = 4 + jsonLength
  const text = buffer.toString('utf8', textStart, textStart + header.textBytes)
  const dataStart = Math.ceil((textStart + header.textBytes) / ALIGN) * ALIGN
  // A Buffer from Redis need not be 8-byte aligned in its ArrayBuffer: the columns are then copied out first.
  let data = buffer.subarray(dataStart)
  if (data.byteOffset % ALIGN !== 0) data = new Uint8Array(data)
  let at = data.byteOffset
  return {
    header,
    text,
    nextColumn(length) {
      const column = new Float64Array(data.buffer, at, length)
      at += length * 8
      return column
    },
  }
}

function dsBlock(values, what) {
  if (values === undefined) return { kind: 'none' }
  const first = values[0]
  if (ArrayBuffer.isView(values) || typeof first === 'number') return { kind: 'number' }
  if (typeof first === 'string' || first instanceof Date) return { kind: 'string' }
  throw new TypeError(`${what}: data.ds must be numbers, date strings or Dates`)
}

/**
 * The chunk of series [first, end) of grouped `data` as a Buffer: labels, counts, ds and the numeric columns of
 * its rows. With `tail` (see `trimmableTail`), each series whose earlier rows the local call would accept as they
 * are travels as its last `tail.rows` rows alone.
 */
function encodeChunk(data, grouped, names, first, end, what, tail = null) {
  const ds = dsBlock(data.ds, what)
  let rowStart = 0
  for (let s = 0; s < first; s++) rowStart += grouped.counts[s]
  let rowEnd = rowStart
  for (let s = first; s < end; s++) rowEnd += grouped.counts[s]
  const counts = grouped.counts.slice(first, end)
  const header = { labels: grouped.labels.slice(first, end), counts, ds: ds.kind, names }
  let rows = grouped.rows === null ? null : grouped.rows.subarray(rowStart, rowEnd)
  const trimmed = tail !== null && ds.kind === (tail.calendar ? 'string' : 'number') ? tail : null
  const native = nativeChunk(data, header, rows, rowStart, trimmed)
  if (native !== null) return native
  if (trimmed !== null) {
    const kept = keptRows(data, names, rows, rowStart, counts, trimmed)
    if (kept !== null) rows = kept
  }
  // The chunk's numbers of a column: a copy of its rows, or the contiguous slice.
  const numbers = (column) => {
    if (rows !== null) {
      const out = new Float64Array(rows.length)
      for (let k = 0; k < rows.length; k++) out[k] = column[rows[k]] ?? NaN
      return out
    }
    if (ArrayBuffer.isView(column)) return column.subarray(rowStart, rowEnd)
    return column.slice(rowStart, rowEnd).map((v) => v ?? NaN)
  }
  const columns = []
  let text
  if (ds.kind === 'number') columns.push(numbers(data.ds))
  if (ds.kind === 'string') {
    const dates = rows === null ? data.ds.slice(rowStart, rowEnd) : Array.from(rows, (i) => data.ds[i])
    text = dates.map((v) => (v instanceof Date ? v.toISOString() : String(v))).join('\n')
  }
  for (const name of names) columns.push(numbers(data[name]))
  return encode(header, columns, text)
}

const isFloat64Array = (values) => ArrayBuffer.isView(values) && values[Symbol.toStringTag] === 'Float64Array'

/**
 * `encodeChunk`'s Buffer made in the addon where ds (unless absent) and every numeric column are Float64Arrays
 * (the panels of millions of rows), else null: which series drop their earlier rows (`droppable`'s test,
 * src/data/tails.rs) and the kept rows written from the columns straight into the Buffer (src/data/chunk_bytes.rs).
 * `header.counts` becomes the rows kept per series.
 */
function nativeChunk(data, header, rows, rowStart, tail) {
  if (header.ds === 'string') return null
  const columns = header.names.map((name) => data[name])
  const numeric = header.ds === 'number' ? [data.ds, ...columns] : columns
  if (!numeric.every(isFloat64Array)) return null
  const counts = Uint32Array.from(header.counts)
  const at = rows ?? rowStart
  if (tail !== null) {
    const droppable = callNative(() => load().droppableHeads(data.ds, columns, counts, tail.rows, tail.step, at))
    header.counts = header.counts.map((count, s) => (count > tail.rows && droppable[s] === 1 ? tail.rows : count))
  }
  const { out: head } = encodeHead(header, undefined, 0)
  const bytes = callNative(() => load().chunkBytes(head, numeric, counts, Uint32Array.from(header.counts), at))
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
}

/**
 * The input rows of a chunk's series to stage when each series may travel as its last `tail.rows` rows: null when
 * no series is longer. `rows` are the chunk's input rows series after series (null: the contiguous rows from
 * `rowStart`); `counts` (updated in place) the rows per series. A series keeps all its rows unless every dropped
 * row is one the local call accepts and forgets: integer ds `tail.step` apart (or dates one `tail.calendar` step
 * apart) up to the first kept row, finite y
 * and exogenous values. Otherwise the worker sees the whole series and fails as the local call would.
 */
function keptRows(data, names, rows, rowStart, counts, tail) {
  const keep = tail.rows
  if (!counts.some((count) => count > keep)) return null
  const columns = names.map((name) => data[name])
  const ds = data.ds
  const kept = new Uint32Array(counts.reduce((n, count) => n + count, 0))
  let n = 0
  for (let s = 0, at = 0; s < counts.length; s++) {
    const end = at + counts[s]
    const dropped = tail.calendar
      ? calendarDroppable(ds, rows, rowStart, at, end - keep, tail.calendar) && finiteRows(columns, rows, rowStart, at, end - keep)
      : droppable(ds, columns, rows, rowStart, at, end - keep, tail.step)
    const from = counts[s] > keep && dropped ? end - keep : at
    for (let p = from; p < end; p++) kept[n++] = rows === null ? rowStart + p : rows[p]
    counts[s] = end - from
    at = end
  }
  return kept.subarray(0, n)
}

/**
 * Whether the rows at positions [from, to) of a chunk (input rows `rows[p]`, or `rowStart + p` when `rows` is
 * null) may be dropped: integer ds each `step` before the next (the one at `to` included), finite numeric columns.
 * Plain loops over each column: this runs over every staged row.
 */
function droppable(ds, columns, rows, rowStart, from, to, step) {
  if (rows === null) {
    const [first, last] = [rowStart + from, rowStart + to]
    if (!Number.isSafeInteger(ds[last])) return false
    for (let i = first; i < last; i++) if (!Number.isSafeInteger(ds[i]) || ds[i + 1] - ds[i] !== step) return false
    return finiteRows(columns, rows, rowStart, from, to)
  }
  for (let p = from; p < to; p++) if (!Number.isSafeInteger(ds[rows[p]]) || ds[rows[p + 1]] - ds[rows[p]] !== step) return false
  if (!Number.isSafeInteger(ds[rows[to]])) return false
  return finiteRows(columns, rows, rowStart, from, to)
}

/** Whether the numeric columns are finite at positions [from, to) of a chunk (as in `droppable`). */
function finiteRows(columns, rows, rowStart, from, to) {
  if (rows === null) {
    for (const column of columns) for (let i = rowStart + from; i < rowStart + to; i++) if (!Number.isFinite(column[i])) return false
    return true
  }
  for (const column of columns) for (let p = from; p < to; p++) if (!Number.isFinite(column[rows[p]])) return false
  return true
}

/**
 * Whether the date ds at positions [from, to] of a chunk each lie one `calendar` step (see `calendarStep`) before
 * the next, each in a form the engine parses (a Date, or a string in one of the engine's date formats). Dates are
 * compared as UTC milliseconds; anything else (other forms, sub-millisecond fractions, months not at midnight)
 * keeps the series whole, which is always safe.
 */
function calendarDroppable(ds, rows, rowStart, from, to, calendar) {
  let previous = null
  for (let p = from; p <= to; p++) {
    const ms = dateMillis(ds[rows === null ? rowStart + p : rows[p]])
    if (ms === null) return false
    if (calendar.months !== undefined && !onMonthAnchor(ms, calendar.end)) return false
    if (previous !== null && ms !== nextDate(previous, calendar)) return false
    previous = ms
  }
  return true
}

/** The date formats the engine parses (src/data/ds.rs): `YYYY-MM-DD`, `… HH:MM`, `…[ T]HH:MM:SS[.fff]`, `…THH:MM:SS[.fff]Z`. */
const DATE_TEXT = /^(\d{4})-(\d{2})-(\d{2})(?:([ T])(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?(Z?)$/

/** A ds value's UTC milliseconds where it is a valid date in one of those forms, else null. */
function dateMillis(value) {
  if (value instanceof Date) {
    const ms = value.getTime()
    return Number.isFinite(ms) ? ms : null
  }
  const match = typeof value === 'string' ? DATE_TEXT.exec(value) : null
  if (match === null) return null
  const [, year, month, day, separator, hour = '0', minute = '0', second, fraction = '', zone] = match
  // With Z: only `T…:SS`; without seconds: only ` HH:MM`.
  if (zone === 'Z' && (separator !== 'T' || second === undefined)) return null
  if (separator !== undefined && second === undefined && separator !== ' ') return null
  const parts = [Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second ?? 0), Number(fraction.padEnd(3, '0'))]
  const ms = Date.UTC(...parts)
  const date = new Date(ms)
  // Out-of-range fields (Feb 30, 24:00, years below 100) roll over or shift in Date.UTC: not a date the engine reads.
  const back = [date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate(), date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds(), date.getUTCMilliseconds()]
  return back.every((v, k) => v === parts[k]) ? ms : null
}

/** Whether a date is a month start (`end` false) or month end, at midnight. */
function onMonthAnchor(ms, end) {
  const date = new Date(ms)
  if (ms % 86400000 !== 0) return false
  return end ? new Date(ms + 86400000).getUTCDate() === 1 : date.getUTCDate() === 1
}

function nextDate(ms, calendar) {
  if (calendar.fixedMs !== undefined) return ms + calendar.fixedMs
  const date = new Date(ms)
  return calendar.end ? Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + calendar.months + 1, 0) : Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + calendar.months, 1)
}

/** Milliseconds of the fixed-duration aliases, months of the month-anchored ones (the engine's canonical aliases). */
const FIXED_MS = { D: 86400000, h: 3600000, min: 60000, s: 1000, ms: 1 }
const MONTHS = { MS: 1, ME: 1, QS: 3, QE: 3, YS: 12, YE: 12 }

/**
 * The step of a date frequency as a checkpoint writes it (the canonical pandas alias: 'D', '30min', 'MS', '2QE'):
 * `{ fixedMs }` or `{ months, end }`, or null for those checked only in the engine (business days, weeks,
 * microseconds and nanoseconds).
 */
function calendarStep(alias) {
  const match = /^([1-9]\d*)?(D|h|min|s|ms|MS|ME|QS|QE|YS|YE)$/.exec(alias)
  if (match === null) return null
  const count = match[1] === undefined ? 1 : Number(match[1])
  const unit = match[2]
  if (FIXED_MS[unit] !== undefined) return Number.isSafeInteger(count * FIXED_MS[unit]) ? { fixedMs: count * FIXED_MS[unit] } : null
  return { months: count * MONTHS[unit], end: unit.endsWith('E') }
}

/**
 * What a `predict({ data })` with checkpoint `bytes` reads of each series: `{ rows, step }` (integer ds) or
 * `{ rows, calendar }` (date ds, see `calendarStep`) when only the last `rows` points (and the ds step to check
 * the dropped ones against), or null when all of them are read or the checkpoint cannot be read here (the
 * workers then report it). Only neural models with a fixed inputSize, no local scaler (which scales by the whole
 * history) and a frequency the checkpoint names qualify: Prophet refits each series, an inferred frequency
 * depends on the data.
 */
function trimmableTail(bytes) {
  let engine
  try {
    const headerLength = Number(bytes.readBigUInt64LE(0))
    if (headerLength > bytes.length - 8) return null
    engine = JSON.parse(JSON.parse(bytes.toString('utf8', 8, 8 + headerLength)).__metadata__.engine)
  } catch {
    return null
  }
  const step = Number(engine?.freq)
  const calendar = typeof engine?.freq === 'string' ? calendarStep(engine.freq) : null
  if (engine?.local_scaler_type !== 'identity' || !Array.isArray(engine.models)) return null
  if (calendar === null && !(Number.isSafeInteger(step) && step >= 1)) return null
  if (engine.models.length === 0 || !engine.models.every((m) => Number.isSafeInteger(m?.inputSize) && m.inputSize >= 1 && m.type !== 'Prophet')) return null
  const rows = Math.max(...engine.models.map((m) => m.inputSize))
  return calendar === null ? { rows, step } : { rows, calendar }
}

/** The columns `predict({ data })` takes of a chunk Buffer: integer id codes with their labels, ds, y, exogenous. */
function decodeChunk(buffer) {
  const { header, text, nextColumn } = decode(buffer)
  const rows = header.counts.reduce((n, c) => n + c, 0)
  const codes = new Uint32Array(rows)
  for (let s = 0, at = 0; s < header.counts.length; s++) codes.fill(s, at, (at += header.counts[s]))
  const data = { unique_id: codes, labels: header.labels }
  if (header.ds === 'number') data.ds = nextColumn(rows)
  if (header.ds === 'string') data.ds = text.split('\n')
  for (const name of header.names) data[name] = nextColumn(rows)
  return data
}

/** A forecast frame (`{ unique_id, ds, <alias>: Float64Array… }`) as a Buffer. */
function encodeForecast(frame) {
  const labels = []
  const counts = []
  const ids = frame.unique_id
  for (let i = 0; i < ids.length; i++) {
    if (i > 0 && ids[i] === ids[i - 1]) counts[counts.length - 1]++
    else {
      labels.push(ids[i])
      counts.push(1)
    }
  }
  const names = Object.keys(frame).filter((name) => name !== 'unique_id')
  const extra = names.filter((name) => ArrayBuffer.isView(frame[name]))
  // ds and any other plain-array column (cross-validation's cutoff): numbers, or date strings as text.
  const listColumns = names
    .filter((name) => !ArrayBuffer.isView(frame[name]))
    .map((name) => ({ name, numeric: frame[name].length === 0 || typeof frame[name][0] === 'number' }))
  const columns = []
  const texts = []
  for (const { name, numeric: isNumber } of listColumns) {
    if (isNumber) columns.push(Float64Array.from(frame[name]))
    else texts.push(frame[name].join('\n'))
  }
  for (const name of extra) columns.push(frame[name])
  return encode({ labels, counts, lists: listColumns, names: extra }, columns, texts.join('\u0000'))
}

/**
 * A Buffer made by `encodeForecast` as `{ labels, counts, rows, lists, columns }`: `lists` the plain-array columns
 * (numbers as a Float64Array, date strings as an Array), `columns` the Float64Array ones.
 */
function decodeForecast(buffer) {
  const { header, text, nextColumn } = decode(buffer)
  const rows = header.counts.reduce((n, c) => n + c, 0)
  const texts = text.length ? text.split('\u0000') : []
  const lists = {}
  let t = 0
  for (const { name, numeric } of header.lists) lists[name] = numeric ? nextColumn(rows) : rows === 0 ? [] : texts[t++].split('\n')
  const columns = {}
  for (const name of header.names) columns[name] = nextColumn(rows)
  return { labels: header.labels, counts: header.counts, rows, lists, columns }
}

/**
 * Collects the forecasts of `count` chunks (`encodeForecast` Buffers, `add`ed as they land, in any order) into one
 * frame in chunk order: `{ unique_id, ds, …lists, <alias>… }` with the column order of the first chunk, from
 * `result()` once all are in. Each chunk is appended as soon as those before it are, so the plain-array columns
 * are mostly built while the workers still forecast, and little is left to do after the last chunk.
 */
function forecastCollector(count) {
  const waiting = new Array(count)
  const typed = []
  let next = 0
  let frame = null
  const append = (part) => {
    if (frame === null) {
      frame = { unique_id: [] }
      for (const name of Object.keys(part.lists)) frame[name] = []
      for (const name of Object.keys(part.columns)) frame[name] = null
    }
    const ids = frame.unique_id
    for (let s = 0; s < part.labels.length; s++) for (let k = 0, label = part.labels[s]; k < part.counts[s]; k++) ids.push(label)
    for (const name of Object.keys(part.lists)) {
      const list = frame[name]
      const values = part.lists[name]
      for (let r = 0; r < values.length; r++) list.push(values[r])
    }
    typed.push(part)
  }
  return {
    add(chunk, buffer) {
      if (waiting[chunk] !== undefined || chunk < next) return
      waiting[chunk] = decodeForecast(buffer)
      for (; next < count && waiting[next] !== undefined; next++) {
        append(waiting[next])
        waiting[next] = null
      }
    },
    result() {
      if (next !== count) {
        let missing = 0
        for (let chunk = next; chunk < count; chunk++) if (waiting[chunk] === undefined) missing++
        throw new Error(`forecastCollector: ${missing} of ${count} chunks are missing`)
      }
      const rows = frame.unique_id.length
      for (const name of Object.keys(frame).filter((key) => frame[key] === null)) {
        const column = (frame[name] = new Float64Array(rows))
        let offset = 0
        for (const part of typed) {
          column.set(part.columns[name], offset)
          offset += part.rows
        }
      }
      return frame
    },
  }
}

/**
 * Decoded cross-validation frames (each series-major: a series' windows together) merged into one: for each
 * series in `labels` order, its rows of each part in part order, the row order of a cross-validation of all
 * windows at once.
 */
function interleaveForecasts(parts, labels) {
  // Per part: series label -> [first row, row count].
  const spans = parts.map((p) => {
    const span = new Map()
    for (let s = 0, at = 0; s < p.labels.length; at += p.counts[s++]) span.set(p.labels[s], [at, p.counts[s]])
    return span
  })
  const order = []
  for (const label of labels) parts.forEach((_, k) => spans[k].has(label) && order.push([k, ...spans[k].get(label), label]))
  const rows = order.reduce((n, [, , count]) => n + count, 0)
  const frame = { unique_id: new Array(rows) }
  const first = parts[0]
  for (const name of Object.keys(first.lists)) frame[name] = new Array(rows)
  for (const name of Object.keys(first.columns)) frame[name] = new Float64Array(rows)
  let at = 0
  for (const [k, start, count, label] of order) {
    const p = parts[k]
    for (let r = 0; r < count; r++) frame.unique_id[at + r] = label
    for (const name of Object.keys(first.lists)) for (let r = 0; r < count; r++) frame[name][at + r] = p.lists[name][start + r]
    for (const name of Object.keys(first.columns)) frame[name].set(p.columns[name].subarray(start, start + count), at)
    at += count
  }
  return frame
}

/** Chunk columns (decodeChunk's) without the last `drop` rows of each series. */
function dropLastRows(data, drop) {
  if (!drop) return data
  const counts = []
  for (let i = 0; i < data.unique_id.length; i++) counts[data.unique_id[i]] = (counts[data.unique_id[i]] ?? 0) + 1
  const keep = []
  for (let i = 0, seen = 0; i < data.unique_id.length; i++) {
    if (i > 0 && data.unique_id[i] !== data.unique_id[i - 1]) seen = 0
    if (seen++ < counts[data.unique_id[i]] - drop) keep.push(i)
  }
  const out = {}
  for (const [name, column] of Object.entries(data)) {
    if (name === 'labels') out.labels = column
    else out[name] = ArrayBuffer.isView(column) ? column.constructor.from(keep, (i) => column[i]) : keep.map((i) => column[i])
  }
  return out
}

module.exports = { groupRows, numericColumns, trimmableTail, encodeChunk, decodeChunk, encodeForecast, decodeForecast, forecastCollector, interleaveForecasts, dropLastRows }
