// PatchTST through the public API: NeuralForecast's defaults and parameter count, fit and predict, bit-identical
// results on 1 and 2 threads, BatchNorm's running statistics in checkpoints, MQLoss, conformal intervals, and the
// errors for what NeuralForecast's PatchTST does not take.
const { NeuralForecaster, models } = require('..')
const { sinePanel } = require('./sine_panel.js')
const { tensors } = require('./checkpoint_tensors.js')

const panel = sinePanel(2, 96)
const truth = (s, t) => 10 + s + Math.sin((2 * Math.PI * t) / 12 + s)

/** A small PatchTST that learns the sines in a few seconds. */
const small = (options = {}) =>
  new models.PatchTST({ h: 6, inputSize: 24, hiddenSize: 16, nHeads: 4, linearHiddenSize: 32, maxSteps: 60, windowsBatchSize: 32, learningRate: 0.005, ...options })

test('models.PatchTST holds NeuralForecast defaults and has its parameter count', async () => {
  const model = new models.PatchTST({ h: 12, inputSize: 24 })
  expect(model).toMatchObject({
    encoderLayers: 3, nHeads: 16, hiddenSize: 128, linearHiddenSize: 256, dropout: 0.2, fcDropout: 0.2, headDropout: 0, attnDropout: 0,
    patchLen: 16, stride: 8, revin: true, revinAffine: false, revinSubtractLast: true, activation: 'gelu', resAttention: true,
    batchNormalization: false, learnPosEmbed: true, learningRate: 1e-4, maxSteps: 5000, scalerType: 'identity',
  })
  const nf = new NeuralForecaster({ models: [new models.PatchTST({ h: 12, inputSize: 24, maxSteps: 1, windowsBatchSize: 32 })] })
  const summary = await nf.fit(sinePanel(1, 60))
  expect(summary.models[0].parameters).toBe(404623)
}, 30000)

describe('a fitted PatchTST', () => {
  const fitWith = async (numThreads) => {
    const nf = new NeuralForecaster({ models: [small()], numThreads })
    await nf.fit(panel)
    return nf
  }
  const two = fitWith(2)

  test('forecasts the continuation of the sines', async () => {
    const forecast = await (await two).predict()
    let sum = 0
    for (let i = 0; i < 12; i++) sum += Math.abs(forecast.PatchTST[i] - truth(i < 6 ? 0 : 1, 96 + (i % 6)))
    expect(sum / 12).toBeLessThan(0.5) // the series' own swing is ±1
  })

  test('numThreads 1 and 2 give bit-identical weights, running statistics and forecasts', async () => {
    const one = await fitWith(1)
    const weights = [tensors(await one.toBuffer()), tensors(await (await two).toBuffer())]
    expect(Object.keys(weights[1])).toEqual(Object.keys(weights[0]))
    for (const name of Object.keys(weights[0])) expect(weights[1][name].equals(weights[0][name])).toBe(true)
    const forecasts = [await one.predict(), await (await two).predict()]
    expect(Buffer.from(forecasts[1].PatchTST.buffer)).toEqual(Buffer.from(forecasts[0].PatchTST.buffer))
  })

  test('checkpoints keep BatchNorm running statistics under NeuralForecast names', async () => {
    const nf = await two
    const saved = tensors(await nf.toBuffer())
    const tracked = Object.keys(saved).find((name) => name.endsWith('model.backbone.encoder.layers.0.norm_attn.1.num_batches_tracked'))
    expect(tracked).toBeDefined()
    expect(new Float32Array(new Uint8Array(saved[tracked]).buffer)[0]).toBe(60) // one per training step
    const runningVar = Object.keys(saved).find((name) => name.endsWith('layers.2.norm_ffn.1.running_var'))
    expect(new Float32Array(new Uint8Array(saved[runningVar]).buffer).some((v) => v !== 1)).toBe(true)
    const again = await NeuralForecaster.fromBuffer(await nf.toBuffer())
    expect((await again.predict()).PatchTST).toEqual((await nf.predict()).PatchTST)
    // A window alone is forecast as in the batch of predict (running statistics, not the batch's).
    const window = nf.forecastWindow(panel.y.slice(96 - 24, 96))
    expect(Array.from(window)).toEqual(Array.from((await nf.predict()).PatchTST.slice(0, 6)))
  })
})

test('PatchTST trains with MQLoss and gives conformal intervals', async () => {
  const nf = new NeuralForecaster({ models: [small({ loss: { type: 'MQLoss', level: [80] } })] })
  await nf.fit(panel)
  const f = await nf.predict()
  expect(Object.keys(f)).toEqual(['unique_id', 'ds', 'PatchTST-median', 'PatchTST-lo-80', 'PatchTST-hi-80'])
  for (let i = 0; i < 12; i++) expect(f['PatchTST-lo-80'][i]).toBeLessThan(f['PatchTST-hi-80'][i])
  const conformal = new NeuralForecaster({ models: [small()] })
  await conformal.fit(panel, { predictionIntervals: { nWindows: 3 } })
  const g = await conformal.predict({ level: [80] })
  for (let i = 0; i < 12; i++) {
    expect(g['PatchTST-lo-80'][i]).toBeLessThanOrEqual(g.PatchTST[i])
    expect(g.PatchTST[i]).toBeLessThanOrEqual(g['PatchTST-hi-80'][i])
  }
})

test('what NeuralForecast\'s PatchTST does not take is an error naming it', () => {
  expect(() => small({ histExogList: ['x'] })).toThrow(/PatchTST takes no exogenous variables.*histExogList/)
  expect(() => small({ hiddenSize: 18 })).toThrow(/hiddenSize.*multiple of nHeads/)
  expect(() => small({ fcDropout: 0.5 })).toThrow(/fcDropout/)
})
