// The option audit: every option of NeuralForecaster, of its calls and of every model has a test that fails if the
// option were ignored, or is rejected with an error naming it. This file holds one small test per option that no
// other test covered; the table below cites the tests that cover the rest.
//
// | option | covered by |
// | --- | --- |
// | constructor `models` | every test |
// | constructor `memoryPool`, `lowMemory` | memory.test.js: 'memoryPool: false holds zero bytes…', 'lowMemory frees a batch forecast’s…'; lowMemory's training shards: src/engine/tests.rs low_memory_gives_the_same_bits_on_any_thread_count… (asserts the weights differ from the default's) |
// | constructor `backend` | bad_input.test.js: 'constructor: cuda backend', 'constructor: unknown backend' |
// | constructor `frequency`, `freq`; models' `excludeInsampleY` | owned by issue-16 work on predictInsample/excludeInsampleY/frequency (g5) |
// | constructor `localScalerType`; models' `scalerType`, `earlyStopPatienceSteps`, `valCheckSteps`; fit `validationSize`, `earlyStopping`, `patience` | owned by issue-16 work on validation/earlyStop/validLoss/scalers (g2) |
// | models' `loss` | owned by issue-16 work on losses (g3); fit_summary.test.js: 'a multi-quantile loss widens the output layer…' |
// | models' and fit's `batchSize` (windowsBatchSize, validBatchSize, inferenceWindowsBatchSize, startPaddingEnabled); crossValidation's and predictionIntervals' `stepSize` | owned by issue-16 work on batch sizes and steps (g1) |
// | models' `futrExogList`, predict `futrData` | exogenous.test.js: 'a model with futrExogList forecasts with half the error or less', '%s uses them too' |
// | models' `histExogList` | exogenous.test.js: 'permuting the historic variable makes the forecasts worse' |
// | models' `statExogList`, fit and predict `staticData` | exogenous.test.js: 'permuting the static variable makes the forecasts worse' |
// | fit `epochs` | forecaster.test.js: 'epochs trains whole passes over the windows instead of maxSteps' |
// | fit `warmStart` | exogenous.test.js: 'fit({ warmStart: false }) starts again from the seeded weights; the default continues' |
// | fit `onProgress` | forecaster.test.js: 'onProgress reports steps and losses; the report has the loss curve' |
// | fit `signal` | forecaster.test.js: 'an AbortSignal stops fit; the forecaster stays unfitted' |
// | fit `predictionIntervals` (`nWindows`, `method`) | intervals.test.js: 'conformal intervals (10 calibration windows, conformal_error)…'; models.test.js: 'conformal intervals come from fit({ predictionIntervals })…' |
// | predict `data` | forecaster.test.js: 'predict with new data forecasts from that history without refitting' |
// | predict `level` | models.test.js: 'Prophet gives its own nested intervals at the requested levels' |
// | crossValidation `nWindows`, `refit` | cross_validation.test.js: 'refit false: one fit…', 'refit true: a fresh fit per window…' |
// | crossValidation `horizon`, `fitOptions` | cross_validation.test.js: 'horizon shorter than h, rows and bare arrays, fitOptions per fit' |
// | crossValidation `level` | models.test.js: 'crossValidation of several families with intervals, and their coverage' |
// | crossValidation `staticData`, `onProgress` | cross_validation_engine.test.js: 'on a Dataset with futrExogList and staticData, every window…' |
// | crossValidation `signal` | cross_validation_engine.test.js: 'an AbortSignal stops the cross-validation with an AbortError' |
// | Prophet `seasonalityMode` values | bad_input.test.js: 'model: unknown Prophet seasonality mode' (and below: 'multiplicative' changes the fit) |
//
// Everything else is tested here. The options every neural model shares (inputSize, learningRate, maxSteps,
// numLrDecays, randomSeed, alias, h) are read once for all of them (src/engine/spec), so one model shows each.
const { NeuralForecaster, models, ops } = require('../main.js')
const { sinePanel } = require('./sine_panel.js')

