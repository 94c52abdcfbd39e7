// Type tests of the CommonJS entry (`require('neuro-divergent')`, typed by main.d.ts): every export is used, and
// `tsc -p __test__/types` must reject each line marked @ts-expect-error.
import {
  NeuralForecaster,
  models,
  auto,
  ops,
  type DsValue,
  type FitOptions,
  type FitProgress,
  type FitSummary,
  type Forecast,
  type ForecastData,
  type LongFormatColumns,
  type LongFormatRow,
  type Loss,
  type MemoryStats,
  type ModelConfig,
  type ModelFitSummary,
  type NeuralForecasterOptions,
  type PredictOptions,
  type RecurrentModelOptions,
  type ResolvedModelOptions,
  type ScalerType,
  type SearchResults,
  type SearchTrial,
  type EnsembleMember,
  type EnsembleResults,
  type EnsembleTrial,
  type EnsembleTrialEvent,
} from 'neuro-divergent'
import * as entry from 'neuro-divergent'

/** Fails to compile when the entry point gains a value export that this file does not cover. */
type Covered = 'NeuralForecaster' | 'models' | 'auto' | 'autoTrialConfigs' | 'ops' | 'Dataset' | 'readCsv' | 'crossValidation' | 'evaluate' | 'coverage' | 'calendarFeatures' | 'plotForecast'
const entryCovered: [Exclude<keyof typeof entry, Covered>] extends [never] ? true : false = true

/** Fails to compile when `ops` gains a function that opsUsage below does not call. */
type CoveredOps =
  | 'add' | 'axpy' | 'denormalize' | 'dot' | 'ema' | 'emaBatch' | 'max' | 'mean' | 'min' | 'minMaxDenormalize'
  | 'minMaxNormalize' | 'mul' | 'normalize' | 'poolStats' | 'robustScale' | 'robustUnscale' | 'rollingMax'
  | 'rollingMean' | 'rollingMin' | 'rollingStd' | 'scale' | 'setSimdEnabled' | 'simdInfo' | 'std' | 'sum' | 'variance'
const opsCovered: [Exclude<keyof typeof ops, CoveredOps>] extends [never] ? true : false = true

