// Training batches and windows as NeuralForecast does them: batchSize series a step, windowsBatchSize windows among
// them, stepSize, startPaddingEnabled, and inferenceWindowsBatchSize at prediction.
const { NeuralForecaster, models } = require('../main.js')
const { sinePanel, weightBytes } = require('./sine_panel.js')

const mlp = (extra = {}) =>
  new models.MLP({ h: 6, inputSize: 12, hiddenSize: 16, numLayers: 1, maxSteps: 12, batchSize: 2, windowsBatchSize: 16, ...extra })

async function forecastOf(model, fitOptions = {}, numThreads = 1, data = sinePanel(5, 60)) {
  const nf = new NeuralForecaster({ models: [model], numThreads })
  await nf.fit(data, fitOptions)
  return { nf, values: Array.from((await nf.predict())[model.alias]) }
}


test('each model holds its NeuralForecast batch and window defaults', () => {
  expect(new models.LSTM({ h: 12 })).toMatchObject({
    batchSize: 32, windowsBatchSize: 128, validBatchSize: 32, inferenceWindowsBatchSize: 1024, stepSize: 1, startPaddingEnabled: false,
  })
  expect(new models.NHITS({ h: 12, inputSize: 24 })).toMatchObject({ batchSize: 32, windowsBatchSize: 1024, inferenceWindowsBatchSize: -1 })
  expect(new models.MLP({ h: 12, inputSize: 24, batchSize: 4 })).toMatchObject({ validBatchSize: 4 })
})

test('numThreads 1 and 2 give the same weights and forecasts with non-default batchSize and windowsBatchSize', async () => {
  for (const model of [() => mlp(), () => new models.LSTM({ h: 6, inputSize: 12, encoderHiddenSize: 8, decoderHiddenSize: 8, maxSteps: 8, batchSize: 3, windowsBatchSize: 24 })]) {
    const one = await forecastOf(model(), {}, 1)
    const two = await forecastOf(model(), {}, 2)
    expect(two.values).toEqual(one.values)
    expect(weightBytes(await two.nf.toBuffer()).equals(weightBytes(await one.nf.toBuffer()))).toBe(true)
  }
})

test('batchSize, windowsBatchSize, stepSize and startPaddingEnabled each change what is trained', async () => {
  const base = (await forecastOf(mlp())).values
  for (const extra of [{ batchSize: 3 }, { windowsBatchSize: 8 }, { stepSize: 3 }, { startPaddingEnabled: true }]) {
    const changed = (await forecastOf(mlp(extra))).values
    expect({ extra, differs: changed.some((v, i) => v !== base[i]) }).toEqual({ extra, differs: true })
  }
  for (const fitOptions of [{ batchSize: 3 }, { windowsBatchSize: 8 }]) {
    const changed = (await forecastOf(mlp(), fitOptions)).values
    expect({ fitOptions, differs: changed.some((v, i) => v !== base[i]) }).toEqual({ fitOptions, differs: true })
  }
})

test('inferenceWindowsBatchSize splits forward passes without changing a forecast', async () => {
  const all = await forecastOf(mlp({ inferenceWindowsBatchSize: -1 }))
  const one = await forecastOf(mlp({ inferenceWindowsBatchSize: 1 }))
  expect(one.values).toEqual(all.values)
  const windows = Float64Array.from({ length: 40 * 12 }, (_, i) => 10 + Math.sin(i / 3))
  expect(Array.from(await one.nf.forecastWindows(windows))).toEqual(Array.from(await all.nf.forecastWindows(windows)))
})

test('startPaddingEnabled lets a series of inputSize points train; without it the error names the option', async () => {
  const short = sinePanel(1, 12)
  await expect(forecastOf(mlp(), {}, 1, short)).rejects.toThrow(RangeError)
  await expect(forecastOf(mlp(), {}, 1, short)).rejects.toThrow(/startPaddingEnabled/)
  const padded = await forecastOf(mlp({ startPaddingEnabled: true }), {}, 1, short)
  expect(padded.values).toHaveLength(6)
  expect(padded.values.every(Number.isFinite)).toBe(true)
})

describe('invalid batch and window options are errors that name the option', () => {
  const keys = ['batchSize', 'windowsBatchSize', 'validBatchSize', 'inferenceWindowsBatchSize', 'stepSize']
  test.each(keys.flatMap((key) => [0, -2, 1.5].map((value) => [key, value])))('model %s = %p: RangeError', (key, value) => {
    expect(() => mlp({ [key]: value })).toThrow(RangeError)
    expect(() => mlp({ [key]: value })).toThrow(new RegExp(key))
  })
  test.each(keys)('model %s = "8": TypeError', (key) => {
    expect(() => mlp({ [key]: '8' })).toThrow(TypeError)
    expect(() => mlp({ [key]: '8' })).toThrow(new RegExp(key))
  })
  test('model startPaddingEnabled = 1: TypeError', () => {
    expect(() => mlp({ startPaddingEnabled: 1 })).toThrow(TypeError)
    expect(() => mlp({ startPaddingEnabled: 1 })).toThrow(/startPaddingEnabled/)
  })
  test.each([['batchSize', 0], ['batchSize', -1], ['batchSize', 2.5], ['windowsBatchSize', 0], ['windowsBatchSize', -3], ['windowsBatchSize', 0.5]])(
    'fit %s = %p: RangeError',
    async (key, value) => {
      const nf = new NeuralForecaster({ models: [mlp()] })
      await expect(nf.fit(sinePanel(2, 40), { [key]: value })).rejects.toThrow(RangeError)
      await expect(nf.fit(sinePanel(2, 40), { [key]: value })).rejects.toThrow(new RegExp(key))
    },
  )
  test.each(['batchSize', 'windowsBatchSize'])('fit %s = "8": TypeError', async (key) => {
    const nf = new NeuralForecaster({ models: [mlp()] })
    await expect(nf.fit(sinePanel(2, 40), { [key]: '8' })).rejects.toThrow(TypeError)
  })
})

test('inferenceWindowsBatchSize bounds the windows a forward pass holds: smaller passes, fewer scratch bytes', async () => {
  const panel = sinePanel(40, 60)
  const held = async (inferenceWindowsBatchSize) => {
    const { nf } = await forecastOf(mlp({ inferenceWindowsBatchSize }), {}, 1, panel)
    return nf.memoryStats().scratchBytes
  }
  expect(await held(1)).toBeLessThan(await held(-1))
})

test('validBatchSize sets the series of a validation pass: with RMSE, the root of each pass, so the losses differ', async () => {
  // Series of different scales make the per-pass roots differ from the root over all windows.
  const panel = sinePanel(4, 60)
  panel.y = panel.y.map((v, i) => v * (1 + 10 * Math.floor(i / 60)))
  const valLoss = async (validBatchSize) => {
    const model = mlp({ validLoss: 'RMSE', validBatchSize, valCheckSteps: 4 })
    const nf = new NeuralForecaster({ models: [model], numThreads: 1 })
    const report = await nf.fit(panel, { validationSize: 6 })
    return report.models[0].valLoss
  }
  const [whole, single] = [await valLoss(4), await valLoss(1)]
  expect(whole).toHaveLength(3)
  expect(single.every((v, i) => v !== whole[i])).toBe(true)
})