const SMALL = { h: 4, inputSize: 8, maxSteps: 2, batchSize: 8, randomSeed: 1 }
const STACKS = { ...SMALL, mlpUnits: [[16, 16], [16, 16], [16, 16]] }
const BASES = {
  LSTM: { ...SMALL, encoderHiddenSize: 8, decoderHiddenSize: 8 },
  GRU: { ...SMALL, encoderHiddenSize: 8, decoderHiddenSize: 8 },
  MLP: { ...SMALL, hiddenSize: 16 },
  TCN: { ...SMALL, encoderHiddenSize: 8, decoderHiddenSize: 8 },
  NBEATS: STACKS,
  NBEATSx: STACKS,
  NHITS: STACKS,
  VanillaTransformer: { ...SMALL, hiddenSize: 8, nHead: 2, convHiddenSize: 8 },
  Prophet: { h: 4, uncertaintySamples: 50 },
  DLinear: { ...SMALL, learningRate: 0.01 },
  RNN: { ...SMALL, encoderHiddenSize: 8, decoderHiddenSize: 8 },
  BiTCN: { ...SMALL, hiddenSize: 8 },
  // The multivariate models forecast the panel's 2 series jointly.
  iTransformer: { ...SMALL, nSeries: 2, hiddenSize: 8, nHeads: 2, dFf: 8 },
  TSMixerx: { ...SMALL, nSeries: 2, ffDim: 8 },
  DeepAR: { ...SMALL, lstmHiddenSize: 8 },
  TFT: { ...SMALL, hiddenSize: 8, nHead: 2 },
}

/** Six-hourly series over 30 days (so Prophet's daily and weekly seasonalities both apply). */
function hourlyPanel() {
  const data = { unique_id: [], ds: [], y: [] }
  for (let s = 0; s < 2; s++) {
    for (let t = 0; t < 120; t++) {
      data.unique_id.push(`s${s}`)
      data.ds.push(new Date(Date.UTC(2024, 0, 1, 6 * t)).toISOString().slice(0, 19).replace('T', ' '))
      data.y.push(10 + s + 0.05 * t + Math.sin((2 * Math.PI * t) / 4) + 0.5 * Math.sin((2 * Math.PI * t) / 28))
    }
  }
  return data
}

const signatures = new Map()
/** Everything a fit shows: the parameter count and the forecasts (with 80 % intervals for Prophet). */
async function signature(type, options, forecasterOptions = {}) {
  const key = JSON.stringify([type, options, forecasterOptions])
  if (!signatures.has(key)) {
    const prophet = type === 'Prophet'
    const nf = new NeuralForecaster({ models: [new models[type](options)], numThreads: 2, ...forecasterOptions })
    const summary = await nf.fit(prophet ? hourlyPanel() : sinePanel(2, 60))
    const forecast = await nf.predict(prophet ? { level: [80] } : undefined)
    const columns = Object.keys(forecast).filter((k) => k !== 'unique_id' && k !== 'ds')
    signatures.set(key, JSON.stringify({ parameters: summary.models[0].parameters, columns: columns.map((c) => Array.from(forecast[c])) }))
  }
  return signatures.get(key)
}

