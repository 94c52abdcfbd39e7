'use strict'
// Fit progress for the command line: a bar with step, loss and ETA redrawn in place when the stream is a
// terminal, plain lines at most every few seconds (and at 25/50/75/100 %) otherwise, nothing when quiet.

function formatSeconds(s) {
  if (!Number.isFinite(s) || s < 0) return '?'
  if (s < 10) return `${s.toFixed(1)}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

function formatLoss(x) {
  if (!Number.isFinite(x)) return String(x)
  return Math.abs(x) >= 1000 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(3) : x.toFixed(4)
}

/**
 * @param {{ stream?: NodeJS.WriteStream, quiet?: boolean, tty?: boolean, label?: string,
 *   totalSteps: number, intervalMs?: number, now?: () => number }} options totalSteps: over every model
 * @returns {{ onProgress: (p: { model: number, alias: string, step: number, maxSteps: number, trainLoss: number, valLoss?: number }) => void,
 *   done: (message?: string) => void }}
 */
function createProgress(options) {
  const stream = options.stream ?? process.stderr
  const quiet = Boolean(options.quiet)
  const tty = options.tty ?? Boolean(stream.isTTY)
  const now = options.now ?? (() => performance.now())
  const intervalMs = options.intervalMs ?? 2000
  const label = options.label ? `${options.label} ` : ''
  const totalSteps = Math.max(1, options.totalSteps)
  const started = now()
  let stepsBefore = 0 // steps of the models finished before the current one
  let currentModel = -1
  let lastMax = 0
  let lastLine = -Infinity
  let lastQuarter = 0
  let drawn = false

  function onProgress(p) {
    if (quiet) return
    if (p.model !== currentModel) {
      if (currentModel >= 0) stepsBefore += lastMax
      currentModel = p.model
    }
    lastMax = p.maxSteps
    const done = Math.min(totalSteps, stepsBefore + p.step)
    const elapsed = (now() - started) / 1000
    const eta = done > 0 ? (elapsed / done) * (totalSteps - done) : NaN
    const loss = `loss ${formatLoss(p.trainLoss)}${p.valLoss !== undefined && p.valLoss !== null ? ` val ${formatLoss(p.valLoss)}` : ''}`
    if (tty) {
      const width = 24
      const filled = Math.round((done / totalSteps) * width)
      const bar = '█'.repeat(filled) + '░'.repeat(width - filled)
      const text = `${label}${p.alias} ${bar} ${p.step}/${p.maxSteps} ${loss} ETA ${formatSeconds(eta)}`
      stream.write(`\r\x1b[2K${text}`)
      drawn = true
    } else {
      const quarter = Math.floor((done / totalSteps) * 4)
      const t = now()
      if (t - lastLine >= intervalMs || quarter > lastQuarter) {
        lastLine = t
        lastQuarter = quarter
        stream.write(`${label}${p.alias} step ${p.step}/${p.maxSteps} ${loss} elapsed ${formatSeconds(elapsed)} eta ${formatSeconds(eta)}\n`)
      }
    }
  }

  function done(message) {
    if (quiet) return
    if (tty && drawn) stream.write('\r\x1b[2K')
    if (message) stream.write(`${message}\n`)
  }

  return { onProgress, done }
}

module.exports = { createProgress, formatSeconds }
