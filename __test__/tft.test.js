// NeuralForecast's TFT through the public API: defaults, fit and predict, bit-identical results on 1 and 2 threads,
// checkpoints, MQLoss, and its future, historic and static exogenous variables.
const path = require('node:path')
const { execFile } = require('node:child_process')
const { NeuralForecaster, models } = require('../main.js')
const { sinePanel, sineValue, sineForecastMae, weightBytes } = require('./sine_panel.js')
const { linearExogPanel } = require('./linear_exog_panel.js')

// TFT's steps cost several times TiDE's: these fits take seconds on a shared machine.
jest.setTimeout(120000)

const small = (extra = {}) => new models.TFT({
  h: 6, inputSize: 24, hiddenSize: 16, nHead: 2, scalerType: 'standard', maxSteps: 150, windowsBatchSize: 32, learningRate: 0.01, ...extra,
})
const panel = sinePanel(2, 80)
/** MAE of `column` over the 6 months after the panel, series s0 and s1. */
const mae = (forecast, column) => sineForecastMae(forecast, column, 80, 6)

test('TFT holds NeuralForecast 3.3 defaults and refuses what it does not implement', () => {
  expect(new models.TFT({ h: 12, inputSize: 24 })).toMatchObject({
    type: 'TFT', hiddenSize: 128, nHead: 4, attnDropout: 0, grnActivation: 'ELU', nRnnLayers: 1, rnnType: 'lstm',
    oneRnnInitialState: false, dropout: 0.1, scalerType: 'robust', windowsBatchSize: 1024, inferenceWindowsBatchSize: 1024,
    learningRate: 1e-3, maxSteps: 1000,
  })
  expect(() => new models.TFT({ h: 12, inputSize: 24, hiddenSize: 10 })).toThrow(/hiddenSize \(10\) must be a multiple of .*nHead \(4\)/)
  expect(() => new models.TFT({ h: 12, inputSize: 24, rnnType: 'gru' })).toThrow(/rnnType/)
  expect(() => new models.TFT({ h: 12, inputSize: 24, grnActivation: 'GLU' })).toThrow(/grnActivation/)
})

describe('fitted on sines', () => {
  const fit = async (numThreads, extra) => {
    const nf = new NeuralForecaster({ models: [small(extra)], numThreads })
    const summary = await nf.fit(panel)
    return { nf, summary, forecast: await nf.predict() }
  }
  const two = fit(2)

  test('forecasts the continuation of the sines with NeuralForecast\'s parameter count', async () => {
    const { forecast, summary } = await two
    expect(mae(forecast, 'TFT')).toBeLessThan(0.3)
    expect(summary.models[0].parameters).toBeGreaterThan(0)
    const defaults = new NeuralForecaster({ models: [new models.TFT({ h: 12, inputSize: 24, maxSteps: 1 })] })
    // NeuralForecast 3.3: sum(p.numel() for p in TFT(h=12, input_size=24).parameters()) = 870,158.
    expect((await defaults.fit(sinePanel(1, 60))).models[0].parameters).toBe(870158)
  })

  test('numThreads 1 and 2 give the same weights and forecasts', async () => {
    const one = await fit(1)
    const { nf, forecast } = await two
    expect(one.forecast.TFT).toEqual(forecast.TFT)
    expect(weightBytes(await one.nf.toBuffer()).equals(weightBytes(await nf.toBuffer()))).toBe(true)
  })

  test('a checkpoint round trip gives the same forecasts, and a window forecast matches predict', async () => {
    const { nf, forecast } = await two
    const copy = await NeuralForecaster.fromBuffer(await nf.toBuffer())
    expect((await copy.predict()).TFT).toEqual(forecast.TFT)
    const window = copy.forecastWindow(panel.y.slice(80 - 24, 80))
    expect(window).toHaveLength(6)
    expect(window[0]).toBeCloseTo(forecast.TFT[0], 4)
  })

  test('MQLoss gives median and interval columns', async () => {
    const mq = new NeuralForecaster({ models: [small({ loss: { type: 'MQLoss', level: [80] } })] })
    await mq.fit(panel)
    const f = await mq.predict()
    expect(Object.keys(f)).toEqual(['unique_id', 'ds', 'TFT-median', 'TFT-lo-80', 'TFT-hi-80'])
    expect(mae(f, 'TFT-median')).toBeLessThan(0.5)
    for (let i = 0; i < 12; i++) expect(f['TFT-lo-80'][i]).toBeLessThan(f['TFT-hi-80'][i])
  })
})

