'use strict'
// Selection across model families: `models.AutoEnsemble` and `new NeuralForecaster({ models: 'auto', h })`. Each
// family is an Auto model's search (its space, its seeded trials, run in parallel by the engine), the trial budget
// and time budget split between the families and every trial scored on the same validation windows. The `top`
// families with the lowest validation loss keep their winner; the ensemble forecasts the median or mean of their
// forecasts (point and quantile columns), and its conformal intervals come from the ensemble's own errors on the
// calibration windows.

const { groupSeries } = require('./long_format.js')
const { load } = require('./load.js')
const { callNative } = require('./realm.js')

/** Fast univariate families with a default space: the `models: 'auto'` search, the quickest first (a time budget
 * reaches the later ones only when it allows). */
const DEFAULT_FAMILIES = ['NLinear', 'DLinear', 'MLP', 'NHITS', 'NBEATS', 'TiDE', 'TCN', 'LSTM']
const COMBINATIONS = ['median', 'mean', 'best']
const ENSEMBLE_KEYS = ['type', 'alias', 'h', 'families', 'numSamples', 'timeBudget', 'ensemble', 'top', 'seed', 'validLoss', 'valSize', 'loss', 'config', 'searchAlg']
/** Options each family's Auto model takes as they are. */
const PASSED_TO_FAMILIES = ['validLoss', 'valSize', 'loss', 'searchAlg']
const FILE = 'ensemble.json'

const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value)
const describe = (value) => (value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'string' ? JSON.stringify(value) : typeof value)

function integer(options, key, min, fallback) {
  const value = options[key]
  if (value === undefined) return fallback
  if (!Number.isInteger(value)) throw new TypeError(`AutoEnsemble.${key} must be an integer, got ${describe(value)}`)
  if (value < min) throw new RangeError(`AutoEnsemble.${key} must be at least ${min}, got ${value}`)
  return value
}

