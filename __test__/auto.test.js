// Auto models (NeuralForecast's Auto*): a seeded search over a configuration space, scored on validation windows,
// the winner refitted; the same seed gives the same trials, winner and forecasts on 1 and 2 threads.
const { NeuralForecaster, models, auto } = require('../main.js')
const { sinePanel } = require('./sine_panel.js')

const SPACE = {
  inputSize: auto.choice([6, 12]),
  hiddenSize: auto.choice([8, 16]),
  numLayers: 1,
  learningRate: auto.loguniform(1e-3, 1e-1),
  maxSteps: auto.quniform(10, 30, 10),
  valCheckSteps: 10,
  windowsBatchSize: 16,
  randomSeed: auto.randint(1, 20),
}

async function search(numThreads, numSamples = 4) {
  const model = new models.AutoMLP({ h: 6, numSamples, seed: 3, config: SPACE })
  const forecaster = new NeuralForecaster({ models: [model], numThreads })
  await forecaster.fit(sinePanel(3, 60))
  return { model, forecaster, forecast: await forecaster.predict() }
}

test('the same seed gives the same trials, winner and forecasts on 1 and 2 threads', async () => {
  const one = await search(1)
  const two = await search(2)
  const rows = one.model.results()
  expect(rows).toHaveLength(4)
  for (const row of rows) {
    expect(Number.isFinite(row.validLoss)).toBe(true)
    expect(row.steps).toBe(row.config.maxSteps)
    expect(row.seconds).toBeGreaterThan(0)
    expect([6, 12]).toContain(row.config.inputSize)
  }
  const strip = (r) => r.map(({ trial, config, validLoss, steps }) => ({ trial, config, validLoss, steps }))
  expect(strip(two.model.results())).toEqual(strip(rows))
  const best = rows.reduce((a, b) => (b.validLoss < a.validLoss ? b : a))
  expect(one.model.bestConfig).toEqual(best.config)
  expect(two.model.bestConfig).toEqual(best.config)
  expect(Array.from(one.forecast.AutoMLP)).toEqual(Array.from(two.forecast.AutoMLP))
  expect(one.forecast.AutoMLP.every(Number.isFinite)).toBe(true)
})

test('autoTrialConfigs lists the configurations the search trains, trial by trial, without training', async () => {
  const { autoTrialConfigs } = require('../main.js')
  const { model } = await search(1)
  expect(autoTrialConfigs('AutoMLP', model)).toEqual(model.results().map((row) => row.config))
  // Trial k's configuration does not depend on how many trials there are.
  expect(autoTrialConfigs('AutoMLP', { ...model, numSamples: 2 })).toEqual(model.results().slice(0, 2).map((row) => row.config))
  expect(autoTrialConfigs('AutoMLP', { ...model, seed: 4 })).not.toEqual(autoTrialConfigs('AutoMLP', model))
  expect(() => autoTrialConfigs('MLP', { h: 6 })).toThrow("type: 'MLP' is not an Auto model; available: AutoLSTM")
  expect(() => autoTrialConfigs('AutoMLP', { h: 6, config: { nope: 1 } })).toThrow(/nope/)
})

test('a checkpoint stores the winner with its configuration', async () => {
  const { model, forecaster, forecast } = await search(2, 3)
  const loaded = await NeuralForecaster.fromBuffer(await forecaster.toBuffer())
  expect(Array.from((await loaded.predict()).AutoMLP)).toEqual(Array.from(forecast.AutoMLP))
  const winner = model.bestConfig
  const other = await search(2, 3)
  expect(other.model.bestConfig).toEqual(winner)
})

test('bad search spaces give errors that name the key', () => {
  const bad = (config, message) => expect(() => new models.AutoNHITS({ h: 12, config })).toThrow(message)
  bad({ fooBar: 1 }, /config\.fooBar: unknown option 'fooBar'/)
  bad({ inputSize: 24, learningRate: auto.choice([]) }, /config\.learningRate: choice has no values/)
  bad({ inputSize: 24, learningRate: auto.uniform(0.1, 0.01) }, /config\.learningRate: uniform has low 0\.1 > high 0\.01/)
  bad({ inputSize: 24, learningRate: auto.loguniform(0, 0.1) }, /config\.learningRate: loguniform bounds must be greater than 0/)
  bad({ inputSize: 24, maxSteps: auto.randint(5, 5) }, /config\.maxSteps: randint has low 5 >= high 5/)
  expect(() => new models.AutoNHITS({ h: 12, searchAlg: 'grid' })).toThrow(/searchAlg: 'grid' is not available/)
  expect(() => new models.AutoNHITS({ h: 12, gracePeriod: 10 })).toThrow(/gracePeriod and reductionFactor need scheduler: 'successiveHalving'/)
  expect(() => new NeuralForecaster({ models: [{ type: 'AutoMLP', h: 6, config: { inputSize: 6, nope: auto.choice([1]) } }] })).toThrow(
    /options\.models\[0\]\.config\.nope: unknown option/,
  )
})

