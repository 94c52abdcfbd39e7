// Forecasters of every model type (exogenous, multi-model and multi-quantile ones included), small and quick to
// fit, on a seeded monthly panel with future, historic and static exogenous columns: the save -> load round
// trips in NeuralForecast's format (neuralforecast_interop.test.js) and the check against NeuralForecast itself
// (bench/neuralforecast_interop_write.js) use the same ones.
const { models } = require('../main.js')

const H = 6
const LENGTH = 60

/** `months` ISO dates from 2000-01-01, month starts. */
function months(count) {
  return Array.from({ length: count }, (_, t) => `${2000 + Math.floor(t / 12)}-${String((t % 12) + 1).padStart(2, '0')}-01`)
}

/** Two seeded series of LENGTH + H months: y with x (future), z (historic) and static s. */
function panel() {
  let state = 11
  const next = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32)
  const all = { unique_id: [], ds: [], y: [], x: [], z: [] }
  const dates = months(LENGTH + H)
  for (const [s, id] of ['a', 'b'].entries()) {
    for (let t = 0; t < LENGTH + H; t++) {
      const x = next()
      all.unique_id.push(id)
      all.ds.push(dates[t])
      all.x.push(x)
      all.z.push(next())
      all.y.push(20 + 5 * s + 3 * Math.sin((2 * Math.PI * t) / 12) + 2 * x + 0.3 * next())
    }
  }
  const rows = (from, to) => {
    const out = Object.fromEntries(Object.keys(all).map((k) => [k, []]))
    all.y.forEach((_, i) => {
      const t = i % (LENGTH + H)
      if (t >= from && t < to) for (const k of Object.keys(all)) out[k].push(all[k][i])
    })
    return out
  }
  const history = rows(0, LENGTH)
  const future = rows(LENGTH, LENGTH + H)
  return {
    history,
    futrData: { unique_id: future.unique_id, ds: future.ds, x: future.x },
    staticData: { unique_id: ['a', 'b'], s: [0, 1] },
  }
}

const base = { h: H, inputSize: 12, maxSteps: 5, randomSeed: 3 }
const exog = { futrExogList: ['x'], histExogList: ['z'], statExogList: ['s'] }

/** name -> { models, options (NeuralForecaster's besides models), exog: whether it reads x, z or s }. */
const cases = {
  LSTM: { models: () => [new models.LSTM({ ...base, encoderHiddenSize: 16, decoderHiddenSize: 16, scalerType: 'standard' })] },
  GRU: { models: () => [new models.GRU({ ...base, encoderHiddenSize: 16, decoderHiddenSize: 16 })] },
  MLP: { models: () => [new models.MLP({ ...base, hiddenSize: 32, loss: 'HuberLoss' })] },
  TCN: { models: () => [new models.TCN({ ...base, encoderHiddenSize: 16, decoderHiddenSize: 16, dilations: [1, 2, 4] })] },
  NBEATS: { models: () => [new models.NBEATS({ ...base, mlpUnits: [[16, 16], [16, 16], [16, 16]] })] },
  NBEATSx: {
    models: () => [new models.NBEATSx({ ...base, mlpUnits: [[16, 16], [16, 16], [16, 16]], futrExogList: ['x'], histExogList: ['z'] })],
    exog: true,
  },
  NHITS: { models: () => [new models.NHITS({ ...base, mlpUnits: [[16, 16], [16, 16], [16, 16]], scalerType: 'robust' })] },
  VanillaTransformer: { models: () => [new models.VanillaTransformer({ ...base, hiddenSize: 16, convHiddenSize: 8 })] },
  'LSTM-exog': { models: () => [new models.LSTM({ ...base, ...exog, encoderHiddenSize: 16, decoderHiddenSize: 16 })], exog: true },
  'LSTM-MQLoss': { models: () => [new models.LSTM({ ...base, encoderHiddenSize: 16, decoderHiddenSize: 16, loss: { type: 'MQLoss', level: [80, 90] } })] },
  'MLP-QuantileLoss': { models: () => [new models.MLP({ ...base, hiddenSize: 16, loss: { type: 'QuantileLoss', q: 0.3 } })] },
  'MLP-IQLoss': { models: () => [new models.MLP({ ...base, hiddenSize: 16, loss: 'IQLoss' })] },
  RNN: { models: () => [new models.RNN({ ...base, encoderHiddenSize: 16, decoderHiddenSize: 16 })] },
  DLinear: { models: () => [new models.DLinear({ ...base, movingAvgWindow: 5 })] },
  NLinear: { models: () => [new models.NLinear(base)] },
  TiDE: { models: () => [new models.TiDE({ ...base, ...exog, hiddenSize: 16, decoderOutputDim: 4, temporalDecoderDim: 8 })], exog: true },
  KAN: { models: () => [new models.KAN({ ...base, hiddenSize: 8 })] },
  PatchTST: { models: () => [new models.PatchTST({ ...base, hiddenSize: 16, nHeads: 4, linearHiddenSize: 16, patchLen: 4, stride: 2 })] },
  TSMixer: { models: () => [new models.TSMixer({ ...base, nSeries: 2, ffDim: 8 })] },
  iTransformer: { models: () => [new models.iTransformer({ ...base, nSeries: 2, hiddenSize: 16, nHeads: 2, dFf: 16 })] },
  'iTransformer-futr': {
    models: () => [new models.iTransformer({ ...base, nSeries: 2, hiddenSize: 16, nHeads: 2, dFf: 16, futrExogList: ['x'] })],
    exog: true,
  },
  BiTCN: { models: () => [new models.BiTCN({ ...base, ...exog, hiddenSize: 8 })], exog: true },
  TSMixerx: { models: () => [new models.TSMixerx({ ...base, ...exog, nSeries: 2, ffDim: 8 })], exog: true },
  'two-models-local-scaler': {
    models: () => [new models.MLP({ ...base, hiddenSize: 16, alias: 'small' }), new models.NHITS({ ...base, mlpUnits: [[8, 8], [8, 8], [8, 8]] })],
    options: { localScalerType: 'standard' },
  },
}

module.exports = { cases, panel, H }