function combine(values, how) {
  if (how === 'mean') return values.reduce((a, b) => a + b, 0) / values.length
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/** The row indices of each series (in first-appearance order), each in ds order. */
function seriesRows(data) {
  const groups = groupSeries(data.unique_id)
  for (const rows of groups.values()) rows.sort((a, b) => (data.ds[a] < data.ds[b] ? -1 : data.ds[a] > data.ds[b] ? 1 : 0))
  return groups
}

/** The rows `rows` of long-format columns (every column with one value per row; other entries kept as they are). */
function takeRows(data, rows) {
  const n = data.unique_id.length
  const taken = {}
  for (const [key, column] of Object.entries(data)) {
    const perRow = (Array.isArray(column) || ArrayBuffer.isView(column)) && column.length === n
    taken[key] = perRow ? rows.map((r) => column[r]) : column
  }
  return taken
}

/** Every series without its last `cut` points. */
function withoutLast(data, cut) {
  return takeRows(data, [...seriesRows(data).values()].flatMap((rows) => rows.slice(0, Math.max(0, rows.length - cut))))
}

function longFormat(data, what) {
  if (!isObject(data) || !Array.isArray(data.unique_id) || !data.ds || !data.y) {
    throw new TypeError(`${what}: an AutoEnsemble needs long-format columns { unique_id, ds, y, … } here (not a Dataset)`)
  }
  return data
}

/** A trial that can be a family's winner: validated at the end of its run (or rung), not stopped by the budget. */
const competes = (row) => row.validLoss !== null && !row.stoppedByBudget

function abortError(signal, what) {
  if (signal.reason !== undefined) return signal.reason
  const err = new Error(`${what} was aborted`)
  err.name = 'AbortError'
  return err
}

function createEnsemble({ models, NeuralForecaster, crossValidation, fs, path }) {
  /** The forecaster each AutoEnsemble instance was last given to. */
  const places = new WeakMap()

  /** The options of a family's Auto model: its share of the trials and of the time left. */
  function familyOptions(spec, family, numSamples, timeBudget) {
    const options = { h: spec.h, numSamples, seed: spec.seed, alias: family }
    for (const key of PASSED_TO_FAMILIES) if (spec[key] !== undefined) options[key] = spec[key]
    if (spec.config?.[family] !== undefined) options.config = spec.config[family]
    if (timeBudget !== undefined) options.timeBudget = timeBudget
    return new models[`Auto${family}`](options)
  }

  /** Trials per family: `numSamples` split evenly, the first families taking the remainder. */
  function shares(spec) {
    const n = spec.families.length
    return spec.families.map((_, i) => Math.floor(spec.numSamples / n) + (i < spec.numSamples % n ? 1 : 0))
  }

  /** A member's plain model: its family with the winner's configuration. */
  function memberModel(spec, member) {
    const options = { h: spec.h, ...member.config, alias: member.family }
    for (const key of ['loss', 'validLoss']) if (spec[key] !== undefined) options[key] = spec[key]
    return new models[member.family](options)
  }

  class AutoEnsemble {
    constructor(options = {}) {
      if (!isObject(options)) throw new TypeError(`AutoEnsemble: options must be an object, got ${describe(options)}`)
      const unknown = Object.keys(options).find((key) => !ENSEMBLE_KEYS.includes(key))
      if (unknown !== undefined) throw new TypeError(`AutoEnsemble.${unknown} is not an option; options: ${ENSEMBLE_KEYS.slice(1).join(', ')}`)
      if (options.type !== undefined && options.type !== 'AutoEnsemble') throw new TypeError(`AutoEnsemble.type must be 'AutoEnsemble', got ${describe(options.type)}`)
      const h = integer(options, 'h', 1, undefined)
      if (h === undefined) throw new TypeError('AutoEnsemble.h is missing: the forecast horizon')
      const families = options.families ?? DEFAULT_FAMILIES
      const available = Object.keys(models).filter((t) => t.startsWith('Auto') && t !== 'AutoEnsemble' && models[t].name === t).map((t) => t.slice(4))
      if (!Array.isArray(families)) throw new TypeError(`AutoEnsemble.families must be an array of model names, got ${describe(families)}`)
      if (families.length === 0) throw new RangeError('AutoEnsemble.families is empty: name at least one model family')
      families.forEach((family, i) => {
        if (!available.includes(family)) throw new RangeError(`AutoEnsemble.families[${i}]: ${describe(family)} has no search space; available: ${available.join(', ')}`)
        if (families.indexOf(family) !== i) throw new RangeError(`AutoEnsemble.families[${i}]: ${family} is given twice`)
      })
      const ensemble = options.ensemble ?? 'median'
      if (!COMBINATIONS.includes(ensemble)) throw new RangeError(`AutoEnsemble.ensemble must be one of ${COMBINATIONS.join(', ')}, got ${describe(ensemble)}`)
      const top = integer(options, 'top', 1, ensemble === 'best' ? 1 : Math.min(3, families.length))
      if (top > families.length) throw new RangeError(`AutoEnsemble.top (${top}) is more than the ${families.length} families`)
      if (ensemble === 'best' && top !== 1) throw new RangeError(`AutoEnsemble.top must be 1 with ensemble 'best', got ${top}`)
      const numSamples = integer(options, 'numSamples', 1, 3 * families.length)
      if (numSamples < families.length) throw new RangeError(`AutoEnsemble.numSamples (${numSamples}) must give each of the ${families.length} families a trial`)
      const timeBudget = options.timeBudget
      if (timeBudget !== undefined && !(typeof timeBudget === 'number' && timeBudget > 0 && Number.isFinite(timeBudget))) {
        throw new RangeError(`AutoEnsemble.timeBudget must be a positive number of seconds, got ${describe(timeBudget)}`)
      }
      if (options.config !== undefined) {
        if (!isObject(options.config)) throw new TypeError(`AutoEnsemble.config must be an object of search spaces by family, got ${describe(options.config)}`)
        const stray = Object.keys(options.config).find((family) => !families.includes(family))
        if (stray !== undefined) throw new RangeError(`AutoEnsemble.config.${stray}: not one of the families (${families.join(', ')})`)
      }
      const alias = options.alias ?? 'AutoEnsemble'
      if (typeof alias !== 'string' || alias === '') throw new TypeError(`AutoEnsemble.alias must be a non-empty string, got ${describe(alias)}`)
      const seed = integer(options, 'seed', 0, 1)
      Object.assign(this, { ...options, type: 'AutoEnsemble', alias, h, families: [...families], numSamples, ensemble, top, seed })
      // Each family's Auto model checks its options (spaces, losses) now.
      shares(this).forEach((share, i) => familyOptions(this, families[i], share, timeBudget))
    }

    /** One row per trial run in every family: `{ family, trial, config, validLoss, steps, seconds, stoppedByBudget, error? }`. */
    results() {
      return this.#forecaster().ensembleResults()?.rows ?? []
    }

    /** The members the last fit kept, best first: `{ family, trial, config, validLoss }`. */
    get members() {
      return this.#forecaster().ensembleMembers()
    }

    #forecaster() {
      const forecaster = places.get(this)
      if (forecaster === undefined) throw new Error('AutoEnsemble: give this model to a NeuralForecaster and fit it first')
      return forecaster
    }
  }

  /** The ensemble of NeuralForecaster options (`models: 'auto'` or `[AutoEnsemble]`), or undefined for others. */
  function ensembleOf(options) {
    if (!isObject(options)) return undefined
    const { models: list } = options
    if (list === 'auto') {
      const { models: _, h, auto = {}, ...rest } = options
      if (!isObject(auto)) throw new TypeError(`NeuralForecaster: options.auto must be an object of AutoEnsemble options, got ${describe(auto)}`)
      if (h === undefined && auto.h === undefined) throw new TypeError("NeuralForecaster: models 'auto' needs options.h, the forecast horizon")
      return { spec: new AutoEnsemble({ ...auto, h: auto.h ?? h }), rest }
    }
    if (typeof list === 'string') throw new TypeError(`NeuralForecaster: options.models must be an array of models or 'auto', got ${describe(list)}`)
    if (!Array.isArray(list)) return undefined
    const at = list.findIndex((m) => m instanceof AutoEnsemble || (isObject(m) && m.type === 'AutoEnsemble'))
    if (at < 0) return undefined
    if (list.length > 1) throw new RangeError(`NeuralForecaster: an AutoEnsemble (models[${at}]) must be the forecaster's only model`)
    const { models: _, ...rest } = options
    const given = list[0]
    return { spec: given instanceof AutoEnsemble ? given : new AutoEnsemble(given), given, rest }
  }

  /** A forecaster over an AutoEnsemble: one NeuralForecaster per family, the kept ones forecasting together. */
  class EnsembleForecaster {
    #spec
    #options
    #state = null

    constructor({ spec, given, rest }) {
      this.#spec = spec
      this.#options = rest
      // The forecaster options are checked now, with the first family's model.
      new NeuralForecaster({ ...rest, models: [familyOptions(spec, spec.families[0], 1)] })
      if (given instanceof AutoEnsemble) places.set(given, this)
    }

    get isFitted() {
      return this.#state !== null
    }

    /**
     * Searches each family in turn (its share of the trials; of the time budget, the time left split over the
     * families left, which bounds its search: trials under way stop there), keeps the `top` best and, with
     * `predictionIntervals`, calibrates the ensemble's conformal scores. `onTrial` gets each trial run: `{ n, total,
     * family, trial, validLoss, bestSoFar, … }`. An abort keeps the families searched so far (and the one under way's
     * best trial) as the ensemble, then rejects.
     */
    async fit(data, options = {}) {
      const spec = this.#spec
      const { onProgress, onTrial, signal, predictionIntervals, ...fitOptions } = options ?? {}
      if (onTrial !== undefined && typeof onTrial !== 'function') throw new TypeError(`NeuralForecaster.fit: options.onTrial must be a function, got ${typeof onTrial}`)
      if (signal?.aborted) throw abortError(signal, 'NeuralForecaster.fit')
      const started = Date.now()
      const trialShares = shares(spec)
      const searched = []
      let n = 0
      let best = null
      let aborted
      for (const [i, family] of spec.families.entries()) {
        let budget
        if (spec.timeBudget !== undefined) {
          const left = spec.timeBudget - (Date.now() - started) / 1000
          if (left <= 0) break
          budget = left / (spec.families.length - i)
        }
        const model = familyOptions(spec, family, trialShares[i], budget)
        const forecaster = new NeuralForecaster({ ...this.#options, models: [model] })
        const progress = onProgress && ((p) => onProgress({ ...p, family, familyIndex: i, families: spec.families.length }))
        let error
        let summary
        try {
          summary = await forecaster.fit(data, { ...fitOptions, onProgress: progress, signal })
        } catch (err) {
          if (signal?.aborted) aborted = err
          else error = err
        }
        const results = model.searchResults() ?? { rows: [], skipped: trialShares[i], stopped: false }
        for (const row of results.rows) {
          n += 1
          if (competes(row) && (best === null || row.validLoss < best.validLoss)) best = { family, validLoss: row.validLoss }
          onTrial?.({ n, total: spec.numSamples, family, ...row, bestSoFar: best?.validLoss ?? null, bestFamily: best?.family ?? null })
        }
        // The engine's winner: the lowest validation loss, the lowest trial number among equals.
        const winner = results.rows.filter(competes).reduce((a, b) => (a === undefined || b.validLoss < a.validLoss ? b : a), undefined)
        searched.push({ family, forecaster, results, winner: forecaster.isFitted ? winner : undefined, error, summary })
        if (aborted) break
      }
      const ranked = searched.filter((s) => s.winner).sort((a, b) => a.winner.validLoss - b.winner.validLoss)
      if (ranked.length === 0) {
        if (aborted) throw aborted
        const failure = searched.find((s) => s.error)?.error
        throw new Error(`AutoEnsemble: no family finished a trial${failure ? `; the first failure: ${failure.message}` : ' within the time budget'}`)
      }
      const kept = ranked.slice(0, spec.top)
      const members = kept.map(({ family, forecaster, winner }) => ({ family, trial: winner.trial, config: winner.config, validLoss: winner.validLoss, forecaster }))
      const rows = searched.flatMap((s) => s.results.rows.map((row) => ({ family: s.family, ...row })))
      const skipped = searched.reduce((sum, s) => sum + s.results.skipped, 0) + trialShares.slice(searched.length).reduce((a, b) => a + b, 0)
      const state = { members, rows, skipped, stopped: aborted !== undefined, scores: null }
      if (predictionIntervals !== undefined && !aborted) state.scores = await this.#calibrate(members, data, predictionIntervals, signal)
      this.#state = state
      if (aborted) throw aborted
      // The members' refits, best first.
      return { models: kept.flatMap((s) => s.summary.models), elapsedMs: Date.now() - started, aborted: false }
    }

    /**
     * The ensemble's conformity scores (NeuralForecast's PredictionIntervals, as the engine's): each member trained
     * on the series without their last windows, the ensemble's absolute errors on those windows, by series id.
     * Members with intervals of their own (a quantile or distribution loss) give none: their quantiles combine.
     */
    async #calibrate(members, data, intervals, signal) {
      if (!isObject(intervals)) throw new TypeError(`NeuralForecaster.fit: options.predictionIntervals must be an object, got ${describe(intervals)}`)
      const { nWindows = 2, stepSize = 1, method = 'conformal_distribution', ...other } = intervals
      const stray = Object.keys(other)[0]
      if (stray !== undefined) throw new TypeError(`NeuralForecaster.fit: options.predictionIntervals.${stray} is not an option (nWindows, stepSize, method)`)
      if (!Number.isInteger(nWindows) || nWindows < 2) throw new RangeError(`predictionIntervals.nWindows must be at least 2 (a quantile needs two errors), got ${nWindows}`)
      if (!['conformal_distribution', 'conformal_error'].includes(method)) throw new RangeError(`predictionIntervals.method must be 'conformal_distribution' or 'conformal_error', got ${describe(method)}`)
      const frames = []
      for (const member of members) {
        const frame = await crossValidation({ ...this.#options, models: [memberModel(this.#spec, member)] }, data, { nWindows, stepSize, refit: false, signal })
        if (Object.keys(frame).some((k) => k.startsWith(`${member.family}-`))) return null
        frames.push(frame)
      }
      // The frames share their rows: series, window, step (the engine's order of scores).
      const { unique_id: ids, y } = frames[0]
      const byId = {}
      ids.forEach((id, row) => {
        const forecast = combine(frames.map((f, m) => f[members[m].family][row]), this.#spec.ensemble)
        ;(byId[id] ??= []).push(Math.abs(y[row] - forecast))
      })
      return { nWindows, method, h: this.#spec.h, byId }
    }

    #fitted(what) {
      if (this.#state === null) throw new Error(`NeuralForecaster.${what}: fit the AutoEnsemble first`)
      return this.#state
    }

    /** The members the last fit kept, best first: `{ family, trial, config, validLoss }` ([] before fit). */
    ensembleMembers() {
      return (this.#state?.members ?? []).map(({ family, trial, config, validLoss }) => ({ family, trial, config, validLoss }))
    }

    /** The search: `{ rows, members, skipped, stopped }` (null before fit). */
    ensembleResults() {
      const state = this.#state
      return state && { rows: state.rows, members: this.ensembleMembers(), skipped: state.skipped, stopped: state.stopped }
    }

    /**
     * The ensemble's forecast: `alias` (and each quantile column of the members) as the median, mean or best of
     * the members'; with `level`, conformal intervals from the ensemble's scores (or the members' own quantiles).
     */
    async predict(options = {}) {
      const state = this.#fitted('predict')
      const spec = this.#spec
      const { level, ...rest } = options ?? {}
      const conformal = level !== undefined && state.scores !== null
      // Without the ensemble's scores, the members give their own intervals (a quantile loss) or say they have none.
      const memberOptions = conformal || level === undefined ? rest : { ...rest, level }
      const frames = []
      for (const member of state.members) frames.push(await member.forecaster.predict(memberOptions))
      const { unique_id, ds } = frames[0]
      const forecast = { unique_id, ds }
      const lead = state.members[0].family
      for (const column of Object.keys(frames[0]).filter((k) => k === lead || k.startsWith(`${lead}-`))) {
        const suffix = column.slice(lead.length)
        const values = new Float64Array(unique_id.length)
        for (let row = 0; row < values.length; row++) values[row] = combine(frames.map((f, m) => f[`${state.members[m].family}${suffix}`][row]), spec.ensemble)
        forecast[`${spec.alias}${suffix}`] = values
      }
      if (conformal) Object.assign(forecast, this.#intervals(forecast[spec.alias], unique_id, level))
      return forecast
    }

    /** The interval columns of the ensemble's point forecast: the engine's conformal intervals over its scores. */
    #intervals(point, ids, levels) {
      if (!Array.isArray(levels) || levels.some((l) => !(typeof l === 'number' && l > 0 && l < 100))) {
        throw new RangeError(`level must hold percentages between 0 and 100 (exclusive), got ${describe(levels)}`)
      }
      const { nWindows, method, h, byId } = this.#state.scores
      // The forecast holds each series' rows together, `horizon` of them: its scores go in that series order.
      const runs = []
      ids.forEach((id, row) => (row > 0 && ids[row - 1] === id ? runs[runs.length - 1].rows++ : runs.push({ id, rows: 1 })))
      const horizon = runs[0]?.rows ?? 1
      const scores = new Float64Array(runs.length * nWindows * h)
      runs.forEach(({ id }, s) => {
        if (byId[id] === undefined) throw new RangeError(`series '${id}' was not in the fit, so it has no conformity scores for intervals`)
        scores.set(byId[id], s * nWindows * h)
      })
      return callNative(() => load().conformalIntervals(this.#spec.alias, Float64Array.from(point), scores, horizon, nWindows, h, method, levels))
    }

    /**
     * Writes the ensemble as a directory: `ensemble.json` (its options, the search's rows, the members with their
     * configurations, the conformal scores) and one checkpoint per member.
     */
    async save(dir) {
      const state = this.#fitted('save')
      fs.mkdirSync(dir, { recursive: true })
      const members = []
      for (const [k, member] of state.members.entries()) {
        const file = `member-${k}-${member.family}.safetensors`
        await member.forecaster.save(path.join(dir, file))
        members.push({ family: member.family, trial: member.trial, config: member.config, validLoss: member.validLoss, file })
      }
      const spec = Object.fromEntries(Object.entries(this.#spec))
      const json = { format: 'neuro-divergent AutoEnsemble', spec, options: this.#options, members, rows: state.rows, skipped: state.skipped, stopped: state.stopped, scores: state.scores }
      fs.writeFileSync(path.join(dir, FILE), JSON.stringify(json))
    }

    static async load(dir, options) {
      const json = JSON.parse(fs.readFileSync(path.join(dir, FILE), 'utf8'))
      if (json.format !== 'neuro-divergent AutoEnsemble') throw new Error(`${path.join(dir, FILE)} is not an AutoEnsemble checkpoint`)
      const forecaster = new EnsembleForecaster({ spec: new AutoEnsemble(json.spec), rest: json.options })
      const members = []
      for (const member of json.members) members.push({ ...member, forecaster: await NeuralForecaster.load(path.join(dir, member.file), options) })
      forecaster.#state = { members, rows: json.rows, skipped: json.skipped, stopped: json.stopped, scores: json.scores }
      return forecaster
    }

    /**
     * Cross-validation of the ensemble (`refit: false`, NeuralForecast's default: one search on the history before
     * the first window, each window forecast from the history before it; `refit: true`: a search per window).
     */
    static async crossValidation(make, data, options = {}, first = undefined) {
      const what = 'crossValidation'
      longFormat(data, what)
      const { nWindows = 1, stepSize = 1, refit = false, horizon, level, fitOptions = {}, onProgress, signal, ...other } = options ?? {}
      const stray = Object.keys(other)[0]
      if (stray !== undefined) throw new TypeError(`${what}: options.${stray} is not available with an AutoEnsemble`)
      if (typeof refit !== 'boolean') throw new TypeError(`${what}: with an AutoEnsemble, options.refit must be true or false, got ${describe(refit)}`)
      let forecaster = first ?? (await make())
      const h = horizon ?? forecaster.#spec.h
      const groups = seriesRows(data)
      // Rows by series, then window, then step (the engine's order).
      const bySeries = new Map()
      let fits = 0
      for (let window = 0; window < nWindows; window++) {
        const cut = h + stepSize * (nWindows - 1 - window)
        const history = withoutLast(data, cut)
        if (window === 0 || refit) {
          if (window > 0) forecaster = await make()
          if (!(forecaster instanceof EnsembleForecaster)) throw new TypeError(`${what}: the forecaster factory must return AutoEnsemble forecasters throughout`)
          const fit = fits++
          const given = typeof fitOptions === 'function' ? fitOptions(fit, window) : fitOptions
          if (!isObject(given)) throw new TypeError(`${what}: options.fitOptions must be an object or a function returning one, got ${describe(given)}`)
          const { onProgress: fitProgress, signal: fitSignal, ...rest } = given
          const progress = (p) => {
            onProgress?.({ fit, window, ...p })
            fitProgress?.({ fit, window, ...p })
          }
          const signals = [signal, fitSignal].filter(Boolean)
          await forecaster.fit(history, { ...rest, onProgress: progress, signal: signals.length > 1 ? AbortSignal.any(signals) : signals[0] })
        }
        const forecast = await forecaster.predict({ data: history, horizon: h, ...(level ? { level } : {}) })
        const names = Object.keys(forecast).filter((name) => name !== 'unique_id' && name !== 'ds')
        forecast.unique_id.forEach((id, row) => {
          const rows = groups.get(id)
          if (!bySeries.has(id)) bySeries.set(id, [])
          const k = bySeries.get(id).filter((r) => r.window === window).length
          const at = rows[rows.length - cut + k]
          const values = Object.fromEntries(names.map((name) => [name, forecast[name][row]]))
          bySeries.get(id).push({ window, ds: forecast.ds[row], cutoff: data.ds[rows[rows.length - cut - 1]], y: data.y[at], values })
        })
      }
      const all = [...bySeries.entries()].flatMap(([id, rows]) => rows.map((row) => ({ id, ...row })))
      const frame = { unique_id: all.map((r) => r.id), ds: all.map((r) => r.ds), cutoff: all.map((r) => r.cutoff), y: Float64Array.from(all, (r) => r.y) }
      for (const name of Object.keys(all[0]?.values ?? {})) frame[name] = Float64Array.from(all, (r) => r.values[name])
      return frame
    }
  }

  // Every other NeuralForecaster method refuses clearly (they read one engine; an ensemble has several).
  for (const name of Object.getOwnPropertyNames(NeuralForecaster.prototype)) {
    if (name === 'constructor' || Object.prototype.hasOwnProperty.call(EnsembleForecaster.prototype, name)) continue
    Object.defineProperty(EnsembleForecaster.prototype, name, {
      value() {
        throw new Error(`NeuralForecaster.${name} is not available for an AutoEnsemble forecaster; its members forecast through predict`)
      },
    })
  }
  Object.setPrototypeOf(EnsembleForecaster.prototype, NeuralForecaster.prototype)

  return { AutoEnsemble, EnsembleForecaster, ensembleOf, places }
}

module.exports = { createEnsemble, competes, DEFAULT_FAMILIES, combine, withoutLast, seriesRows, takeRows, longFormat, abortError, FILE }