test('the default spaces are NeuralForecast 3.3 ones', () => {
  const nhits = new models.AutoNHITS({ h: 12 })
  expect(nhits.numSamples).toBe(10)
  expect(nhits.config.inputSize).toEqual(auto.choice([12, 24, 36, 48, 60]))
  expect(nhits.config.maxSteps).toEqual(auto.quniform(500, 1500, 100))
  expect(nhits.config.learningRate).toEqual(auto.loguniform(1e-4, 1e-1))
  expect(nhits.config.randomSeed).toEqual(auto.randint(1, 20))
  for (const type of ['AutoLSTM', 'AutoGRU', 'AutoRNN', 'AutoMLP', 'AutoTCN', 'AutoNBEATS', 'AutoNBEATSx', 'AutoVanillaTransformer', 'AutoDLinear', 'AutoNLinear', 'AutoTiDE', 'AutoKAN', 'AutoPatchTST', 'AutoDeepAR', 'AutoTFT']) {
    expect(new models[type]({ h: 4 }).type).toBe(type)
  }
})

test('an AbortSignal stops the search within a step; finished trials stay usable', async () => {
  // Trials long enough that the search cannot end between two progress reports (100 ms apart).
  const config = { ...SPACE, maxSteps: auto.quniform(2000, 4000, 1000), valCheckSteps: 1000 }
  const model = new models.AutoMLP({ h: 6, numSamples: 50, seed: 3, config })
  const forecaster = new NeuralForecaster({ models: [model], numThreads: 1 })
  const controller = new AbortController()
  let steps = 0
  const onProgress = (p) => {
    steps = p.step
    // Progress names the trial during the search ('AutoMLP trial 3/50'), the model alone after it.
    const trial = /trial (\d+)\//.exec(p.alias)
    if (trial && Number(trial[1]) >= 3) controller.abort()
  }
  await expect(forecaster.fit(sinePanel(2, 60), { signal: controller.signal, onProgress })).rejects.toThrow(/aborted/)
  expect(steps).toBeGreaterThan(0)
  const results = model.searchResults()
  expect(results.stopped).toBe(true)
  expect(results.rows.length).toBeGreaterThanOrEqual(2)
  expect(results.rows.length).toBeLessThan(50)
  expect(forecaster.isFitted).toBe(true)
  expect((await forecaster.predict()).AutoMLP.every(Number.isFinite)).toBe(true)
})

test('the time budget stops a trial under way within a step; a stopped trial cannot win', async () => {
  // A trial far longer than the budget (a million steps): before the budget bounded running trials, it ran to its end.
  const config = { ...SPACE, maxSteps: 1000000 }
  const model = new models.AutoMLP({ h: 6, numSamples: 2, seed: 3, config, timeBudget: 0.5 })
  const forecaster = new NeuralForecaster({ models: [model], numThreads: 1 })
  await expect(forecaster.fit(sinePanel(2, 60))).rejects.toThrow(/no trial of the search finished within the time budget/)
  const results = model.searchResults()
  // On one thread the first trial spends the budget and the second never starts.
  expect(results.skipped).toBe(1)
  expect(results.rows).toHaveLength(1)
  const [row] = results.rows
  expect(row).toMatchObject({ trial: 0, stoppedByBudget: true, pruned: false })
  expect(row.steps).toBeLessThan(1000000)
  // Its loss is the last validation it reached (every 10 steps), if any.
  expect(row.validLoss === null).toBe(row.steps < 10)
  expect(results.bestConfig).toBe(null)
  expect(forecaster.isFitted).toBe(false)
})

