// NeuralForecast's TiDE and KAN through the public API: defaults, fit and predict, bit-identical results on 1 and
// 2 threads, checkpoints, MQLoss and conformal intervals, and their exogenous variables.
const path = require('node:path')
const { execFile } = require('node:child_process')
const { NeuralForecaster, models } = require('../main.js')
const { sinePanel, sineValue, sineForecastMae, weightBytes } = require('./sine_panel.js')
const { linearExogPanel } = require('./linear_exog_panel.js')

/** Small, quick configurations of each model, on sines of period 12 (`sinePanel`). */
const SMALL = {
  TiDE: (extra = {}) => new models.TiDE({ h: 6, inputSize: 24, hiddenSize: 32, temporalDecoderDim: 16, scalerType: 'standard', maxSteps: 150, windowsBatchSize: 32, learningRate: 0.01, ...extra }),
  KAN: (extra = {}) => new models.KAN({ h: 6, inputSize: 24, hiddenSize: 32, scalerType: 'standard', maxSteps: 150, windowsBatchSize: 32, learningRate: 0.01, ...extra }),
}

const panel = sinePanel(2, 80)
const truth = sineValue
/** MAE of `column` over the 6 months after the panel, series s0 and s1. */
const mae = (forecast, column) => sineForecastMae(forecast, column, 80, 6)

test('TiDE holds NeuralForecast 3.3 defaults', () => {
  expect(new models.TiDE({ h: 12, inputSize: 24 })).toMatchObject({
    type: 'TiDE', hiddenSize: 512, decoderOutputDim: 32, temporalDecoderDim: 128, dropout: 0.3, layernorm: true,
    numEncoderLayers: 1, numDecoderLayers: 1, temporalWidth: 4, excludeInsampleY: false, scalerType: 'identity',
    windowsBatchSize: 1024, inferenceWindowsBatchSize: 1024, learningRate: 1e-3, maxSteps: 1000,
  })
  expect(() => new models.TiDE({ h: 12, inputSize: 24, dropout: 1 })).toThrow(/dropout/)
  expect(() => new models.TiDE({ h: 12, inputSize: 24, temporalWidth: 0 })).toThrow(/temporalWidth/)
})

test('KAN holds NeuralForecast 3.3 defaults and rejects what NeuralForecast would ignore', () => {
  expect(new models.KAN({ h: 12, inputSize: 24 })).toMatchObject({
    type: 'KAN', gridSize: 5, splineOrder: 3, scaleNoise: 0.1, scaleBase: 1, scaleSpline: 1, enableStandaloneScaleSpline: true,
    gridEps: 0.02, gridRange: [-1, 1], nHiddenLayers: 1, hiddenSize: 512, excludeInsampleY: false, scalerType: 'identity',
    windowsBatchSize: 1024, inferenceWindowsBatchSize: -1, learningRate: 1e-3, maxSteps: 1000,
  })
  expect(new models.KAN({ h: 12, inputSize: 24, nHiddenLayers: 2, hiddenSize: [64, 32] }).hiddenSize).toEqual([64, 32])
  expect(() => new models.KAN({ h: 12, inputSize: 24, hiddenSize: [64, 32] })).toThrow(/hiddenSize must have nHiddenLayers \(1\) elements/)
  expect(() => new models.KAN({ h: 12, inputSize: 24, gridEps: 0.1 })).toThrow(/gridEps/)
  expect(() => new models.KAN({ h: 12, inputSize: 24, enableStandaloneScaleSpline: false })).toThrow(/enableStandaloneScaleSpline/)
})

test('KAN options change the network: gridSize and splineOrder set the spline coefficients', async () => {
  const parameters = async (extra) => {
    const nf = new NeuralForecaster({ models: [SMALL.KAN({ maxSteps: 1, ...extra })] })
    return (await nf.fit(panel)).models[0].parameters
  }
  // (24 + 6) × 32 × (gridSize + splineOrder + 2) over the two layers.
  expect(await parameters({})).toBe((24 + 6) * 32 * 10)
  expect(await parameters({ gridSize: 7, splineOrder: 2 })).toBe((24 + 6) * 32 * 11)
})

