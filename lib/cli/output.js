'use strict'
// What the commands write: numbers and forecast tables for the terminal, CSV and SVG files (checked for a
// writable directory before any work), progress over the training steps and the one-line fit summary.

const fs = require('node:fs')
const path = require('node:path')

const { columnsToCsv } = require('../csv.js')
const { competes } = require('../ensemble.js')
const { groupSeries } = require('../long_format.js')
const { plotForecast } = require('../plot.js')
const { createProgress, formatSeconds } = require('../progress.js')
const { formatTable } = require('../table.js')
const { InputError } = require('./errors.js')

/** A number for a table cell: 4 significant digits or 2 decimals, exponents for very large and small values. */
function formatValue(v) {
  if (!Number.isFinite(v)) return String(v)
  const a = Math.abs(v)
  if (a !== 0 && (a >= 1e9 || a < 1e-4)) return v.toExponential(4)
  if (a >= 1000) return v.toFixed(1)
  if (a >= 1) return v.toFixed(2)
  return v.toPrecision(4)
}

function forecastTable(forecast) {
  const models = Object.keys(forecast).filter((k) => k !== 'unique_id' && k !== 'ds')
  const rows = forecast.ds.map((ds, i) => [forecast.unique_id[i], ds, ...models.map((m) => formatValue(forecast[m][i]))])
  return formatTable(['unique_id', 'ds', ...models], rows)
}

/** Fails before any work when an output file's directory does not exist. */
function checkOutputPaths(values) {
  for (const flag of ['out', 'plot', 'save']) {
    const file = values[flag]
    if (file === undefined || file === '-') continue
    const dir = path.dirname(path.resolve(file))
    let stat
    try {
      stat = fs.statSync(dir)
    } catch {
      throw new InputError(`cannot write ${file}: directory ${dir} does not exist`)
    }
    if (!stat.isDirectory()) throw new InputError(`cannot write ${file}: ${dir} is not a directory`)
  }
}

/** Writes `file` whole or not at all: into a temporary file beside it, then renamed over it. */
function writeFileChecked(file, content) {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`)
  try {
    fs.writeFileSync(temporary, content)
    fs.renameSync(temporary, file)
  } catch (err) {
    fs.rmSync(temporary, { force: true })
    throw new InputError(`cannot write ${file}: ${err.code === 'ENOENT' ? 'no such directory' : err.message}`)
  }
}

function writeForecastOutputs(io, values, forecast, history, title) {
  if (values.out !== undefined) {
    const csv = columnsToCsv(forecast)
    if (values.out === '-') io.stdout.write(csv)
    else {
      writeFileChecked(values.out, csv)
      io.note(`wrote ${values.out}`)
    }
  }
  if (values.plot !== undefined) {
    const horizon = groupSeries(forecast.unique_id).values().next().value?.length ?? 1
    const svg = plotForecast(history, forecast, { title, historyPoints: Math.max(240, 10 * horizon) })
    writeFileChecked(values.plot, svg)
    const nSeries = groupSeries(forecast.unique_id).size
    io.note(`wrote ${values.plot}${nSeries > 6 ? ` (the first 6 of ${nSeries} series)` : ''}`)
  }
}

/** Progress over every training step: a neural model's steps (twice with conformal calibration), one for Prophet. */
function progressFor(io, values, types, maxSteps, label, fitOptions = {}) {
  const passes = fitOptions.predictionIntervals ? 2 : 1
  const totalSteps = types.reduce((sum, type) => sum + (type === 'Prophet' ? passes : passes * maxSteps), 0)
  return createProgress({ stream: io.stderr, quiet: values.quiet, label, totalSteps })
}

function fitSummaryLine(summary) {
  return summary.models
    .map((m) => `${m.alias}: ${m.steps} steps, final loss ${m.trainLoss.length ? m.trainLoss[m.trainLoss.length - 1].toFixed(4) : '?'}`)
    .join('; ') + ` (${formatSeconds(summary.elapsedMs / 1000)})`
}

/** What the time budget cut: trials stopped under way and trials not started. */
function budgetNote(rows, skipped) {
  const stopped = rows.filter((r) => r.stoppedByBudget).length
  const parts = [stopped && `${stopped} stopped`, skipped && `${skipped} not started`].filter(Boolean)
  return parts.length ? ` (${parts.join(', ')}: time budget)` : ''
}

/** An Auto model's search after fit: its best trials (at most 5) by validation loss, and what failed or was skipped. */
function searchTable(model) {
  const { rows, skipped } = model.searchResults()
  const ranked = rows.filter(competes).sort((a, b) => a.validLoss - b.validLoss || a.trial - b.trial)
  const lines = [`${model.alias}: ${rows.length} trials${budgetNote(rows, skipped)}; best:`]
  for (const r of ranked.slice(0, 5)) {
    const config = Object.entries(r.config).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')
    lines.push(`  trial ${r.trial + 1}  valid loss ${r.validLoss.toFixed(4)}  ${r.steps} steps  ${formatSeconds(r.seconds)}  ${config}`)
  }
  const failed = rows.filter((r) => r.error)
  if (failed.length) lines.push(`  ${failed.length} trial(s) failed, e.g. trial ${failed[0].trial + 1}: ${failed[0].error}`)
  return lines.join('\n')
}

/** One line per finished trial of an AutoEnsemble's search (`fit`'s onTrial). */
function trialLine(t) {
  const reached = t.validLoss === null ? '' : ` (valid loss ${t.validLoss.toFixed(4)})`
  const loss = t.stoppedByBudget ? `stopped by the time budget at step ${t.steps}${reached}` : t.validLoss === null ? `failed: ${t.error}` : `valid loss ${t.validLoss.toFixed(4)}`
  const best = t.bestSoFar === null ? '' : `  best so far ${t.bestSoFar.toFixed(4)} (${t.bestFamily})`
  return `trial ${t.n}/${t.total}  ${t.family}  ${loss}${best}  ${formatSeconds(t.seconds)}`
}

/** An AutoEnsemble's search after fit: its members, then its best trials (at most 5) by validation loss. */
function ensembleTable(results) {
  const { rows, members, skipped } = results
  const lines = [`AutoEnsemble: ${rows.length} trials${budgetNote(rows, skipped)}; members: ${members.map((m) => m.family).join(', ')}; best trials:`]
  const ranked = rows.filter(competes).sort((a, b) => a.validLoss - b.validLoss)
  for (const r of ranked.slice(0, 5)) {
    const config = Object.entries(r.config).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')
    lines.push(`  ${r.family} trial ${r.trial + 1}  valid loss ${r.validLoss.toFixed(4)}  ${r.steps} steps  ${formatSeconds(r.seconds)}  ${config}`)
  }
  const failed = rows.filter((r) => r.error)
  if (failed.length) lines.push(`  ${failed.length} trial(s) failed, e.g. ${failed[0].family} trial ${failed[0].trial + 1}: ${failed[0].error}`)
  return lines.join('\n')
}

module.exports = { trialLine, ensembleTable, formatValue, forecastTable, checkOutputPaths, writeFileChecked, writeForecastOutputs, progressFor, fitSummaryLine, searchTable }