async function forecasterUsage(): Promise<void> {
  const lstm = new models.LSTM({ h: 12, inputSize: 24, scalerType: 'standard', loss: 'MAE' })
  const h: number = lstm.h
  const autoNhits = new models.AutoNHITS({ h: 12, numSamples: 20, config: { inputSize: auto.choice([24, 36]), learningRate: auto.loguniform(1e-4, 1e-1), maxSteps: auto.quniform(100, 300, 100), randomSeed: auto.randint(1, 20), windowsBatchSize: 128 }, seed: 1, timeBudget: 30 })
  const autoType: 'AutoNHITS' = autoNhits.type
  const autoRows: SearchTrial[] = autoNhits.results()
  const autoSearch: SearchResults | null = autoNhits.searchResults()
  const autoBest: Record<string, unknown> | undefined = autoNhits.bestConfig
  // @ts-expect-error searchAlg is 'random' or 'tpe'
  void new models.AutoMLP({ h: 6, searchAlg: 'grid' })
  const halving = new models.AutoTFT({ h: 6, searchAlg: 'tpe', scheduler: 'successiveHalving', gracePeriod: 50, reductionFactor: 3 })
  const pruned: boolean | undefined = halving.results()[0]?.pruned
  void [pruned, new models.AutoDeepAR({ h: 6 })]
  // A multivariate model's Auto model takes the data's nSeries, the same in every trial (not searched).
  const autoMixer = new models.AutoTSMixer({ h: 4, nSeries: 3, numSamples: 2, config: { nBlock: auto.choice([1, 2]), ffDim: 8, dropout: auto.uniform(0, 0.5) } })
  const mixerSeries: number = autoMixer.nSeries
  const mixerType: 'AutoTSMixer' = autoMixer.type
  void [mixerSeries, mixerType, new models.AutoTSMixerx({ h: 4, nSeries: 3 }), new models.AutoiTransformer({ h: 4, nSeries: 3, config: { nHeads: auto.choice([4, 8]) } })]
  const autoMixerPlain: ModelConfig = { type: 'AutoiTransformer', h: 4, nSeries: 3 }
  void autoMixerPlain
  // @ts-expect-error nSeries is required for a multivariate model
  void new models.AutoTSMixer({ h: 4 })
  // @ts-expect-error nSeries is not searched
  void new models.AutoiTransformer({ h: 4, nSeries: 3, config: { nSeries: 3 } })
  // @ts-expect-error a univariate model has no nSeries
  void new models.AutoMLP({ h: 4, nSeries: 3 })
  // @ts-expect-error an AutoEnsemble's families are univariate
  void new models.AutoEnsemble({ h: 4, families: ['TSMixer'] })
  const autoPlain: ModelConfig = { type: 'AutoLSTM', h: 6, numSamples: 2 }
  void new NeuralForecaster({ models: [autoNhits, autoPlain] })
  void [autoType, autoRows, autoSearch, autoBest, auto.uniform(0, 1)]
  const ensemble = new models.AutoEnsemble({ h: 4, families: ['NHITS', 'MLP'], numSamples: 6, ensemble: 'mean', top: 2, timeBudget: 30, config: { MLP: { hiddenSize: auto.choice([8, 16]) } } })
  const ensembleRows: EnsembleTrial[] = ensemble.results()
  const ensembleMembers: EnsembleMember[] = ensemble.members
  const picked = new NeuralForecaster({ models: 'auto', h: 4, auto: { numSamples: 16, seed: 2 } })
  await picked.fit({ unique_id: ['a'], ds: [1], y: [1] }, { onTrial: (t: EnsembleTrialEvent) => void [t.n, t.total, t.family, t.bestSoFar] })
  const chosen: EnsembleMember[] = picked.ensembleMembers()
  const searched: EnsembleResults | null = picked.ensembleResults()
  void new NeuralForecaster({ models: [ensemble] })
  void new NeuralForecaster({ models: [{ type: 'AutoEnsemble', h: 4, ensemble: 'best' }] })
  // @ts-expect-error 'vote' is not a combination
  void new models.AutoEnsemble({ h: 4, ensemble: 'vote' })
  // @ts-expect-error Prophet has no search space
  void new models.AutoEnsemble({ h: 4, families: ['Prophet'] })
  void [ensembleRows, ensembleMembers, chosen, searched]
  const type: 'LSTM' = lstm.type
  const resolved: ResolvedModelOptions<'LSTM', RecurrentModelOptions> = lstm
  const gru = new models.GRU({ horizon: 6, loss: { type: 'HuberLoss', delta: 0.5 } })
  const gruType: 'GRU' = gru.type
  const scaler: ScalerType = 'robust'
  const loss: Loss = { type: 'QuantileLoss', q: 0.9 }
  const tukey: Loss[] = ['TukeyLoss', { type: 'TukeyLoss', c: 2, normalize: false }]
  void tukey
  const recurrent: RecurrentModelOptions = { h: 3, scalerType: scaler, loss, earlyStopPatienceSteps: 3 }
  const plain: ModelConfig = { type: 'GRU', ...recurrent }
  const quantiles = new models.LSTM({ h: 12, loss: { type: 'MQLoss', level: [80, 95] } })
  const quantileLoss: Exclude<Loss, string> = quantiles.loss
  const studentT: Loss = { type: 'DistributionLoss', distribution: 'StudentT', level: [80, 90], numSamples: 500, returnParams: true }
  const tweedie: Loss = { type: 'DistributionLoss', distribution: 'Tweedie', rho: 1.5 }
  const mixture: Loss = { type: 'GMM', nComponents: 2, weighted: true, quantiles: [0.1, 0.9] }
  new models.MLP({ h: 12, inputSize: 24, loss: studentT, validLoss: studentT })
  new models.LSTM({ h: 12, loss: 'PMM' })
  const isqf: Loss = { type: 'DistributionLoss', distribution: 'ISQF', numPieces: 3, level: [80] }
  void [tweedie, mixture, isqf]
  // @ts-expect-error Gamma is not one of DistributionLoss's distributions
  const gamma: Loss = { type: 'DistributionLoss', distribution: 'Gamma' }
  void gamma
  const seasonalLosses: Loss[] = ['RMSE', 'SMAPE', { type: 'MASE', seasonality: 12 }, { type: 'HuberMQLoss', level: [80], delta: 0.5 }]
  // @ts-expect-error MASE needs its seasonality
  const noSeason: Loss = { type: 'MASE' }
  const mlp = new models.MLP({ h: 12, inputSize: 24, numLayers: 2, hiddenSize: 64 })
  const mlpWidth: number = mlp.hiddenSize
  const tcn = new models.TCN({ h: 12, dilations: [1, 2, 4], encoderActivation: 'Tanh' })
  const tcnDilations: readonly number[] = tcn.dilations
  const prophet = new models.Prophet({ h: 12, seasonalityMode: 'multiplicative', yearlySeasonality: 'auto' })
  const prophetMode: 'additive' | 'multiplicative' = prophet.seasonalityMode
  // @ts-expect-error Prophet has no training steps
  new models.Prophet({ h: 12, maxSteps: 10 })
  // @ts-expect-error an unknown activation
  new models.TCN({ h: 12, encoderActivation: 'Swish' })
  void [quantileLoss, seasonalLosses, noSeason, mlpWidth, tcnDilations, prophetMode]
  const tideLayernorm: boolean = new models.TiDE({ h: 12, inputSize: 24, temporalWidth: 4, layernorm: false }).layernorm
  const kanHidden: number | number[] = new models.KAN({ h: 12, inputSize: 24, nHiddenLayers: 2, hiddenSize: [64, 32] }).hiddenSize
  const bitcnDropout: number = new models.BiTCN({ h: 12, inputSize: 24, hiddenSize: 8, dropout: 0.1, excludeInsampleY: true }).dropout
  // @ts-expect-error gridRange is a pair of numbers
  new models.KAN({ h: 12, inputSize: 24, gridRange: 1 })
  void [tideLayernorm, kanHidden, bitcnDropout]
  const options: NeuralForecasterOptions = {
    models: [lstm, gru, plain, quantiles, mlp, tcn, prophet],
    frequency: 'MS',
    numThreads: 2,
    localScalerType: 'standard',
    simdEnabled: true,
    memoryPool: true,
    lowMemory: false,
    seed: 7,
    backend: 'cpu',
  }
  const nf = new NeuralForecaster(options)
  const fitOptions: FitOptions = {
    maxSteps: 10,
    windowsBatchSize: 8,
    learningRate: 1e-3,
    validationSize: 12,
    earlyStopping: true,
    patience: 2,
    onProgress: (p: FitProgress) => console.log(p.model, p.alias, p.step, p.maxSteps, p.trainLoss, p.valLoss),
    signal: new AbortController().signal,
  }
  const columns: LongFormatColumns = { unique_id: ['a', 'a'], ds: ['2020-01-01', '2020-02-01'], y: [1, 2] }
  const report: FitSummary = await nf.fit(columns, fitOptions)
  const first: ModelFitSummary | undefined = report.models[0]
  console.log(first?.alias, first?.steps, first?.trainLoss, first?.valLoss, first?.stoppedEarly, first?.parameters, report.aborted)
  const ds: DsValue = new Date()
  const rows: LongFormatRow[] = [{ unique_id: 'a', ds, y: 1 }]
  await nf.fit(rows, { epochs: 2 })
  const bare: ForecastData = new Float64Array([1, 2, 3])
  await nf.fit(bare)
  await nf.fit(bare, { predictionIntervals: { nWindows: 3, method: 'conformal_error' } })
  await nf.predict({ level: [80, 95] })
  await nf.predict({ level: 90 })
  const withExog = new models.NHITS({ h: 2, inputSize: 4, futrExogList: ['price'], histExogList: ['volume'], statExogList: ['size'] })
  const exogForecaster = new NeuralForecaster({ models: [withExog] })
  await exogForecaster.fit(
    { unique_id: ['a', 'a'], ds: [1, 2], y: [1, 2], price: [3, 4], volume: new Float64Array([5, 6]) },
    { staticData: { unique_id: ['a'], size: [7] }, warmStart: false },
  )
  await exogForecaster.predict({ futrData: { unique_id: ['a', 'a'], ds: [3, 4], price: [1, 2] } })
  exogForecaster.update([{ unique_id: 'a', ds: 3, y: 3, price: 1, volume: 2 }])
  const bar: Forecast = exogForecaster.forecastSeries('a', { futrData: [{ unique_id: 'a', ds: 4, price: 2 }] })
  const frame = exogForecaster.futureFrame(2)
  const trialConfigs: Record<string, unknown>[] = entry.autoTrialConfigs('AutoNHITS', { h: 4, numSamples: 2 })
  void trialConfigs
  const calendar: Record<string, Float64Array> = entry.calendarFeatures(frame.ds, { features: ['month', 'dayofweek'], harmonics: 2 })
  // @ts-expect-error an unknown calendar feature
  entry.calendarFeatures(frame.ds, { features: ['fortnight'] })
  const dataset: entry.Dataset = await entry.readCsv('sales.csv', { idCol: null, timeCol: 'date', targetCol: 'units' })
  const datasetRows: number = dataset.nRows
  await exogForecaster.fit(dataset)
  await exogForecaster.fit({ unique_id: new Uint32Array([0, 0, 1]), labels: ['a', 'b'], ds: new Float64Array([0, 1, 0]), y: new Float64Array(3) })
  void [bar, calendar, datasetRows]
  const predictOptions: PredictOptions = { horizon: 6, data: new Float32Array([1, 2, 3]) }
  const forecast: Forecast = await nf.predict(predictOptions)
  await nf.predict()
  const insample: entry.CrossValidationResult = await nf.predictInsample({ stepSize: 3 })
  const cutoffs: Array<string | number> = insample.cutoff
  void cutoffs
  const importances: entry.FeatureImportances = await nf.featureImportances({ model: 'TFT', futrData: { unique_id: ['a'], ds: [1], x: [0] } })
  const pastWeights: Record<string, number> = importances.past
  const attentionRows: number[][] = importances.attention
  void [pastWeights, attentionRows]
  // @ts-expect-error model is an alias
  await nf.featureImportances({ model: 0 })
  // @ts-expect-error stepSize is a number
  await nf.predictInsample({ stepSize: '3' })
  const integerSteps = new NeuralForecaster({ models: [new models.MLP({ h: 2, inputSize: 4, excludeInsampleY: true })], frequency: 1 })
  void [integerSteps, entry.Dataset.fromColumns([1, 2, 3], 1)]
  const ids: string[] = forecast.unique_id
  const stamps: Array<string | number> = forecast.ds
  const one: Float64Array = nf.forecastWindow([1, 2, 3], { model: 'LSTM' })
  const many: Float64Array = await nf.forecastWindows(new Float64Array(6), { model: 0 })
  const held: MemoryStats = nf.memoryStats()
  console.log(held.scratchBytes + held.threadBytes === held.totalBytes)
  await nf.save('model.safetensors')
  const buffer: Buffer = await nf.toBuffer()
  const loaded: NeuralForecaster = await NeuralForecaster.load('model.safetensors')
  const copy: NeuralForecaster = await NeuralForecaster.fromBuffer(buffer)
  const fitted: boolean = loaded.isFitted && copy.isFitted
  console.log(h, type, resolved.randomSeed, gruType, report.elapsedMs, ids, stamps, one, many, fitted)

  // @ts-expect-error: the models list is required
  new NeuralForecaster({})
  // @ts-expect-error: unknown scaler name
  new models.LSTM({ h: 3, scalerType: 'zscore' })
  // @ts-expect-error: unknown model type
  new NeuralForecaster({ models: [{ type: 'Prophecy', h: 3 }] })
  // @ts-expect-error: only the cpu and cuda backends exist
  new NeuralForecaster({ models: [lstm], backend: 'tpu' })
  // @ts-expect-error: y must be numeric
  await nf.fit({ y: ['a'] })
  // @ts-expect-error: maxSteps is a number
  await nf.fit(bare, { maxSteps: '10' })
  // @ts-expect-error: save needs a path
  await nf.save()
  // @ts-expect-error: isFitted is read-only
  nf.isFitted = true
  // @ts-expect-error: resolved options are read-only
  lstm.h = 4
  // @ts-expect-error: a forecast column is not a number
  const wrong: number = forecast.LSTM
  console.log(wrong)
}

