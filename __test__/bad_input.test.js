// The bad-input matrix: every public function and option given hostile values. Each case must throw (or
// reject with) a typed error whose message names the problem, leave the process alive, and leave the
// forecaster it was called on usable.
const os = require('node:os')
const path = require('node:path')
const fs = require('node:fs')
const { NeuralForecaster, models, auto, ops, Dataset, readCsv, crossValidation, evaluate, calendarFeatures, plotForecast } = require('..')

const { sinePanel } = require('./sine_panel.js')
const { corruptions, damaged } = require('./neuralforecast_corrupt.js')

const small = { type: 'LSTM', h: 4, inputSize: 8, encoderHiddenSize: 8, decoderHiddenSize: 8, maxSteps: 3 }
/** The model options without `type`, for the model classes. */
const without = ({ type, ...options }) => options
const good = sinePanel(2, 60)
const withY = (f) => ({ ...good, y: good.y.map(f) })
const withDs = (f) => ({ ...good, ds: good.ds.map(f) })
const x = new Float64Array([1, 2, 3, 4, 5])
/** Writes `text` to a fresh CSV file and returns its path. */
const csvFile = (name, text) => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nd-bad-')), name)
  fs.writeFileSync(file, text)
  return file
}
const sine = { unique_id: ['a', 'a'], ds: [1, 2], y: [1, 2] }

