'use strict'
// Forecast plots as SVG text, written in plain JavaScript (no browser, no native libraries): the history, one
// line per model, prediction-interval bands when the forecast has NeuralForecast's `<model>-lo-<level>` /
// `<model>-hi-<level>` columns, a dashed line at the train/forecast split, a date (or integer-step) axis and a
// legend. A panel has one series; several series give panels stacked vertically.

const { columnValues, toColumns, groupSeries, dsToNumber } = require('./long_format.js')
const { checkOptions } = require('./options.js')

/** Colours of the model lines, in order (Tableau 10). The history is drawn in dark grey. */
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f']
const HISTORY_COLOR = '#3a3a3a'
const INTERVAL = /^(.*)-(lo|hi)-(\d+(?:\.\d+)?)$/
const RESERVED = new Set(['unique_id', 'ds', 'cutoff', 'y'])

const DAY = 86400000
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

function escapeXml(s) {
  return String(s).replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c])
}

const fmt = (v) => (Math.round(v * 100) / 100).toString()

/** About `count` round tick values covering [lo, hi]. */
function niceTicks(lo, hi, count) {
  if (!(hi > lo)) {
    const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1
    lo -= d
    hi += d
  }
  const raw = (hi - lo) / Math.max(1, count)
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag
  const start = Math.ceil(lo / step - 1e-9) * step
  const ticks = []
  for (let v = start; v <= hi + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v)
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9))
  return { ticks, step, label: (v) => v.toFixed(Math.min(decimals + (step / mag === 2.5 ? 1 : 0), 12)) }
}

/** Calendar ticks for a time range in ms since the epoch (UTC), about `count` of them. */
function dateTicks(lo, hi, count) {
  const span = Math.max(hi - lo, 1)
  const d2 = (n) => String(n).padStart(2, '0')
  const ymd = (t) => {
    const d = new Date(t)
    return `${d.getUTCFullYear()}-${d2(d.getUTCMonth() + 1)}-${d2(d.getUTCDate())}`
  }
  const hm = (t) => {
    const d = new Date(t)
    return `${d2(d.getUTCHours())}:${d2(d.getUTCMinutes())}`
  }
  const years = span / (365.25 * DAY)
  if (years >= count * 0.75) {
    const step = [1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000].find((s) => years / s <= count) ?? 1000
    const first = Math.ceil(new Date(lo).getUTCFullYear() / step) * step
    const ticks = []
    for (let y = first; ; y += step) {
      const t = Date.UTC(y, 0, 1)
      if (t > hi) break
      if (t >= lo) ticks.push(t)
    }
    return { ticks, label: (t) => String(new Date(t).getUTCFullYear()) }
  }
  const months = span / (30.44 * DAY)
  if (months >= count * 0.75) {
    const step = [1, 2, 3, 4, 6, 12].find((s) => months / s <= count) ?? 12
    const start = new Date(lo)
    let y = start.getUTCFullYear()
    let m = Math.ceil(start.getUTCMonth() / step) * step
    const ticks = []
    for (;;) {
      const t = Date.UTC(y, m, 1)
      if (t > hi) break
      if (t >= lo) ticks.push(t)
      m += step
      if (m >= 12) {
        y += Math.floor(m / 12)
        m %= 12
      }
    }
    return { ticks, label: (t) => `${MONTHS[new Date(t).getUTCMonth()]} ${new Date(t).getUTCFullYear()}` }
  }
  const units = [
    [1000, [1, 5, 15, 30]],
    [60000, [1, 5, 15, 30]],
    [3600000, [1, 2, 3, 6, 12]],
    [DAY, [1, 2, 7, 14]],
  ]
  for (const [unit, steps] of units) {
    for (const s of steps) {
      const step = unit * s
      if (span / step <= count) {
        const ticks = []
        for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) ticks.push(t)
        const label = step >= DAY ? ymd : span > DAY ? (t) => `${ymd(t).slice(5)} ${hm(t)}` : hm
        return { ticks, label }
      }
    }
  }
  const { ticks } = niceTicks(lo, hi, count)
  return { ticks, label: ymd }
}