// [model, option, value, extra base options the comparison needs]
const changes = [
  ['MLP', 'inputSize', 12],
  ['MLP', 'learningRate', 0.05],
  ['MLP', 'maxSteps', 3],
  ['MLP', 'numLrDecays', 3, { maxSteps: 3 }],
  ['MLP', 'randomSeed', 2],
  ['MLP', 'numLayers', 3],
  ['MLP', 'hiddenSize', 8],
  ...['LSTM', 'GRU'].flatMap((type) => [
    [type, 'encoderNLayers', 1],
    [type, 'encoderHiddenSize', 12],
    [type, 'decoderHiddenSize', 12],
    [type, 'decoderLayers', 3],
  ]),
  ['TCN', 'kernelSize', 3],
  ['TCN', 'dilations', [1, 2]],
  ['TCN', 'encoderHiddenSize', 12],
  ['TCN', 'encoderActivation', 'Tanh'],
  ['TCN', 'decoderHiddenSize', 12],
  ['TCN', 'decoderLayers', 3],
  ...['NBEATS', 'NBEATSx', 'NHITS'].flatMap((type) => [
    [type, 'nBlocks', [2, 1, 1]],
    [type, 'mlpUnits', [[8, 8], [8, 8], [8, 8]]],
    [type, 'activation', 'Tanh'],
    [type, 'sharedWeights', true, { nBlocks: [2, 2, 2] }],
  ]).filter(([type, option]) => !(type === 'NHITS' && option === 'sharedWeights')),
  ['NBEATS', 'stackTypes', ['identity', 'identity', 'seasonality']],
  ['NBEATS', 'nHarmonics', 3],
  ['NBEATS', 'nBasis', 3],
  ['NBEATS', 'basis', 'legendre'],
  ['NBEATSx', 'stackTypes', ['identity', 'identity', 'seasonality']],
  ['NBEATSx', 'nHarmonics', 3],
  ['NBEATSx', 'nPolynomials', 3],
  ['NBEATSx', 'dropoutProbTheta', 0.5],
  ['NHITS', 'nPoolKernelSize', [1, 1, 1]],
  ['NHITS', 'nFreqDownsample', [1, 1, 1]],
  ['NHITS', 'poolingMode', 'AvgPool1d'],
  ['NHITS', 'interpolationMode', 'nearest'],
  ['NHITS', 'dropoutProbTheta', 0.5],
  ['VanillaTransformer', 'hiddenSize', 16],
  ['VanillaTransformer', 'nHead', 4],
  ['VanillaTransformer', 'convHiddenSize', 16],
  ['VanillaTransformer', 'encoderLayers', 1],
  ['VanillaTransformer', 'decoderLayers', 2],
  ['VanillaTransformer', 'dropout', 0.3],
  ['VanillaTransformer', 'activation', 'relu'],
  ['VanillaTransformer', 'decoderInputSizeMultiplier', 0.25],
  ['DLinear', 'movingAvgWindow', 3],
  ['RNN', 'encoderNLayers', 1],
  ['RNN', 'encoderHiddenSize', 12],
  ['RNN', 'decoderHiddenSize', 12],
  ['RNN', 'decoderLayers', 3],
  ['BiTCN', 'hiddenSize', 4],
  ['BiTCN', 'dropout', 0.1],
  ['BiTCN', 'excludeInsampleY', true],
  ['DeepAR', 'lstmNLayers', 1],
  ['DeepAR', 'lstmHiddenSize', 4],
  ['DeepAR', 'lstmDropout', 0.5],
  ['DeepAR', 'decoderHiddenLayers', 1, { decoderHiddenSize: 4 }],
  ['DeepAR', 'decoderHiddenSize', 8, { decoderHiddenLayers: 1, decoderHiddenSize: 4 }],
  ['DeepAR', 'hTrain', 3],
  ['iTransformer', 'hiddenSize', 16],
  ['iTransformer', 'nHeads', 4],
  ['iTransformer', 'eLayers', 1],
  ['iTransformer', 'dFf', 16],
  ['iTransformer', 'dropout', 0.3],
  ['iTransformer', 'useNorm', false],
  ['TSMixerx', 'nBlock', 1],
  ['TSMixerx', 'ffDim', 4],
  ['TSMixerx', 'dropout', 0.3],
  ['TSMixerx', 'revin', false],
  ['TSMixerx', 'excludeInsampleY', true],
  // TFT's oneRnnInitialState shares the static encoder's state GRNs: without static variables (this panel) there
  // are none, as in NeuralForecast; src/models/tft_tests.rs shows its smaller parameter count with them.
  ['TFT', 'hiddenSize', 12],
  ['TFT', 'nHead', 4],
  ['TFT', 'attnDropout', 0.3],
  ['TFT', 'grnActivation', 'ReLU'],
  ['TFT', 'nRnnLayers', 2],
  ['TFT', 'dropout', 0.3],
  ['Prophet', 'nChangepoints', 5],
  ['Prophet', 'changepointRange', 0.5],
  ['Prophet', 'changepointPriorScale', 5],
  ['Prophet', 'seasonalityPriorScale', 0.001],
  ['Prophet', 'seasonalityMode', 'multiplicative'],
  ['Prophet', 'yearlySeasonality', 3],
  ['Prophet', 'weeklySeasonality', false],
  ['Prophet', 'dailySeasonality', false],
  ['Prophet', 'uncertaintySamples', 60],
  ['Prophet', 'randomSeed', 2],
]

test.each(changes)('%s: %s changes the fitted model', async (type, option, value, base = {}) => {
  const options = { ...BASES[type], ...base }
  expect(await signature(type, { ...options, [option]: value })).not.toBe(await signature(type, options))
})

