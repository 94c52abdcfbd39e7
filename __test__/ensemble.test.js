// AutoEnsemble (`models: 'auto'`): Auto searches of several families, the best few forecasting together, with
// conformal intervals from the ensemble's own errors; reproducible on 1 and 2 threads.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { NeuralForecaster, models, auto, crossValidation } = require('../main.js')
const { sinePanel } = require('./sine_panel.js')

const SMALL = { maxSteps: auto.choice([10, 20]), valCheckSteps: 10, windowsBatchSize: 16, learningRate: auto.loguniform(1e-3, 1e-2) }
const CONFIG = {
  MLP: { ...SMALL, inputSize: auto.choice([6, 12]), hiddenSize: auto.choice([8, 16]), numLayers: 1 },
  NLinear: { ...SMALL, inputSize: auto.choice([6, 12]) },
  DLinear: { ...SMALL, inputSize: auto.choice([6, 12]), movingAvgWindow: 5 },
}
const options = (extra = {}) => ({ h: 6, families: ['MLP', 'NLinear', 'DLinear'], numSamples: 5, top: 2, seed: 4, config: CONFIG, ...extra })

async function fitted(numThreads, extra) {
  const ensemble = new models.AutoEnsemble(options(extra))
  const forecaster = new NeuralForecaster({ models: [ensemble], numThreads })
  const trials = []
  await forecaster.fit(sinePanel(2, 80), { predictionIntervals: { nWindows: 2 }, onTrial: (t) => trials.push(t) })
  return { ensemble, forecaster, trials, forecast: await forecaster.predict({ level: [80, 95] }) }
}

test('the ensemble forecasts the median of the best families, the same on 1 and 2 threads', async () => {
  const one = await fitted(1)
  const two = await fitted(2)
  const rows = one.ensemble.results()
  // 5 trials split 2, 2, 1 over the families, all scored.
  expect(rows.map((r) => r.family)).toEqual(['MLP', 'MLP', 'NLinear', 'NLinear', 'DLinear'])
  expect(rows.every((r) => Number.isFinite(r.validLoss))).toBe(true)
  expect(one.trials.map((t) => `${t.n}/${t.total} ${t.family}`)).toEqual(['1/5 MLP', '2/5 MLP', '3/5 NLinear', '4/5 NLinear', '5/5 DLinear'])
  expect(one.trials[4].bestSoFar).toBe(Math.min(...rows.map((r) => r.validLoss)))
  const members = one.forecaster.ensembleMembers()
  expect(members).toHaveLength(2)
  expect(one.ensemble.members).toEqual(members)
  // The kept members are the two families with the lowest best validation loss, best first.
  const bestOf = (family) => Math.min(...rows.filter((r) => r.family === family).map((r) => r.validLoss))
  const ranked = ['MLP', 'NLinear', 'DLinear'].sort((a, b) => bestOf(a) - bestOf(b))
  expect(members.map((m) => m.family)).toEqual(ranked.slice(0, 2))
  expect(members.map((m) => m.validLoss)).toEqual(ranked.slice(0, 2).map(bestOf))
  const strip = (r) => r.map(({ family, trial, config, validLoss, steps }) => ({ family, trial, config, validLoss, steps }))
  expect(strip(two.ensemble.results())).toEqual(strip(rows))
  expect(Array.from(two.forecast.AutoEnsemble)).toEqual(Array.from(one.forecast.AutoEnsemble))
  expect(Array.from(two.forecast['AutoEnsemble-hi-95'])).toEqual(Array.from(one.forecast['AutoEnsemble-hi-95']))
  // Two members: the median is their mean, each member as its own forecaster would give it.
  const { forecast } = one
  expect(Object.keys(forecast)).toEqual(['unique_id', 'ds', 'AutoEnsemble', 'AutoEnsemble-lo-95', 'AutoEnsemble-lo-80', 'AutoEnsemble-hi-80', 'AutoEnsemble-hi-95'])
  const alone = async (member) => {
    const model = new models[member.family]({ h: 6, ...member.config, alias: member.family })
    const forecaster = new NeuralForecaster({ models: [model], numThreads: 1 })
    await forecaster.fit(sinePanel(2, 80))
    return (await forecaster.predict())[member.family]
  }
  const [a, b] = [await alone(members[0]), await alone(members[1])]
  forecast.AutoEnsemble.forEach((v, k) => expect(v).toBeCloseTo((a[k] + b[k]) / 2, 9))
  forecast.AutoEnsemble.forEach((v, k) => {
    expect(forecast['AutoEnsemble-lo-95'][k]).toBeLessThanOrEqual(forecast['AutoEnsemble-lo-80'][k])
    expect(forecast['AutoEnsemble-lo-80'][k]).toBeLessThanOrEqual(v)
    expect(forecast['AutoEnsemble-hi-80'][k]).toBeGreaterThanOrEqual(v)
    expect(forecast['AutoEnsemble-hi-95'][k]).toBeGreaterThanOrEqual(forecast['AutoEnsemble-hi-80'][k])
  })
  expect(forecast['AutoEnsemble-hi-95'].some((hi, k) => hi > forecast.AutoEnsemble[k])).toBe(true)
})