/** Model columns of a forecast and, per model, the interval levels present (both lo and hi), widest first. */
function forecastColumns(forecast, only) {
  const keys = Object.keys(forecast)
  const models = []
  const levels = new Map()
  for (const key of keys) {
    if (RESERVED.has(key)) continue
    const m = INTERVAL.exec(key)
    if (m) continue
    const col = forecast[key]
    if (!col || typeof col.length !== 'number' || !(ArrayBuffer.isView(col) || typeof col[0] === 'number' || col.length === 0)) continue
    if (only && !only.includes(key)) continue
    models.push(key)
  }
  for (const key of keys) {
    const m = INTERVAL.exec(key)
    if (!m || !models.includes(m[1]) || m[2] !== 'lo') continue
    if (!(`${m[1]}-hi-${m[3]}` in forecast)) continue
    if (!levels.has(m[1])) levels.set(m[1], [])
    levels.get(m[1]).push(m[3])
  }
  for (const list of levels.values()) list.sort((a, b) => Number(b) - Number(a))
  return { models, levels }
}

function pathOf(points) {
  let d = ''
  let pen = false
  for (const [x, y] of points) {
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      pen = false
      continue
    }
    d += `${pen ? 'L' : 'M'}${fmt(x)},${fmt(y)}`
    pen = true
  }
  return d
}

/**
 * The forecast as an SVG image.
 * @param {object | null | undefined} history long-format data the models saw (columns, rows or numbers), or none
 * @param {{ unique_id?: ArrayLike<string>, ds: ArrayLike<string|number>, [column: string]: unknown }} forecast
 *   `predict()`'s result: one column per model, optional `<model>-lo-<level>` / `<model>-hi-<level>` columns
 * @param {{ width?: number, height?: number, title?: string, series?: string[], maxSeries?: number,
 *   historyPoints?: number, models?: string[], colors?: string[] }} [options]
 * @returns {string} SVG text
 */