function opsUsage(): void {
  const f64: Float64Array = ops.rollingMean(new Float64Array([1, 2, 3]), 2)
  const f32: Float32Array = ops.rollingStd(new Float32Array([1, 2, 3]), 2, 1)
  const plain: Float64Array = ops.ema([1, 2, 3], { span: 3 })
  const alpha: Float32Array = ops.ema(new Float32Array([1, 2]), { alpha: 0.5 })
  const batch: Array<Float64Array | Float32Array> = ops.emaBatch([[1, 2], new Float32Array([3, 4])], { alpha: 0.3 })
  const z = ops.normalize([1, 2, 3])
  const back: Float64Array = ops.denormalize(z.values as Float64Array, z)
  const mm = ops.minMaxNormalize([1, 2, 3])
  const mmBack: Float64Array = ops.minMaxDenormalize([0, 0.5, 1], mm)
  const robust = ops.robustScale(new Float64Array([1, 2, 3, 10]))
  const robustBack: Float64Array = ops.robustUnscale([0, 1], robust)
  const lo: Float64Array = ops.rollingMin([3, 1, 2], 2)
  const hi: Float32Array = ops.rollingMax(new Float32Array([3, 1, 2]), 2)
  const scaled: Float64Array = ops.scale([1, 2], 3)
  const sum: Float64Array | Float32Array = ops.add([1], [2])
  const product: Float64Array | Float32Array = ops.mul([1], [2])
  const axpy: Float64Array | Float32Array = ops.axpy(2, [1], [2])
  const stats: number[] = [
    ops.sum([1]),
    ops.mean([1, 2]),
    ops.variance([1, 2], 1),
    ops.std([1, 2]),
    ops.min([1]),
    ops.max([1]),
    ops.dot([1], [2]),
  ]
  ops.setSimdEnabled(true)
  const info = ops.simdInfo()
  const isa: string = info.active
  const pool = ops.poolStats()
  const poolNumbers: number[] = [pool.hits, pool.misses, pool.evictions, pool.bytesInUse, pool.bytesIdle, pool.highWaterBytes, pool.maxIdleBytes]
  console.log(f64, f32, plain, alpha, batch, back, mmBack, robustBack, lo, hi, scaled, sum, product, axpy, stats)
  console.log(info.enabled, info.detected, isa, poolNumbers)
  const into = new Float32Array(2)
  const same: Float32Array = ops.rollingMean(new Float32Array([1, 2, 3]), 2, into)
  const stdInto: Float64Array = ops.rollingStd([1, 2, 3], 2, undefined, new Float64Array(2))
  const zInto = ops.normalize([1, 2, 3], new Float64Array(3))
  const batchInto = ops.emaBatch([[1, 2]], { alpha: 0.3 }, [new Float64Array(2)])
  const sumInto = ops.add([1], [2], new Float64Array(1))
  console.log(same, stdInto, zInto.values, batchInto, sumInto)
  // @ts-expect-error: out must have the result's element type
  ops.scale(new Float64Array([1, 2]), 2, new Float32Array(2))

  // @ts-expect-error: window must be a number
  ops.rollingMean([1, 2], '2')
  // @ts-expect-error: ema needs alpha or span
  ops.ema([1, 2], { beta: 0.5 })
  // @ts-expect-error: a Float32Array input gives a Float32Array, not a Float64Array
  const narrowed: Float64Array = ops.rollingMean(new Float32Array([1, 2]), 2)
  // @ts-expect-error: strings are not numeric input
  ops.sum('12')
  // @ts-expect-error: denormalize needs the mean and std
  ops.denormalize([1], { mean: 0 })
  // @ts-expect-error: setSimdEnabled takes a boolean
  ops.setSimdEnabled('yes')
  console.log(narrowed)
}

export { forecasterUsage, opsUsage, entryCovered, opsCovered }

async function analysisUsage(): Promise<void> {
  const data = { unique_id: ['a', 'a', 'a'], ds: [1, 2, 3], y: [1, 2, 3] }
  const options = { models: [new entry.models.GRU({ h: 1, inputSize: 1 })] }
  const cv: entry.CrossValidationResult = await entry.crossValidation(options, data, { nWindows: 2, refit: true })
  const scores: entry.Evaluation = entry.evaluate(cv, ['mae', 'mase'], { train: data, seasonality: 1 })
  const covered: Record<string, Record<string, number>> = entry.coverage(cv)
  void covered
  const mae: number | undefined = scores.overall.mae?.GRU
  const nf = new entry.NeuralForecaster(options)
  const svg: string = entry.plotForecast(data, await nf.predict(), { width: 800 })
  const windows: Promise<Float64Array> = nf.forecastWindows(new Float64Array(3))
  // @ts-expect-error metrics are named
  entry.evaluate(cv, ['r2'])
  void [mae, svg, windows]
}
void analysisUsage
