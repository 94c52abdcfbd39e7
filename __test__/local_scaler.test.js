// The local scaler (localScalerType) scales every temporal column per series, as NeuralForecast's core does: y and
// the exogenous columns, the future values of predict({ futrData }) with the statistics of the fitted series.
const { NeuralForecaster, models } = require('..')

/** A seeded uniform generator in [0, 1) (a small LCG), so the data are the same on every run. */
function random(seed) {
  let state = seed >>> 0
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

/** Three series driven by a future exogenous x: 60 points to fit, 6 more to update with, and x over the 6 after. */
function panel(transform) {
  const next = random(11)
  const train = { unique_id: [], ds: [], y: [], x: [] }
  const bars = { unique_id: [], ds: [], y: [], x: [] }
  const futrData = { unique_id: [], ds: [], x: [] }
  for (const [s, id] of ['a', 'b', 'c'].entries()) {
    for (let t = 0; t < 72; t++) {
      const x = next()
      const y = 10 + s + 3 * x + 0.05 * next()
      const into = t < 60 ? train : t < 66 ? bars : futrData
      into.unique_id.push(id)
      into.ds.push(t)
      into.x.push(transform(x, s))
      if (into.y) into.y.push(y)
    }
  }
  return { train, bars, futrData }
}

test('localScalerType scales the exogenous columns per series (fit, update, futrData): an affine change of x changes no forecast', async () => {
  const forecast = async (transform) => {
    const { train, bars, futrData } = panel(transform)
    const mlp = new models.MLP({ h: 6, inputSize: 12, hiddenSize: 16, maxSteps: 30, batchSize: 32, futrExogList: ['x'] })
    const nf = new NeuralForecaster({ models: [mlp], localScalerType: 'standard' })
    await nf.fit(train)
    nf.update(bars)
    return (await nf.predict({ futrData })).MLP
  }
  const plain = await forecast((x) => x)
  // Each series' x in another unit and origin: the same once scaled by its own statistics (up to the scaler's eps).
  const moved = await forecast((x, s) => 1000 * (s + 1) * x - 250 * s)
  expect(moved).toHaveLength(18)
  moved.forEach((v, i) => expect(v).toBeCloseTo(plain[i], 2))
})

test("localScalerType 'robust' takes coreforecast's statistics: numpy's median and MAD of the series, no epsilon", async () => {
  // NeuralForecast 3.3 (coreforecast's LocalRobustScaler('mad')) on y = [1, 2, 10, 20, 1, 2, 10, 20, ...]: an even
  // count, so the median is the mean of the two middle values, 6 (torch's lower median would be 2), and the MAD 4.5.
  const y = Array.from({ length: 40 }, (_, t) => [1, 2, 10, 20][t % 4])
  const mlp = new models.MLP({ h: 2, inputSize: 8, hiddenSize: 8, maxSteps: 2 })
  const nf = new NeuralForecaster({ models: [mlp], localScalerType: 'robust' })
  await nf.fit({ unique_id: y.map(() => 'a'), ds: y.map((_, t) => t), y })
  const bytes = await nf.toBuffer()
  const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString())
  const [series] = JSON.parse(header.__metadata__.engine).fitted.series
  expect([series.shift, series.scale]).toEqual([6, 4.5])
})