function plotForecast(history, forecast, options) {
  options = checkOptions(options, ['width', 'height', 'colors', 'models', 'maxSeries', 'series', 'title', 'historyPoints'], 'plotForecast')
  if (forecast === null || typeof forecast !== 'object' || !forecast.ds || typeof forecast.ds.length !== 'number') {
    throw new TypeError('plotForecast: forecast must be a forecast result with ds and model columns')
  }
  const width = options.width ?? 960
  const panelHeight = options.height ?? 380
  const colors = options.colors ?? PALETTE
  const { models, levels } = forecastColumns(forecast, options.models)
  if (models.length === 0) throw new TypeError('plotForecast: the forecast has no model columns')
  const forecastDs = columnValues(forecast.ds, 'plotForecast: forecast.ds')
  const n = forecastDs.length
  for (const key of Object.keys(forecast)) {
    const col = forecast[key]
    if (col && typeof col.length === 'number' && col.length !== n && key !== 'unique_id') {
      throw new RangeError(`plotForecast: forecast column ${key} has ${col.length} values, ds has ${n}`)
    }
  }
  const fIds = forecast.unique_id ? columnValues(forecast.unique_id, 'plotForecast: forecast.unique_id').map(String) : forecastDs.map(() => 'series')
  const fGroups = groupSeries(fIds)
  const hist = history === undefined || history === null ? null : toColumns(history, 'plotForecast: history')
  const hGroups = hist ? groupSeries(hist.unique_id) : new Map()
  if (hist && fGroups.size === 1 && hGroups.size === 1 && !forecast.unique_id) {
    // one series either side: pair them whatever their names
    const [rows] = hGroups.values()
    hGroups.clear()
    hGroups.set([...fGroups.keys()][0], rows)
  }
  const maxSeries = options.maxSeries ?? 6
  const ids = options.series ?? [...fGroups.keys()].slice(0, maxSeries)
  for (const id of ids) {
    if (!fGroups.has(String(id))) throw new RangeError(`plotForecast: no series ${JSON.stringify(id)} in the forecast`)
  }

  // Numeric positions of every ds, and how to label them.
  const allDs = [...forecastDs, ...(hist ? hist.ds : [])]
  const integerAxis = allDs.every((d) => typeof d === 'number' || (typeof d === 'string' && /^\s*[+-]?\d+\s*$/.test(d)))
  const position = (d) => {
    const v = dsToNumber(d)
    if (Number.isNaN(v)) throw new RangeError(`plotForecast: cannot place ds ${JSON.stringify(d)} on a time axis`)
    return v
  }

  const margin = { left: 70, right: 24, top: 52, bottom: 46 }
  const titleHeight = options.title ? 30 : 0
  const height = titleHeight + panelHeight * ids.length
  const out = []
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  )
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`)
  if (options.title) {
    out.push(`<text x="${width / 2}" y="21" text-anchor="middle" font-size="16" font-weight="bold" fill="#222">${escapeXml(options.title)}</text>`)
  }

  ids.forEach((rawId, panel) => {
    const id = String(rawId)
    const top = titleHeight + panel * panelHeight
    const x0 = margin.left
    const x1 = width - margin.right
    const y0 = top + margin.top
    const y1 = top + panelHeight - margin.bottom
    const fRows = fGroups.get(id)
    let hRows = hGroups.get(id) ?? []
    if (options.historyPoints !== undefined && hRows.length > options.historyPoints) hRows = hRows.slice(hRows.length - options.historyPoints)

    const hx = hRows.map((r) => position(hist.ds[r]))
    const hy = hRows.map((r) => Number(hist.y[r]))
    const fx = fRows.map((r) => position(forecastDs[r]))
    const xs = [...hx, ...fx]
    let xlo = Math.min(...xs)
    let xhi = Math.max(...xs)
    if (xhi === xlo) {
      xlo -= integerAxis ? 1 : DAY
      xhi += integerAxis ? 1 : DAY
    }
    const values = [...hy]
    for (const m of models) {
      for (const r of fRows) values.push(Number(forecast[m][r]))
      for (const level of levels.get(m) ?? []) {
        for (const r of fRows) values.push(Number(forecast[`${m}-lo-${level}`][r]), Number(forecast[`${m}-hi-${level}`][r]))
      }
    }
    const finite = values.filter(Number.isFinite)
    let ylo = finite.length ? Math.min(...finite) : 0
    let yhi = finite.length ? Math.max(...finite) : 1
    const pad = (yhi - ylo) * 0.06 || Math.abs(yhi) * 0.1 || 1
    ylo -= pad
    yhi += pad
    const yTicks = niceTicks(ylo, yhi, Math.max(3, Math.round((y1 - y0) / 50)))
    ylo = Math.min(ylo, yTicks.ticks[0])
    yhi = Math.max(yhi, yTicks.ticks[yTicks.ticks.length - 1])
    const sx = (v) => x0 + ((v - xlo) / (xhi - xlo)) * (x1 - x0)
    const sy = (v) => y1 - ((v - ylo) / (yhi - ylo)) * (y1 - y0)

    out.push(`<g class="panel" data-series="${escapeXml(id)}">`)
    out.push(`<rect x="${x0}" y="${y0}" width="${fmt(x1 - x0)}" height="${fmt(y1 - y0)}" fill="#fbfbfb" stroke="#c8c8c8"/>`)
    // y grid and labels
    for (const t of yTicks.ticks) {
      if (t < ylo || t > yhi) continue
      const y = fmt(sy(t))
      out.push(`<line x1="${x0}" x2="${fmt(x1)}" y1="${y}" y2="${y}" stroke="#e6e6e6"/>`)
      out.push(`<text x="${x0 - 8}" y="${y}" dy="0.32em" text-anchor="end" fill="#444">${escapeXml(yTicks.label(t))}</text>`)
    }
    // x grid and labels
    const xCount = Math.max(2, Math.floor((x1 - x0) / 95))
    const xTicks = integerAxis ? niceTicks(xlo, xhi, xCount) : dateTicks(xlo, xhi, xCount)
    for (const t of xTicks.ticks) {
      if (t < xlo || t > xhi || (integerAxis && !Number.isInteger(t))) continue
      const x = fmt(sx(t))
      out.push(`<line x1="${x}" x2="${x}" y1="${y0}" y2="${y1}" stroke="#ececec"/>`)
      out.push(`<line x1="${x}" x2="${x}" y1="${y1}" y2="${y1 + 5}" stroke="#888"/>`)
      out.push(`<text x="${x}" y="${y1 + 18}" text-anchor="middle" fill="#444">${escapeXml(integerAxis ? String(t) : xTicks.label(t))}</text>`)
    }
    out.push(`<text x="${fmt((x0 + x1) / 2)}" y="${y1 + 38}" text-anchor="middle" fill="#666">ds</text>`)

    // interval bands, widest first
    models.forEach((m, i) => {
      const color = colors[i % colors.length]
      const list = levels.get(m) ?? []
      list.forEach((level, j) => {
        const lo = fRows.map((r) => [sx(position(forecastDs[r])), sy(Number(forecast[`${m}-lo-${level}`][r]))])
        const hi = fRows.map((r) => [sx(position(forecastDs[r])), sy(Number(forecast[`${m}-hi-${level}`][r]))])
        const pts = [...lo, ...hi.reverse()].filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
        const opacity = (0.12 + 0.1 * j).toFixed(2)
        out.push(
          `<polygon class="band" data-model="${escapeXml(m)}" data-level="${level}" points="${pts.map(([x, y]) => `${fmt(x)},${fmt(y)}`).join(' ')}" ` +
            `fill="${color}" fill-opacity="${opacity}" stroke="none"/>`,
        )
      })
    })

    // history
    if (hRows.length) {
      const d = pathOf(hx.map((x, k) => [sx(x), sy(hy[k])]))
      out.push(`<path class="history" d="${d}" fill="none" stroke="${HISTORY_COLOR}" stroke-width="1.6" stroke-linejoin="round"/>`)
      // train/forecast split at the last observed point
      const split = fmt(sx(hx[hx.length - 1]))
      out.push(
        `<line class="split" x1="${split}" x2="${split}" y1="${y0}" y2="${y1}" stroke="#777" stroke-width="1.2" stroke-dasharray="5,4"/>`,
      )
      const room = x1 - Number(split) >= 72
      out.push(
        `<text x="${fmt(Number(split) + (room ? 5 : -5))}" y="${y0 + 14}" text-anchor="${room ? 'start' : 'end'}" fill="#666" font-size="11">${room ? 'forecast →' : '← history'}</text>`,
      )
    }

    // model forecasts
    models.forEach((m, i) => {
      const color = colors[i % colors.length]
      const pts = fRows.map((r) => [sx(position(forecastDs[r])), sy(Number(forecast[m][r]))])
      out.push(
        `<path class="forecast" data-model="${escapeXml(m)}" d="${pathOf(pts)}" fill="none" stroke="${color}" stroke-width="2.6" stroke-linejoin="round" stroke-linecap="round"/>`,
      )
      if (pts.length === 1) out.push(`<circle cx="${fmt(pts[0][0])}" cy="${fmt(pts[0][1])}" r="3.5" fill="${color}"/>`)
    })

    // panel title and legend, above the plot area
    out.push(`<text x="${x0}" y="${top + 18}" font-size="13" font-weight="bold" fill="#222">${escapeXml(id)}</text>`)
    const entries = []
    if (hRows.length) entries.push({ label: 'history', color: HISTORY_COLOR, kind: 'line' })
    models.forEach((m, i) => {
      const color = colors[i % colors.length]
      entries.push({ label: m, color, kind: 'line' })
      for (const level of [...(levels.get(m) ?? [])].reverse()) entries.push({ label: `${m} ${level}%`, color, kind: 'band' })
    })
    let lx = x0
    const ly = top + 38
    out.push('<g class="legend">')
    for (const e of entries) {
      if (e.kind === 'line') out.push(`<line x1="${lx}" x2="${lx + 22}" y1="${ly - 4}" y2="${ly - 4}" stroke="${e.color}" stroke-width="2.6"/>`)
      else out.push(`<rect x="${lx}" y="${ly - 10}" width="22" height="12" fill="${e.color}" fill-opacity="0.25"/>`)
      out.push(`<text x="${lx + 28}" y="${ly}" fill="#333">${escapeXml(e.label)}</text>`)
      lx += 28 + 7 * e.label.length + 18
    }
    out.push('</g>')
    out.push('</g>')
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}

module.exports = { plotForecast, PALETTE, HISTORY_COLOR }