describe('exogenous variables', () => {
  // s: a static level per series.
  const statics = { unique_id: ['a', 'b'], s: [0, 1] }
  const { data, future, errorOf } = linearExogPanel({ levels: [0, 1], extra: 'lag' })
  const options = { h: 6, inputSize: 12, hiddenSize: 16, nHead: 2, dropout: 0, scalerType: 'standard', maxSteps: 300, windowsBatchSize: 64, learningRate: 0.005 }

  test('future variables improve the forecast; historic and static ones are taken', async () => {
    const withX = new NeuralForecaster({ models: [new models.TFT({ ...options, futrExogList: ['x'] })] })
    const plain = new NeuralForecaster({ models: [new models.TFT(options)] })
    await withX.fit(data)
    await plain.fit(data)
    expect(errorOf(await withX.predict({ futrData: future }), 'TFT')).toBeLessThanOrEqual(0.5 * errorOf(await plain.predict(), 'TFT'))
    const all = new NeuralForecaster({ models: [new models.TFT({ ...options, maxSteps: 20, futrExogList: ['x'], histExogList: ['lag'], statExogList: ['s'] })] })
    await all.fit(data, { staticData: statics })
    const f = await all.predict({ futrData: future })
    expect(f.TFT).toHaveLength(12)
    for (const v of f.TFT) expect(Number.isFinite(v)).toBe(true)
  })

  test('featureImportances: per-variable importances summing to 1 per group, named as tft.py, and the attention over time', async () => {
    const tft = new models.TFT({ ...options, maxSteps: 20, futrExogList: ['x'], histExogList: ['lag'], statExogList: ['s'] })
    const nf = new NeuralForecaster({ models: [tft, new models.MLP({ h: 6, inputSize: 12, maxSteps: 1 })] })
    await expect(nf.featureImportances()).rejects.toThrow(/not fitted|fit/i)
    await nf.fit(data, { staticData: statics })
    await expect(nf.featureImportances()).rejects.toThrow(/futrData/)
    const result = await nf.featureImportances({ futrData: future })
    expect(result.model).toBe('TFT')
    expect(Object.keys(result.static)).toEqual(['s'])
    expect(Object.keys(result.past)).toEqual(['lag', 'x', 'observed_target'])
    expect(Object.keys(result.future)).toEqual(['x'])
    for (const group of [result.static, result.past, result.future]) {
      const weights = Object.values(group)
      for (const w of weights) expect(w).toBeGreaterThan(0)
      expect(Math.abs(weights.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5)
    }
    // inputSize + h = 18 steps, each row a causal distribution over the steps.
    expect(result.attention).toHaveLength(18)
    result.attention.forEach((row, t) => {
      expect(row).toHaveLength(18)
      expect(Math.abs(row.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5)
      for (const w of row.slice(t + 1)) expect(w).toBe(0)
    })
    // Other future values give other selection weights; the same ones the same.
    const scaled = { ...future, x: future.x.map((x) => 5 * x - 2) }
    const other = await nf.featureImportances({ futrData: scaled })
    expect(other.future.x).toBe(1)
    expect(other.attention).not.toEqual(result.attention)
    expect(await nf.featureImportances({ futrData: future })).toEqual(result)
  })

  test('featureImportances without exogenous variables has tft.py\'s repeated and observed targets; refusals name the models', async () => {
    const nf = new NeuralForecaster({ models: [new models.TFT({ ...options, maxSteps: 10 })] })
    await nf.fit(data)
    const result = await nf.featureImportances()
    expect(Object.keys(result.past)).toEqual(['repeated_target', 'observed_target'])
    expect(result.static).toEqual({})
    expect(result.future).toEqual({})
    const refit = new NeuralForecaster({ models: [new models.TFT({ ...options, maxSteps: 10 })] })
    await refit.fit({ ...data, y: data.y.map((y, i) => y + Math.sin(i)) })
    expect((await refit.featureImportances()).past).not.toEqual(result.past)
    await expect(nf.featureImportances({ model: 'other' })).rejects.toThrow(/no TFT model with alias 'other'.*'TFT' \(TFT\)/)
    await expect(nf.featureImportances({ model: 3 })).rejects.toThrow(TypeError)
    const mlp = new NeuralForecaster({ models: [new models.MLP({ h: 6, inputSize: 12, maxSteps: 1 })] })
    await mlp.fit(data)
    await expect(mlp.featureImportances()).rejects.toThrow(/needs a TFT model.*'MLP' \(MLP\)/)
  })
})

test('the CLI forecasts with --model tft and sets hiddenSize from --hidden-size', async () => {
  const bin = path.join(__dirname, '..', 'bin', 'neuro-divergent.js')
  const args = ['forecast', '--model', 'tft', '--hidden-size', '8', '--max-steps', '5', '--threads', '1', '--out', '-', '--quiet']
  const stdout = await new Promise((resolve, reject) => {
    execFile(process.execPath, [bin, ...args], { timeout: 60000 }, (err, out) => (err ? reject(err) : resolve(out)))
  })
  const [header, ...rows] = stdout.trim().split('\n')
  expect(header.split(',')).toEqual(['unique_id', 'ds', 'TFT'])
  expect(rows.length).toBeGreaterThan(0)
  for (const row of rows) for (const value of row.split(',').slice(2)) expect(Number.isFinite(Number(value))).toBe(true)
})
