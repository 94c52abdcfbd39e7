// Validation and early stopping as NeuralForecast's: every window of the held-out part scored in the data's scale
// with validLoss, Lightning's early stopping on it, and the configurations that could never stop rejected.
const { NeuralForecaster, models } = require('..')
const { sinePanel } = require('./sine_panel')

/** One series that climbs for 60 points and falls over its last 12: held out, the fall turns the validation loss up. */
function turningSeries() {
  const y = Array.from({ length: 72 }, (_, t) => (t < 60 ? t : 120 - t))
  return { unique_id: y.map(() => 's'), ds: y.map((_, t) => t), y }
}

const mlp = (extra = {}) =>
  new models.MLP({ h: 6, inputSize: 12, hiddenSize: 32, numLayers: 2, batchSize: 32, scalerType: 'standard', ...extra })

/** Index of the first smallest value: Lightning's best check (a later equal loss is no improvement). */
const firstBest = (losses) => losses.reduce((best, v, i) => (v < losses[best] ? i : best), 0)

const scaled = (data, factor) => ({ ...data, y: data.y.map((v) => v * factor) })

describe('validation and early stopping', () => {
  test('early stopping stops patience checks after the best validation loss, before maxSteps', async () => {
    const model = mlp({ learningRate: 0.01, maxSteps: 1000, valCheckSteps: 5, earlyStopPatienceSteps: 3 })
    const nf = new NeuralForecaster({ models: [model] })
    const [report] = (await nf.fit(turningSeries(), { validationSize: 12 })).models
    const checks = firstBest(report.valLoss) + 1 + 3
    expect(report.stoppedEarly).toBe(true)
    expect(report.valLoss).toHaveLength(checks)
    expect(report.steps).toBe(checks * 5)
    expect(report.steps).toBeLessThan(1000)
  })

  test('the validation loss is in the scale of the data', async () => {
    const fit = async (data) => {
      const nf = new NeuralForecaster({ models: [mlp({ maxSteps: 20, valCheckSteps: 10 })] })
      return (await nf.fit(data, { validationSize: 12 })).models[0].valLoss
    }
    const data = sinePanel(2, 80)
    const [plain, thousandfold] = [await fit(data), await fit(scaled(data, 1000))]
    expect(plain).toHaveLength(2)
    plain.forEach((loss, i) => expect(thousandfold[i] / (1000 * loss)).toBeCloseTo(1, 3))
  })

  test('validLoss scores the validation windows; training is unchanged', async () => {
    const fit = async (extra) => {
      const nf = new NeuralForecaster({ models: [mlp({ maxSteps: 20, valCheckSteps: 10, ...extra })] })
      return (await nf.fit(sinePanel(2, 80), { validationSize: 12 })).models[0]
    }
    const [mae, mse] = [await fit({}), await fit({ validLoss: 'MSE' })]
    expect(mse.trainLoss).toEqual(mae.trainLoss)
    expect(mse.valLoss).not.toEqual(mae.valLoss)
    // The mean square of the errors is at least the square of their mean absolute value.
    mse.valLoss.forEach((loss, i) => expect(loss).toBeGreaterThanOrEqual(mae.valLoss[i] ** 2 * (1 - 1e-6)))
    expect(new models.MLP({ h: 6, inputSize: 12, validLoss: 'MSE' }).validLoss).toEqual({ type: 'MSE' })
  })

  test('an MQLoss model must validate with MQLoss, a point model with a point loss', () => {
    expect(() => new models.MLP({ h: 6, inputSize: 12, loss: 'MQLoss', validLoss: 'MAE' })).toThrow(/validLoss.*MQLoss/)
    expect(() => new models.MLP({ h: 6, inputSize: 12, validLoss: 'MQLoss' })).toThrow(/validLoss/)
    expect(() => new models.MLP({ h: 6, inputSize: 12, loss: 'MQLoss', validLoss: { type: 'MQLoss', level: [50] } })).toThrow(/validLoss/)
  })

  test.each([
    ['earlyStopPatienceSteps without validationSize', { earlyStopPatienceSteps: 2 }, {}, /earlyStopPatienceSteps.*validationSize/],
    ['patience without validationSize', {}, { patience: 2 }, /patience.*validationSize/],
    ['earlyStopping without validationSize', {}, { earlyStopping: true, patience: 2 }, /earlyStopping.*validationSize/],
    ['earlyStopping without a patience', {}, { earlyStopping: true, validationSize: 6 }, /earlyStopping.*patience/],
    ['validationSize and valSize', {}, { validationSize: 6, valSize: 6 }, /validationSize.*valSize/],
  ])('%s is an error', async (_, modelOptions, fitOptions, message) => {
    const nf = new NeuralForecaster({ models: [mlp({ maxSteps: 2, ...modelOptions })] })
    await expect(nf.fit(sinePanel(1, 60), fitOptions)).rejects.toThrow(message)
  })

  test('valSize is validationSize under NeuralForecast name', async () => {
    const fit = async (options) => {
      const nf = new NeuralForecaster({ models: [mlp({ maxSteps: 10, valCheckSteps: 5 })] })
      return (await nf.fit(sinePanel(2, 80), options)).models[0].valLoss
    }
    const valLoss = await fit({ valSize: 12 })
    expect(valLoss).toHaveLength(2)
    expect(valLoss).toEqual(await fit({ validationSize: 12 }))
  })

  test('validation and early stopping give the same results on 1 and 2 threads', async () => {
    const run = async (numThreads) => {
      const model = mlp({ learningRate: 0.01, maxSteps: 1000, valCheckSteps: 5, earlyStopPatienceSteps: 3 })
      const nf = new NeuralForecaster({ models: [model], numThreads })
      const [report] = (await nf.fit(turningSeries(), { validationSize: 12 })).models
      return { steps: report.steps, valLoss: report.valLoss, trainLoss: report.trainLoss, forecast: (await nf.predict()).MLP }
    }
    expect(await run(2)).toEqual(await run(1))
  })
})