/** [name, call (sync or async), error class, message pattern] — `nf` is a fitted forecaster. */
const cases = [
  // constructor
  ['constructor: no options', () => new NeuralForecaster(), TypeError, /options/],
  ['constructor: options a number', () => new NeuralForecaster(3), TypeError, /options/],
  ['constructor: unknown key lists the accepted ones', () => new NeuralForecaster({ models: [small], modles: 1 }), TypeError, /modles.*models/],
  ['constructor: models not an array', () => new NeuralForecaster({ models: 'LSTM' }), TypeError, /models/],
  ['constructor: empty models', () => new NeuralForecaster({ models: [] }), RangeError, /models/],
  ['constructor: model without type', () => new NeuralForecaster({ models: [{ h: 3 }] }), TypeError, /type/],
  ['constructor: unknown model name', () => new NeuralForecaster({ models: [{ type: 'Prophecy', h: 3 }] }), RangeError, /Prophecy.*LSTM/],
  ['constructor: two models one alias', () => new NeuralForecaster({ models: [new models.LSTM(without(small)), new models.LSTM(without(small))] }), RangeError, /alias/],
  ['constructor: models with different h', () => new NeuralForecaster({ models: [new models.LSTM(without(small)), new models.GRU({ ...without(small), h: 5 })] }), RangeError, /horizon|\bh\b/],
  ['constructor: numThreads 0', () => new NeuralForecaster({ models: [small], numThreads: 0 }), RangeError, /numThreads/],
  ['constructor: numThreads fractional', () => new NeuralForecaster({ models: [small], numThreads: 1.5 }), RangeError, /numThreads/],
  ['constructor: numThreads huge', () => new NeuralForecaster({ models: [small], numThreads: 1e6 }), RangeError, /numThreads/],
  ['constructor: numThreads a string', () => new NeuralForecaster({ models: [small], numThreads: '2' }), TypeError, /numThreads/],
  ['constructor: simdEnabled not boolean', () => new NeuralForecaster({ models: [small], simdEnabled: 'yes' }), TypeError, /simdEnabled/],
  ['constructor: bad frequency', () => new NeuralForecaster({ models: [small], frequency: 'fortnightly' }), RangeError, /frequency/],
  ['constructor: bad localScalerType', () => new NeuralForecaster({ models: [small], localScalerType: 'zscore' }), RangeError, /localScalerType|scaler/],
  ['constructor: cuda backend', () => new NeuralForecaster({ models: [small], backend: 'cuda' }), Error, /cuda/],
  ['constructor: unknown backend', () => new NeuralForecaster({ models: [small], backend: 'tpu' }), Error, /backend/],
  ['constructor: negative seed', () => new NeuralForecaster({ models: [small], seed: -1 }), RangeError, /seed/],
  // model options
  ['model: h 0', () => new models.LSTM({ h: 0 }), RangeError, /\bh\b/],
  ['model: h negative', () => new models.GRU({ h: -3 }), RangeError, /\bh\b/],
  ['model: h fractional', () => new models.GRU({ h: 2.5 }), RangeError, /\bh\b/],
  ['model: h NaN', () => new models.LSTM({ h: NaN }), RangeError, /\bh\b/],
  ['model: h Infinity', () => new models.LSTM({ h: Infinity }), RangeError, /\bh\b/],
  ['model: h a string', () => new models.LSTM({ h: '12' }), TypeError, /\bh\b/],
  ['model: h 1e9', () => new models.LSTM({ h: 1e9 }), RangeError, /\bh\b/],
  ['model: inputSize 1e9', () => new models.GRU({ h: 3, inputSize: 1e9 }), RangeError, /inputSize/],
  ['model: inputSize 0', () => new models.GRU({ h: 3, inputSize: 0 }), RangeError, /inputSize/],
  ['model: hidden size 1e6', () => new models.LSTM({ h: 12, encoderHiddenSize: 1e6 }), RangeError, /parameters/],
  ['model: decoder layers 1e6', () => new models.GRU({ h: 12, decoderLayers: 1e6 }), RangeError, /parameters/],
  ['model: encoder layers 0', () => new models.LSTM({ h: 3, encoderNLayers: 0 }), RangeError, /encoderNLayers/],
  ['model: learningRate NaN', () => new models.LSTM({ h: 3, learningRate: NaN }), RangeError, /learningRate/],
  ['model: learningRate Infinity', () => new models.LSTM({ h: 3, learningRate: Infinity }), RangeError, /learningRate/],
  ['model: learningRate negative', () => new models.LSTM({ h: 3, learningRate: -0.1 }), RangeError, /learningRate/],
  ['model: unknown option', () => new models.LSTM({ h: 3, hiddenSize: 8 }), TypeError, /hiddenSize/],
  ['model: unknown scaler', () => new models.LSTM({ h: 3, scalerType: 'zscore' }), RangeError, /scalerType/],
  ['model: unknown loss', () => new models.LSTM({ h: 3, loss: 'RMSLE' }), RangeError, /loss/],
  ['model: MQLoss level out of range', () => new models.LSTM({ h: 3, loss: { type: 'MQLoss', level: [120] } }), RangeError, /level/],
  ['model: MQLoss with level and quantiles', () => new models.LSTM({ h: 3, loss: { type: 'MQLoss', level: [80], quantiles: [0.1] } }), TypeError, /level or quantiles/],
  ['model: windowsBatchSize 1e6', () => new models.LSTM({ h: 12, windowsBatchSize: 1e6 }), RangeError, /windowsBatchSize/],
  ['model: unknown NBEATS stack type', () => new models.NBEATS({ h: 4, inputSize: 8, stackTypes: ['fourier'] }), RangeError, /stackTypes\[0\].*fourier.*identity/],
  ['model: NBEATS stackTypes and nBlocks disagree', () => new NeuralForecaster({ models: [new models.NBEATS({ h: 4, inputSize: 8, stackTypes: ['identity'], nBlocks: [1, 2] })] }), RangeError, /NBEATS.*invalid nBlocks: 1 stack types but 2 entries in nBlocks/],
  ['model: NBEATS mlpUnits do not chain', () => new NeuralForecaster({ models: [new models.NBEATS({ h: 4, inputSize: 8, mlpUnits: [[8, 8], [4, 8]] })] }), RangeError, /NBEATS.*mlpUnits\[1\] takes 4 inputs but mlpUnits\[0\] gives 8/],
  ['model: NBEATSx exogenous stack without exogenous variables', () => new NeuralForecaster({ models: [new models.NBEATSx({ h: 4, inputSize: 8, stackTypes: ['exogenous'], nBlocks: [1] })] }), RangeError, /NBEATSx.*exogenous/],
  ['model: unknown NHITS interpolation', () => new models.NHITS({ h: 4, inputSize: 8, interpolationMode: 'spline' }), RangeError, /interpolationMode.*spline/],
  ['model: unknown Prophet seasonality mode', () => new models.Prophet({ h: 4, seasonalityMode: 'mixed' }), RangeError, /seasonalityMode.*mixed/],
  ['model: negative TCN dilation', () => new models.TCN({ h: 4, inputSize: 8, dilations: [1, -2] }), RangeError, /dilations\[1\]/],
  ['model: no TCN dilations', () => new models.TCN({ h: 4, inputSize: 8, dilations: [] }), RangeError, /dilations/],
  ['model: Transformer nHead above hiddenSize', () => new models.VanillaTransformer({ h: 4, inputSize: 8, hiddenSize: 4, nHead: 8 }), RangeError, /nHead/],
  ['model: futrExogList a string', () => new models.LSTM({ h: 4, futrExogList: 'temp' }), TypeError, /futrExogList/],
  ['model: alias not a string', () => new models.LSTM({ h: 3, alias: 5 }), TypeError, /alias/],
  // ISQF's options (DistributionLoss)
  ['model: ISQF numPieces 0', () => new models.MLP({ h: 4, inputSize: 8, loss: { type: 'DistributionLoss', distribution: 'ISQF', numPieces: 0 } }), RangeError, /loss\.numPieces must be an integer between 1 and 256, got 0/],
  ['model: numPieces on StudentT', () => new models.MLP({ h: 4, inputSize: 8, loss: { type: 'DistributionLoss', distribution: 'StudentT', numPieces: 3 } }), TypeError, /numPieces is ISQF's/],
  ['model: ISQF quantiles repeated', () => new models.MLP({ h: 4, inputSize: 8, loss: { type: 'DistributionLoss', distribution: 'ISQF', quantiles: [0.1, 0.1, 0.9] } }), RangeError, /0\.1 is given twice/],
  ['model: ISQF returnParams', () => new models.MLP({ h: 4, inputSize: 8, loss: { type: 'DistributionLoss', distribution: 'ISQF', returnParams: true } }), RangeError, /ISQF does not support returnParams/],
  // Auto models and their search spaces (the search's own errors are in auto*.test.js and ensemble.test.js)
  ['auto: numSamples 0', () => new models.AutoMLP({ h: 4, numSamples: 0 }), RangeError, /AutoMLP\.numSamples/],
  ['auto: numSamples NaN', () => new models.AutoNHITS({ h: 4, numSamples: NaN }), RangeError, /AutoNHITS\.numSamples/],
  ['auto: timeBudget negative', () => new models.AutoMLP({ h: 4, timeBudget: -1 }), RangeError, /timeBudget/],
  ['auto: timeBudget a string', () => new models.AutoMLP({ h: 4, timeBudget: '30s' }), TypeError, /timeBudget.*'30s'/],
  ['auto: unknown scheduler', () => new models.AutoMLP({ h: 4, scheduler: 'asha' }), RangeError, /scheduler: 'asha'/],
  ['auto: reductionFactor 1', () => new models.AutoMLP({ h: 4, scheduler: 'successiveHalving', reductionFactor: 1 }), RangeError, /reductionFactor/],
  ['auto: uniform low above high', () => new models.AutoMLP({ h: 4, config: { learningRate: auto.uniform(1, 0) } }), RangeError, /config\.learningRate: uniform has low 1 > high 0/],
  ['auto: loguniform bound 0', () => new models.AutoMLP({ h: 4, config: { learningRate: auto.loguniform(0, 1) } }), RangeError, /config\.learningRate: loguniform/],
  ['auto: randint bound NaN', () => new models.AutoMLP({ h: 4, config: { maxSteps: auto.randint(NaN, 3) } }), RangeError, /config\.maxSteps/],
  ['auto: quniform q 0', () => new models.AutoMLP({ h: 4, config: { learningRate: auto.quniform(0, 1, 0) } }), RangeError, /quniform needs q > 0/],
  ['auto: a config getter throws', () => new models.AutoMLP({ h: 4, config: { get inputSize() { throw new TypeError('inputSize getter') } } }), TypeError, /inputSize getter/],
  ['auto: a config Proxy throws', () => new models.AutoMLP({ h: 4, config: new Proxy({}, { ownKeys() { throw new RangeError('ownKeys trap') } }) }), RangeError, /ownKeys trap/],
  ['auto: AutoEnsemble families empty', () => new models.AutoEnsemble({ h: 4, families: [] }), RangeError, /families is empty/],
  ['auto: AutoEnsemble families a string', () => new models.AutoEnsemble({ h: 4, families: 'MLP' }), TypeError, /families must be an array/],
  ['auto: AutoEnsemble unknown combination', () => new models.AutoEnsemble({ h: 4, ensemble: 'vote' }), RangeError, /ensemble must be one of/],
  // fit data
  ['fit: no data', (nf) => nf.fit(), TypeError, /data/],
  ['fit: data a string', (nf) => nf.fit('y'), TypeError, /data/],
  ['fit: empty array', (nf) => nf.fit([]), RangeError, /empty|short|rows/],
  ['fit: one-element series', (nf) => nf.fit([1]), RangeError, /series.*inputSize/],
  ['fit: series with no training window (inputSize rows)', (nf) => nf.fit(sinePanel(1, 8)), RangeError, /s0.*startPaddingEnabled.*inputSize/],
  ['fit: NaN in y', (nf) => nf.fit(withY((v, i) => (i === 5 ? NaN : v))), RangeError, /s0.*NaN.*row 5/],
  ['fit: Infinity in y', (nf) => nf.fit(withY((v, i) => (i === 7 ? Infinity : v))), RangeError, /y is Infinity at row 7/],
  ['fit: non-numeric y', (nf) => nf.fit(withY((v, i) => (i === 2 ? 'a' : v))), TypeError, /y/],
  ['fit: unsorted ds', (nf) => nf.fit(withDs((d, i) => (i === 3 ? 1 : d))), RangeError, /s0.*row 3/],
  ['fit: duplicate ds', (nf) => nf.fit(withDs((d, i) => (i === 4 ? 3 : d))), RangeError, /duplicate/],
  ['fit: mixed ds types', (nf) => nf.fit(withDs((d, i) => (i === 6 ? '2024-01-01' : d))), TypeError, /ds/],
  ['fit: unparseable ds', (nf) => nf.fit({ unique_id: ['a', 'a', 'a'], ds: ['2024-01-01', 'yesterday', '2024-01-03'], y: [1, 2, 3] }), RangeError, /yesterday/],
  ['fit: columns of different lengths', (nf) => nf.fit({ ...good, y: good.y.slice(1) }), RangeError, /length|rows/],
  ['fit: missing y column', (nf) => nf.fit({ unique_id: good.unique_id, ds: good.ds }), TypeError, /\by\b.*missing/],
  ['fit: row objects with a missing field', (nf) => nf.fit([{ unique_id: 'a', ds: 1 }]), TypeError, /y/],
  // fit options
  ['fit: maxSteps -1', (nf) => nf.fit(good, { maxSteps: -1 }), RangeError, /maxSteps/],
  ['fit: maxSteps NaN', (nf) => nf.fit(good, { maxSteps: NaN }), RangeError, /maxSteps/],
  ['fit: unknown fit option', (nf) => nf.fit(good, { steps: 3 }), TypeError, /steps.*maxSteps/],
  ['fit: maxSteps and epochs', (nf) => nf.fit(good, { maxSteps: 3, epochs: 1 }), TypeError, /maxSteps or epochs/],
  ['fit: learningRate 0', (nf) => nf.fit(good, { learningRate: 0 }), RangeError, /learningRate/],
  ['fit: validationSize below h', (nf) => nf.fit(good, { validationSize: 2 }), RangeError, /validationSize/],
  ['fit: windowsBatchSize 1e6', (nf) => nf.fit(good, { windowsBatchSize: 1e6 }), RangeError, /windowsBatchSize/],
  ['fit: onProgress not a function', (nf) => nf.fit(good, { onProgress: 3 }), TypeError, /onProgress/],
  ['fit: signal not an AbortSignal', (nf) => nf.fit(good, { signal: {} }), TypeError, /signal/],
  ['fit: futrExogList column missing from the data', () => new NeuralForecaster({ models: [new models.LSTM({ ...without(small), futrExogList: ['temp'] })] }).fit(good), RangeError, /futrExogList.*temp/],
  ['fit: predictionIntervals nWindows 1', (nf) => nf.fit(good, { predictionIntervals: { nWindows: 1 } }), RangeError, /nWindows/],
  ['fit: unknown interval method', (nf) => nf.fit(good, { predictionIntervals: { method: 'bootstrap' } }), RangeError, /bootstrap.*conformal/],
  ['fit: staticData without a fitted series', (nf) => nf.fit(good, { staticData: { unique_id: ['zz'], x: [1] } }), RangeError, /static.*s0/],
  ['fit: warmStart not boolean', (nf) => nf.fit(good, { warmStart: 'yes' }), TypeError, /warmStart/],
  // predict and window forecasts
  ['predict: level without intervals', (nf) => nf.predict({ level: [80] }), RangeError, /no prediction intervals.*predictionIntervals/],
  ['predict: level 150', (nf) => nf.predict({ level: [150] }), RangeError, /level/],
  ['predict: horizon 0', (nf) => nf.predict({ horizon: 0 }), RangeError, /horizon/],
  ['predict: horizon beyond h', (nf) => nf.predict({ horizon: 99 }), RangeError, /horizon/],
  ['predict: unknown option', (nf) => nf.predict({ h: 3 }), TypeError, /\bh\b.*horizon/],
  ['predict: data with NaN', (nf) => nf.predict({ data: withY((v, i) => (i === 1 ? NaN : v)) }), RangeError, /NaN/],
  ['forecastWindow: wrong length', (nf) => nf.forecastWindow([1, 2, 3]), RangeError, /inputSize/],
  ['forecastWindow: NaN', (nf) => nf.forecastWindow([1, 2, 3, NaN, 5, 6, 7, 8]), RangeError, /NaN/],
  ['forecastWindow: not an array', (nf) => nf.forecastWindow('12345678'), TypeError, /window/],
  ['forecastWindow: unknown model', (nf) => nf.forecastWindow(new Array(8).fill(1), { model: 'TCN' }), RangeError, /TCN/],
  ['forecastWindow: model index out of range', (nf) => nf.forecastWindow(new Array(8).fill(1), { model: 7 }), RangeError, /model/],
  ['forecastWindows: ragged', (nf) => nf.forecastWindows(new Float64Array(13)), RangeError, /whole number/],
  ['forecastWindows: empty', (nf) => nf.forecastWindows([]), RangeError, /windows/],
  // live updates
  ['update: NaN', (nf) => nf.update({ unique_id: ['s0'], ds: [60], y: [NaN] }), RangeError, /s0.*NaN/],
  ['update: rows before the end of the series', (nf) => nf.update({ unique_id: ['s0'], ds: [3], y: [1] }), RangeError, /s0.*59/],
  ['update: unknown series', (nf) => nf.update({ unique_id: ['zz'], ds: [60], y: [1] }), RangeError, /zz.*not fitted/],
  ['update: not data', (nf) => nf.update(5), TypeError, /data/],
  ['forecastSeries: unknown series', (nf) => nf.forecastSeries('nope'), RangeError, /nope/],
  ['forecastSeries: ids a number', (nf) => nf.forecastSeries(5), TypeError, /ids/],
  ['forecastSeries: horizon beyond h', (nf) => nf.forecastSeries('s0', { horizon: 99 }), RangeError, /horizon/],
  ['futureFrame: horizon 0', (nf) => nf.futureFrame(0), RangeError, /horizon/],
  ['futureFrame: horizon a string', (nf) => nf.futureFrame('3'), TypeError, /horizon/],
  // data sets and CSV files
  ['readCsv: missing file', () => readCsv(path.join(os.tmpdir(), 'nd-no-such.csv')), Error, /nd-no-such\.csv/],
  ['readCsv: text in y names the line', () => readCsv(csvFile('text.csv', 'unique_id,ds,y\na,1,2\na,2,x\n')), RangeError, /text\.csv line 3.*"x"/],
  ['readCsv: no y column', () => readCsv(csvFile('noy.csv', 'unique_id,ds\na,1\n')), RangeError, /no column "y"/],
  ['Dataset.fromColumns: NaN', () => Dataset.fromColumns({ ...sine, y: [1, NaN] }), RangeError, /NaN at row 1/],
  ['Dataset.fromColumns: a string', () => Dataset.fromColumns('abc'), TypeError, /data/],
  ['Dataset.fromColumns: bad frequency', () => Dataset.fromColumns(sine, 'fortnightly'), RangeError, /fortnightly/],
  // cross-validation, evaluation, calendar features, plots
  ['crossValidation: nWindows 0', () => crossValidation({ models: [small] }, good, { nWindows: 0 }), RangeError, /nWindows/],
  ['crossValidation: unknown option', () => crossValidation({ models: [small] }, good, { windows: 2 }), TypeError, /windows.*nWindows/],
  ['crossValidation: forecaster a number', () => crossValidation(5, good), TypeError, /forecaster/],
  ['crossValidation: staticData a number', () => crossValidation({ models: [small] }, good, { staticData: 5 }), TypeError, /staticData/],
  ['crossValidation: signal not an AbortSignal', () => crossValidation({ models: [small] }, good, { signal: 5 }), TypeError, /signal.*AbortSignal/],
  ['crossValidation: onProgress not a function', () => crossValidation({ models: [small] }, good, { onProgress: 5 }), TypeError, /onProgress/],
  ['crossValidation: staticData inside fitOptions', () => crossValidation({ models: [small] }, good, { fitOptions: { staticData: {} } }), TypeError, /fitOptions\.staticData/],
  ['crossValidation: refit a string', () => crossValidation({ models: [small] }, good, { refit: 'yes' }), TypeError, /refit/],
  ['evaluate: unknown option', () => evaluate({ y: [1], forecasts: { m: [1] } }, ['mae'], { seasonalty: 2 }), TypeError, /seasonalty.*seasonality/],
  ['calendarFeatures: not a date', () => calendarFeatures(['x']), TypeError, /ds\[0\]/],
  ['calendarFeatures: unknown feature', () => calendarFeatures(['2024-01-01'], { features: ['moonphase'] }), RangeError, /moonphase/],
  ['calendarFeatures: unknown option', () => calendarFeatures(['2024-01-01'], { feature: ['month'] }), TypeError, /feature.*features/],
  ['plotForecast: unknown option', () => plotForecast(good, { unique_id: ['s0'], ds: [61], M: [1] }, { heigth: 3 }), TypeError, /heigth/],
  // checkpoints
  ['save: path not a string', (nf) => nf.save(42), TypeError, /path/],
  ['save: into a missing directory', (nf) => nf.save(path.join(os.tmpdir(), 'nd-no-such-dir', 'x', 'm.safetensors')), Error, /nd-no-such-dir/],
  ['load: missing file', () => NeuralForecaster.load(path.join(os.tmpdir(), 'nd-missing.safetensors')), Error, /nd-missing/],
  ['fromBuffer: random bytes', () => NeuralForecaster.fromBuffer(Buffer.from('definitely not a model')), Error, /checkpoint/i],
  ['fromBuffer: not bytes', () => NeuralForecaster.fromBuffer('bytes'), TypeError, /buffer/],
  ['save: an unknown format', (nf) => nf.save(path.join(os.tmpdir(), 'nd-format'), { format: 'onnx' }), RangeError, /options\.format/],
  ['save: overwrite not a boolean', (nf) => nf.save(path.join(os.tmpdir(), 'nd-format'), { format: 'neuralforecast', overwrite: 'yes' }), TypeError, /overwrite/],
  ['save: an unknown save option', (nf) => nf.save(path.join(os.tmpdir(), 'nd-format'), { fromat: 'neuralforecast' }), TypeError, /fromat/],
  // NeuralForecast directories with one defect each (neuralforecast_corrupt.js)
  ...corruptions.map(([defect, damage, message]) => [`load: a NeuralForecast directory with ${defect}`, () => NeuralForecaster.load(damaged(damage)), Error, message]),
  // ops
  ['ops.sum: a string', () => ops.sum('123'), TypeError, /\bx\b/],
  ['ops.sum: non-numeric element', () => ops.sum([1, 'a']), TypeError, /\bx\b/],
  ['ops.mean: empty', () => ops.mean([]), RangeError, /empty/],
  ['ops.rollingMean: window 0', () => ops.rollingMean(x, 0), RangeError, /window/],
  ['ops.rollingMean: window longer than input', () => ops.rollingMean(x, 6), RangeError, /window/],
  ['ops.rollingStd: window fractional', () => ops.rollingStd(x, 2.5), RangeError, /window/],
  ['ops.rollingMin: window a string', () => ops.rollingMin(x, '2'), TypeError, /window/],
  ['ops.ema: neither alpha nor span', () => ops.ema(x, {}), TypeError, /alpha|span/],
  ['ops.ema: alpha above 1', () => ops.ema(x, { alpha: 2 }), RangeError, /alpha/],
  ['ops.add: different lengths', () => ops.add([1, 2], [1]), RangeError, /length/],
  ['ops.denormalize: missing stats', () => ops.denormalize(x), TypeError, /stats/],
  ['ops.variance: ddof negative', () => ops.variance(x, -1), RangeError, /ddof/],
]

describe('bad input gives a typed error naming the problem, and everything keeps working', () => {
  let nf
  beforeAll(async () => {
    nf = new NeuralForecaster({ models: [new models.LSTM(without(small))] })
    await nf.fit(good)
  })

  test(`the matrix has at least 60 cases (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(60)
  })

  test.each(cases)('%s', async (_name, call, ErrorType, message) => {
    let caught
    try {
      await call(nf)
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(ErrorType)
    expect(caught.message).toMatch(message)
  })

  test('the forecaster still fits, predicts and forecasts after all the bad calls', async () => {
    await nf.fit(good)
    expect((await nf.predict()).LSTM).toHaveLength(2 * 4)
    expect(nf.forecastWindow(new Array(8).fill(10))).toHaveLength(4)
  })
})
