// The Auto models of the multivariate models (AutoTSMixer, AutoTSMixerx, AutoiTransformer): nSeries fixed in every
// trial, the trials trained on all the series jointly; the same seed gives the same trials, winner and forecasts on
// 1 and 2 threads, and a checkpoint stores the winner with its configuration.
const { NeuralForecaster, models, auto, autoTrialConfigs } = require('..')
const { sinePanel } = require('./sine_panel.js')

const panel = sinePanel(3, 48)
const SPACE = {
  inputSize: auto.choice([8, 12]),
  nBlock: auto.choice([1, 2]),
  ffDim: 8,
  dropout: auto.uniform(0, 0.3),
  learningRate: auto.loguniform(1e-3, 1e-1),
  maxSteps: auto.quniform(10, 20, 10),
  valCheckSteps: 10,
  windowsBatchSize: 8,
  randomSeed: auto.randint(1, 20),
}

async function search(numThreads, type = 'AutoTSMixer', config = SPACE) {
  const model = new models[type]({ h: 4, nSeries: 3, numSamples: 3, seed: 7, config })
  const forecaster = new NeuralForecaster({ models: [model], numThreads })
  await forecaster.fit(panel)
  return { model, forecaster, forecast: await forecaster.predict() }
}

test('the same seed gives the same trials, winner and forecasts of every series on 1 and 2 threads', async () => {
  const one = await search(1)
  const two = await search(2)
  const rows = one.model.results()
  expect(rows).toHaveLength(3)
  for (const row of rows) {
    expect(Number.isFinite(row.validLoss)).toBe(true)
    expect(row.steps).toBe(row.config.maxSteps)
    expect(row.config.nSeries).toBeUndefined()
  }
  const strip = (r) => r.map(({ trial, config, validLoss, steps }) => ({ trial, config, validLoss, steps }))
  expect(strip(two.model.results())).toEqual(strip(rows))
  expect(rows.map((r) => r.config)).toEqual(autoTrialConfigs('AutoTSMixer', one.model))
  const best = rows.reduce((a, b) => (b.validLoss < a.validLoss ? b : a))
  expect(one.model.bestConfig).toEqual(best.config)
  expect(two.model.bestConfig).toEqual(best.config)
  expect(one.forecast.unique_id).toEqual(['s0', 's1', 's2'].flatMap((id) => Array(4).fill(id)))
  expect(Array.from(one.forecast.AutoTSMixer)).toEqual(Array.from(two.forecast.AutoTSMixer))
  expect(one.forecast.AutoTSMixer.every(Number.isFinite)).toBe(true)
  // The winner is the plain model with the winning configuration, trained on all the series jointly.
  const plain = new NeuralForecaster({ models: [new models.TSMixer({ h: 4, nSeries: 3, ...best.config, alias: 'AutoTSMixer' })], numThreads: 1 })
  await plain.fit(panel)
  expect(Array.from((await plain.predict()).AutoTSMixer)).toEqual(Array.from(one.forecast.AutoTSMixer))
})

test('a checkpoint stores the winner with its configuration and nSeries', async () => {
  const { model, forecaster, forecast } = await search(2)
  const bytes = await forecaster.toBuffer()
  const loaded = await NeuralForecaster.fromBuffer(bytes)
  expect(Array.from((await loaded.predict()).AutoTSMixer)).toEqual(Array.from(forecast.AutoTSMixer))
  const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString())
  const [stored] = JSON.parse(header.__metadata__.engine).models
  expect(stored.type).toBe('TSMixer')
  expect(stored.nSeries).toBe(3)
  for (const [key, value] of Object.entries(model.bestConfig)) expect(stored[key]).toEqual(value)
})

test('AutoTSMixerx and AutoiTransformer search the same way', async () => {
  const mixerx = await search(2, 'AutoTSMixerx')
  expect(mixerx.model.results()).toHaveLength(3)
  expect(mixerx.forecast.AutoTSMixerx.every(Number.isFinite)).toBe(true)
  const { nBlock, ffDim, dropout, ...shared } = SPACE
  void [nBlock, ffDim, dropout]
  const itransformer = await search(2, 'AutoiTransformer', { ...shared, hiddenSize: auto.choice([8, 16]), nHeads: 2, eLayers: 1, dFf: 16 })
  expect(itransformer.model.results().every((r) => Number.isFinite(r.validLoss))).toBe(true)
  expect(itransformer.forecast.AutoiTransformer).toHaveLength(3 * 4)
})

test('the default spaces are NeuralForecast 3.3 ones, with nSeries fixed', () => {
  const mixer = new models.AutoTSMixer({ h: 12, nSeries: 5 })
  expect(mixer.nSeries).toBe(5)
  expect(mixer.config).toEqual({
    inputSize: auto.choice([12, 24, 36, 48]),
    nBlock: auto.choice([1, 2, 4, 6, 8]),
    learningRate: auto.loguniform(1e-4, 1e-2),
    ffDim: auto.choice([32, 64, 128]),
    scalerType: auto.choice(['identity', 'robust', 'standard']),
    maxSteps: auto.choice([500, 1000, 2000]),
    batchSize: auto.choice([32, 64, 128, 256]),
    dropout: auto.uniform(0, 0.99),
    randomSeed: auto.randint(1, 20),
    stepSize: auto.choice([1, 12]),
  })
  expect(new models.AutoTSMixerx({ h: 12, nSeries: 5 }).config).toEqual(mixer.config)
  const itransformer = new models.AutoiTransformer({ h: 12, nSeries: 5 })
  expect(itransformer.config.inputSize).toEqual(auto.choice([12, 24, 36, 48, 60]))
  expect(itransformer.config.hiddenSize).toEqual(auto.choice([64, 128, 256]))
  expect(itransformer.config.nHeads).toEqual(auto.choice([4, 8]))
  expect(itransformer.config.learningRate).toEqual(auto.loguniform(1e-4, 1e-1))
  expect(itransformer.config.stepSize).toEqual(auto.choice([1, 12]))
  expect(itransformer.config.windowsBatchSize).toBeUndefined()
})

test('nSeries is required, not searched, and must be the number of series in the data', async () => {
  expect(() => new models.AutoTSMixer({ h: 4 })).toThrow(/nSeries is missing: AutoTSMixer searches a multivariate model/)
  expect(() => new models.AutoiTransformer({ h: 4, nSeries: 3, config: { nSeries: 3 } })).toThrow(/config\.nSeries: the series count is not searched/)
  expect(() => new models.AutoMLP({ h: 4, nSeries: 3 })).toThrow(/unknown option 'nSeries'/)
  // An AutoEnsemble gives its families no nSeries: the multivariate ones are not families.
  expect(() => new models.AutoEnsemble({ h: 4, families: ['NLinear', 'TSMixer'] })).toThrow(/nSeries is missing: AutoTSMixer searches a multivariate model/)
  expect(() => new models.AutoTSMixer({ h: 4, nSeries: 3, config: { ffDim: auto.choice([]) } })).toThrow(/config\.ffDim: choice has no values/)
  const model = new models.AutoTSMixer({ h: 4, nSeries: 2, numSamples: 2, config: SPACE })
  const forecaster = new NeuralForecaster({ models: [model] })
  await expect(forecaster.fit(panel)).rejects.toThrow(/model 'AutoTSMixer' is multivariate with nSeries = 2, but the data has 3 series/)
  expect(forecaster.isFitted).toBe(false)
})