test('NHITS stackTypes: one entry per stack, each the identity, checked against the other per-stack lists', () => {
  expect(() => new models.NHITS({ ...STACKS, stackTypes: ['identity', 'identity'] })).toThrow(/stackTypes|nBlocks|lengths?/)
  expect(() => new models.NHITS({ ...STACKS, stackTypes: ['identity', 'trend', 'identity'] })).toThrow(/stackTypes/)
})

test('NBEATS dropoutProbTheta is rejected, as NeuralForecast does not implement it', () => {
  expect(() => new models.NBEATS({ ...STACKS, dropoutProbTheta: 0.1 })).toThrow(/dropoutProbTheta/)
})

test('TCN contextSize, which NeuralForecast never uses, is rejected unless it is the default', () => {
  expect(() => new models.TCN({ ...BASES.TCN, contextSize: 4 })).toThrow(/contextSize is 4.*never uses/)
  expect(new models.TCN({ ...BASES.TCN, contextSize: 10 }).contextSize).toBe(10)
})

test('horizon is h under another name; alias names the forecast column', async () => {
  const nf = new NeuralForecaster({ models: [new models.MLP({ ...BASES.MLP, h: undefined, horizon: 3, alias: 'mine' })] })
  await nf.fit(sinePanel(1, 60))
  const forecast = await nf.predict()
  expect(forecast.mine).toHaveLength(3)
  expect(forecast.MLP).toBeUndefined()
})

test('constructor seed replaces every model’s randomSeed', async () => {
  const seeded = (seed, randomSeed) => signature('MLP', { ...BASES.MLP, randomSeed }, { seed })
  expect(await seeded(5, 1)).toBe(await seeded(5, 2))
  expect(await seeded(5, 1)).not.toBe(await seeded(6, 1))
})

test('numThreads sizes the per-thread buffers of a batch forecast', async () => {
  const held = async (numThreads) => {
    const nf = new NeuralForecaster({ models: [new models.MLP(BASES.MLP)], numThreads })
    await nf.fit(sinePanel(1, 60))
    await nf.forecastWindows(new Float64Array(8 * 64).map((_, i) => Math.sin(i)))
    return nf.memoryStats().scratchBytes
  }
  expect(await held(2)).toBe(2 * (await held(1)))
})

test('simdEnabled: false runs the scalar kernels, which keep no packed weights', async () => {
  const threadBytes = async (simdEnabled) => {
    const nf = new NeuralForecaster({ models: [new models.MLP(BASES.MLP)], numThreads: 3, simdEnabled })
    await nf.fit(sinePanel(2, 60))
    return nf.memoryStats().threadBytes
  }
  expect(await threadBytes(false)).toBe(0)
  const { detected } = ops.simdInfo()
  if (detected === 'avx2+fma' || detected === 'avx512f') expect(await threadBytes(true)).toBeGreaterThan(0)
})

test('fit maxSteps and learningRate override the models’ own', async () => {
  const fitWith = async (options) => {
    const nf = new NeuralForecaster({ models: [new models.MLP(BASES.MLP)] })
    const summary = await nf.fit(sinePanel(2, 60), options)
    return { steps: summary.models[0].steps, forecast: Array.from((await nf.predict()).MLP) }
  }
  const plain = await fitWith({})
  expect(plain.steps).toBe(2)
  expect((await fitWith({ maxSteps: 3 })).steps).toBe(3)
  expect((await fitWith({ learningRate: 0.05 })).forecast).not.toEqual(plain.forecast)
})

test('predict horizon, forecastSeries horizon and forecastWindow(s) model pick what is forecast', async () => {
  const nf = new NeuralForecaster({ models: [new models.MLP(BASES.MLP), new models.MLP({ ...BASES.MLP, randomSeed: 9, alias: 'other' })] })
  await nf.fit(sinePanel(2, 60))
  expect((await nf.predict({ horizon: 2 })).MLP).toHaveLength(4)
  expect(nf.forecastSeries('s1', { horizon: 3 }).MLP).toHaveLength(3)
  const window = new Float64Array(8).map((_, i) => 10 + Math.sin(i))
  expect(nf.forecastWindow(window, { model: 'other' })).not.toEqual(nf.forecastWindow(window, { model: 0 }))
  expect(await nf.forecastWindows(window, { model: 1 })).toEqual(nf.forecastWindow(window, { model: 'other' }))
})