test("'best' forecasts the best member alone; a checkpoint directory restores the ensemble", async () => {
  const { forecaster, forecast } = await fitted(2, { ensemble: 'best', top: 1 })
  const [member] = forecaster.ensembleMembers()
  expect(forecaster.ensembleMembers()).toHaveLength(1)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nd-ensemble-'))
  await forecaster.save(dir)
  const loaded = await NeuralForecaster.load(dir)
  expect(loaded.ensembleMembers()).toEqual([member])
  const again = await loaded.predict({ level: [80, 95] })
  expect(again).toEqual(forecast)
  fs.rmSync(dir, { recursive: true })
})

test("models: 'auto' with a time budget, cross-validation, and clear errors", async () => {
  const forecaster = new NeuralForecaster({ models: 'auto', h: 6, auto: { families: ['NLinear', 'MLP'], numSamples: 2, config: { NLinear: CONFIG.NLinear, MLP: CONFIG.MLP } }, numThreads: 2 })
  await forecaster.fit(sinePanel(2, 60))
  expect(forecaster.ensembleMembers().map((m) => m.family).sort()).toEqual(['MLP', 'NLinear'])
  expect((await forecaster.predict()).AutoEnsemble.every(Number.isFinite)).toBe(true)
  await expect(forecaster.predict({ level: [80] })).rejects.toThrow(/no prediction intervals/)
  expect(() => forecaster.update(sinePanel(2, 1))).toThrow('NeuralForecaster.update is not available for an AutoEnsemble forecaster')
  // A budget spent before any trial starts leaves nothing to forecast with.
  const hurried = new NeuralForecaster({ models: 'auto', h: 6, auto: { families: ['NLinear', 'MLP'], numSamples: 2, timeBudget: 1e-6, config: { NLinear: CONFIG.NLinear, MLP: CONFIG.MLP } } })
  await expect(hurried.fit(sinePanel(2, 60))).rejects.toThrow(/AutoEnsemble: no family finished a trial.*time budget/)
  expect(hurried.isFitted).toBe(false)

  const cv = await crossValidation({ models: [{ type: 'AutoEnsemble', ...options({ numSamples: 3 }) }], numThreads: 2 }, sinePanel(2, 80), { nWindows: 2 })
  expect(cv.unique_id).toHaveLength(2 * 2 * 6)
  // Windows one step apart (stepSize 1), as the engine's: series, then window, then step.
  expect(cv.cutoff.slice(0, 7)).toEqual([72, 72, 72, 72, 72, 72, 73])
  expect(cv.ds.slice(0, 7)).toEqual([73, 74, 75, 76, 77, 78, 74])
  expect(cv.y[0]).toBe(sinePanel(2, 80).y[73])
  expect(cv.AutoEnsemble.every(Number.isFinite)).toBe(true)

  expect(() => new models.AutoEnsemble({ h: 6, famlies: [] })).toThrow('AutoEnsemble.famlies is not an option')
  expect(() => new models.AutoEnsemble({ h: 6, families: ['Prophet'] })).toThrow(/families\[0\]: "Prophet" has no search space/)
  expect(() => new models.AutoEnsemble({ h: 6, ensemble: 'vote' })).toThrow(/ensemble must be one of median, mean, best/)
  expect(() => new models.AutoEnsemble({ h: 6, families: ['MLP'], top: 2 })).toThrow(/top \(2\) is more than the 1 families/)
  expect(() => new models.AutoEnsemble({ h: 6, families: ['MLP', 'NLinear'], numSamples: 1 })).toThrow(/numSamples \(1\) must give each/)
  expect(() => new models.AutoEnsemble({ h: 6, families: ['MLP'], config: { MLP: { nope: 1 } } })).toThrow(/nope/)
  expect(() => new NeuralForecaster({ models: 'auto' })).toThrow("models 'auto' needs options.h")
  expect(() => new NeuralForecaster({ models: [new models.AutoEnsemble({ h: 6 }), new models.MLP({ h: 6, inputSize: 12 })] })).toThrow(/only model/)
})