describe.each(Object.keys(SMALL))('%s', (type) => {
  const fit = async (numThreads, extra) => {
    const nf = new NeuralForecaster({ models: [SMALL[type](extra)], numThreads })
    const summary = await nf.fit(panel)
    return { nf, summary, forecast: await nf.predict() }
  }
  const two = fit(2)

  test('forecasts the continuation of the sines', async () => {
    const { forecast } = await two
    expect(mae(forecast, type)).toBeLessThan(0.3)
  })

  test('numThreads 1 and 2 give the same weights and forecasts', async () => {
    const one = await fit(1)
    const { nf, forecast } = await two
    expect(one.forecast[type]).toEqual(forecast[type])
    expect(weightBytes(await one.nf.toBuffer()).equals(weightBytes(await nf.toBuffer()))).toBe(true)
  })

  test('a checkpoint round trip gives the same forecasts, and a window forecast matches predict', async () => {
    const { nf, forecast } = await two
    const copy = await NeuralForecaster.fromBuffer(await nf.toBuffer())
    expect((await copy.predict())[type]).toEqual(forecast[type])
    const window = copy.forecastWindow(panel.y.slice(80 - 24, 80))
    expect(window).toHaveLength(6)
    expect(window[0]).toBeCloseTo(forecast[type][0], 4)
  })

  test('MQLoss gives median and interval columns; conformal intervals surround the forecast', async () => {
    const mq = new NeuralForecaster({ models: [SMALL[type]({ loss: { type: 'MQLoss', level: [80] } })] })
    await mq.fit(panel)
    const f = await mq.predict()
    expect(Object.keys(f)).toEqual(['unique_id', 'ds', `${type}-median`, `${type}-lo-80`, `${type}-hi-80`])
    expect(mae(f, `${type}-median`)).toBeLessThan(0.5)
    for (let i = 0; i < 12; i++) expect(f[`${type}-lo-80`][i]).toBeLessThan(f[`${type}-hi-80`][i])
    const conformal = new NeuralForecaster({ models: [SMALL[type]()] })
    await conformal.fit(panel, { predictionIntervals: { nWindows: 3 } })
    const g = await conformal.predict({ level: [80] })
    for (let i = 0; i < 12; i++) {
      expect(g[`${type}-lo-80`][i]).toBeLessThanOrEqual(g[type][i])
      expect(g[type][i]).toBeLessThanOrEqual(g[`${type}-hi-80`][i])
    }
  })
})

describe('exogenous variables', () => {
  const { data, future, errorOf } = linearExogPanel()

  // With one output per point, TiDE's temporal decoder ends in NeuralForecast's LayerNorm over one value, which
  // outputs its bias: the future variables reach the forecast through the network only without that LayerNorm.
  test.each([
    ['TiDE', { h: 6, inputSize: 12, hiddenSize: 32, layernorm: false, dropout: 0, scalerType: 'standard', maxSteps: 300, windowsBatchSize: 64, learningRate: 0.005 }],
    ['KAN', { h: 6, inputSize: 12, hiddenSize: 16, scalerType: 'standard', maxSteps: 300, windowsBatchSize: 64, learningRate: 0.005 }],
  ])('%s uses future variables', async (type, options) => {
    const withX = new NeuralForecaster({ models: [new models[type]({ ...options, futrExogList: ['x'] })] })
    const plain = new NeuralForecaster({ models: [new models[type](options)] })
    await withX.fit(data)
    await plain.fit(data)
    expect(errorOf(await withX.predict({ futrData: future }), type)).toBeLessThanOrEqual(0.5 * errorOf(await plain.predict(), type))
  })
})

test('the CLI forecasts with --model tide,kan and sets their hiddenSize from --hidden-size', async () => {
  const bin = path.join(__dirname, '..', 'bin', 'neuro-divergent.js')
  const args = ['forecast', '--model', 'tide,kan', '--hidden-size', '8', '--max-steps', '5', '--threads', '1', '--out', '-', '--quiet']
  const stdout = await new Promise((resolve, reject) => {
    execFile(process.execPath, [bin, ...args], { timeout: 60000 }, (err, out) => (err ? reject(err) : resolve(out)))
  })
  const [header, ...rows] = stdout.trim().split('\n')
  expect(header.split(',')).toEqual(['unique_id', 'ds', 'TiDE', 'KAN'])
  expect(rows.length).toBeGreaterThan(0)
  for (const row of rows) for (const value of row.split(',').slice(2)) expect(Number.isFinite(Number(value))).toBe(true)
})