test('an Auto model beside another model, with conformal intervals, and in cross-validation', async () => {
  const { crossValidation } = require('../main.js')
  const model = new models.AutoMLP({ h: 6, numSamples: 3, seed: 5, config: SPACE })
  const lstm = new models.LSTM({ h: 6, inputSize: 12, maxSteps: 5, encoderHiddenSize: 8, decoderHiddenSize: 8 })
  const forecaster = new NeuralForecaster({ models: [model, lstm], numThreads: 2 })
  await forecaster.fit(sinePanel(2, 80), { predictionIntervals: { nWindows: 2 } })
  const forecast = await forecaster.predict({ level: [80] })
  expect(forecast['AutoMLP-lo-80'].every((lo, k) => lo <= forecast.AutoMLP[k])).toBe(true)
  expect(forecast.LSTM.every(Number.isFinite)).toBe(true)
  expect(model.results()).toHaveLength(3)
  // Cross-validation searches again inside each refit window.
  const cv = await crossValidation({ models: [{ type: 'AutoMLP', h: 6, numSamples: 2, config: SPACE }], numThreads: 2 }, sinePanel(2, 80), {
    nWindows: 2,
    refit: true,
  })
  expect(cv.AutoMLP).toHaveLength(2 * 2 * 6)
  expect(cv.AutoMLP.every(Number.isFinite)).toBe(true)
  expect(() => new NeuralForecaster({ models: [new models.AutoMLP({ h: 6, refitWithVal: true, config: SPACE }), lstm] })).not.toThrow()
  const both = new NeuralForecaster({ models: [new models.AutoMLP({ h: 6, refitWithVal: true, numSamples: 1, config: SPACE }), lstm] })
  await expect(both.fit(sinePanel(2, 80))).rejects.toThrow(/refitWithVal needs the Auto model alone/)
})

async function searchWith(numThreads, options) {
  const model = new models.AutoMLP({ h: 6, numSamples: 8, seed: 3, config: SPACE, ...options })
  const forecaster = new NeuralForecaster({ models: [model], numThreads })
  await forecaster.fit(sinePanel(3, 60))
  return { model, forecast: await forecaster.predict() }
}

test('successive halving prunes the same trials on 1 and 2 threads, in fewer steps than without it', async () => {
  const halving = { scheduler: 'successiveHalving', gracePeriod: 5, reductionFactor: 2 }
  const one = await searchWith(1, halving)
  const two = await searchWith(2, halving)
  const fifo = await searchWith(2, {})
  const rows = one.model.results()
  expect(rows).toHaveLength(8)
  const strip = (r) => r.map(({ trial, config, validLoss, steps, pruned }) => ({ trial, config, validLoss, steps, pruned }))
  expect(strip(two.model.results())).toEqual(strip(rows))
  expect(two.model.bestConfig).toEqual(one.model.bestConfig)
  expect(Array.from(two.forecast.AutoMLP)).toEqual(Array.from(one.forecast.AutoMLP))
  // Rung 0 at 5 steps keeps 4 of the 8 trials.
  expect(rows.filter((r) => r.pruned && r.steps === 5)).toHaveLength(4)
  const total = (r) => r.reduce((sum, row) => sum + row.steps, 0)
  expect(total(rows)).toBeLessThan(total(fifo.model.results()))
  expect(fifo.model.results().every((r) => r.pruned === false && r.steps === r.config.maxSteps)).toBe(true)
  // A trial run to its end trained as it would have without pruning; the winner has the lowest loss of all.
  for (const row of rows.filter((r) => !r.pruned)) expect(row.validLoss).toBe(fifo.model.results()[row.trial].validLoss)
  const best = Math.min(...rows.map((r) => r.validLoss))
  expect(rows.find((r) => r.validLoss === best).config).toEqual(one.model.bestConfig)
  expect(one.model.scheduler).toBe('successiveHalving')
})

test("searchAlg 'tpe' searches reproducibly after its random startup trials", async () => {
  const { autoTrialConfigs } = require('../main.js')
  const one = await searchWith(1, { searchAlg: 'tpe', numSamples: 14 })
  const two = await searchWith(2, { searchAlg: 'tpe', numSamples: 14 })
  const rows = one.model.results()
  expect(rows).toHaveLength(14)
  expect(rows.every((r) => Number.isFinite(r.validLoss))).toBe(true)
  expect(two.model.results().map((r) => [r.config, r.validLoss])).toEqual(rows.map((r) => [r.config, r.validLoss]))
  expect(Array.from(two.forecast.AutoMLP)).toEqual(Array.from(one.forecast.AutoMLP))
  // The startup trials are random search's draws.
  expect(rows.slice(0, 10).map((r) => r.config)).toEqual(autoTrialConfigs('AutoMLP', { ...one.model, searchAlg: 'random' }).slice(0, 10))
  expect(() => autoTrialConfigs('AutoMLP', one.model)).toThrow(/searchAlg: 'tpe' draws each configuration from the results/)
})