test('the time budget bounds each family: a slow family is stopped and the next one still searched', async () => {
  // MLP's trials would train a million steps; its share of the budget (half) stops them, and NLinear gets the rest.
  const config = { MLP: { ...CONFIG.MLP, maxSteps: 1000000 }, NLinear: CONFIG.NLinear }
  const ensemble = new models.AutoEnsemble(options({ families: ['MLP', 'NLinear'], numSamples: 2, top: 1, timeBudget: 2, config }))
  const forecaster = new NeuralForecaster({ models: [ensemble], numThreads: 1 })
  const trials = []
  await forecaster.fit(sinePanel(2, 80), { onTrial: (t) => trials.push(t) })
  const [mlp] = ensemble.results()
  expect(mlp).toMatchObject({ family: 'MLP', trial: 0, stoppedByBudget: true })
  expect(mlp.steps).toBeLessThan(1000000)
  // A stopped trial never leads the search.
  expect(trials.every((t) => t.bestFamily !== 'MLP')).toBe(true)
  expect(ensemble.members.map((m) => m.family)).toEqual(['NLinear'])
  expect((await forecaster.predict()).AutoEnsemble.every(Number.isFinite)).toBe(true)
})

test('an abort keeps what the search found so far', async () => {
  const controller = new AbortController()
  const forecaster = new NeuralForecaster({ models: [new models.AutoEnsemble(options({ config: { ...CONFIG, NLinear: { ...CONFIG.NLinear, maxSteps: 100000 } } }))], numThreads: 2 })
  const fit = forecaster.fit(sinePanel(2, 80), { onProgress: (p) => p.family === 'NLinear' && p.step > 50 && controller.abort(), signal: controller.signal })
  await expect(fit).rejects.toThrow(/aborted/)
  expect(forecaster.ensembleResults().stopped).toBe(true)
  expect(forecaster.ensembleResults().rows.filter((r) => r.family === 'MLP')).toHaveLength(2)
  expect(forecaster.ensembleMembers().map((m) => m.family)).toContain('MLP')
  expect((await forecaster.predict()).AutoEnsemble.every(Number.isFinite)).toBe(true)
})

test("'mean' of members trained with MQLoss combines each quantile column; their own quantiles give the levels", async () => {
  const loss = { type: 'MQLoss', level: [80] }
  const forecaster = new NeuralForecaster({ models: [new models.AutoEnsemble(options({ ensemble: 'mean', loss }))], numThreads: 2 })
  await forecaster.fit(sinePanel(2, 80), { predictionIntervals: { nWindows: 2 } })
  const forecast = await forecaster.predict({ level: [80] })
  expect(Object.keys(forecast)).toEqual(['unique_id', 'ds', 'AutoEnsemble-median', 'AutoEnsemble-lo-80', 'AutoEnsemble-hi-80'])
  const members = forecaster.ensembleMembers()
  const columns = []
  for (const member of members) {
    const alone = new NeuralForecaster({ models: [new models[member.family]({ h: 6, ...member.config, loss, alias: member.family })], numThreads: 1 })
    await alone.fit(sinePanel(2, 80))
    columns.push((await alone.predict())[`${member.family}-lo-80`])
  }
  forecast['AutoEnsemble-lo-80'].forEach((v, k) => expect(v).toBeCloseTo((columns[0][k] + columns[1][k]) / 2, 9))
})
