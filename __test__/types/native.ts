// Type tests of the addon's generated declarations (index.d.ts, written by the napi CLI from the Rust exports):
// every export is used, and tsc must reject each line marked @ts-expect-error. Users reach these through the
// entry point (main.d.ts); main.js and lib/load.js use them directly.
import * as native from '../../index'
import {
  Dataset,
  FitControl,
  NeuralForecaster,
  __napiBindingTarget,
  modelTypes,
  autoModelTypes,
  autoTrialConfigs,
  chunkBytes,
  conformalIntervals,
  droppableHeads,
  ops,
  parseCsvColumns,
  parseCsvRecords,
  readCsvFile,
  resolveModelOptions,
  runLengths,
  version,
  type FitProgress,
  type FitSummary,
  type ModelFitSummary,
  type NativeForecaster,
} from '../../index'

/** Fails to compile when index.d.ts gains a value export that this file does not cover. */
type Covered = 'Dataset' | 'FitControl' | 'autoModelTypes' | 'autoTrialConfigs' | 'NeuralForecaster' | '__napiBindingTarget' | 'modelTypes' | 'ops' | 'parseCsvColumns' | 'parseCsvRecords' | 'readCsvFile' | 'resolveModelOptions' | 'chunkBytes' | 'conformalIntervals' | 'droppableHeads' | 'runLengths' | 'version'
const covered: [Exclude<keyof typeof native, Covered>] extends [never] ? true : false = true

async function nativeUsage(): Promise<void> {
  const v: string = version()
  const target: 'native' | 'wasm32-wasi' | 'wasm32-wasip1' = __napiBindingTarget
  const types: string[] = modelTypes()
  const autoTypes: string[] = autoModelTypes()
  const trials: Record<string, unknown>[] = autoTrialConfigs('AutoMLP', { h: 4, numSamples: 3 })
  void trials
  void autoTypes
  const options: Record<string, unknown> = resolveModelOptions('LSTM', { h: 12 })
  const control = new FitControl()
  const progress: FitProgress | null = control.progress()
  control.abort()
  const forecaster: NativeForecaster = new NeuralForecaster({ models: [options] })
  const fitted: boolean = forecaster.isFitted
  const result: unknown = await forecaster.fit({ y: [1, 2, 3] }, null, control)
  const summary = result as FitSummary
  const first: ModelFitSummary | undefined = summary.models[0]
  const window: Float64Array = forecaster.forecastWindow(new Float64Array(3))
  await forecaster.predict()
  await forecaster.forecastWindows([1, 2, 3])
  await forecaster.save('x.safetensors')
  await forecaster.toBuffer()
  const dataset: Dataset = await readCsvFile('data.csv', { idCol: null, frequency: 'D' })
  const sizes: number[] = [dataset.nRows, dataset.nSeries]
  const named: string[] = [...dataset.ids, ...dataset.exogenous, dataset.frequency]
  forecaster.update(dataset)
  forecaster.forecastSeries('a', { horizon: 2 })
  forecaster.futureFrame(3)
  const search: Record<string, unknown> | null = forecaster.searchResults(0)
  void search
  void [sizes, named]
  const { records, lines }: { records: string[][], lines: number[] } = parseCsvRecords('a;b\n1;2\n', { delimiter: ';' })
  const columns = parseCsvColumns('ds,y\n1,2\n', { defaultId: 'shop', exogenous: false, sort: true, source: 'shop.csv' })
  const read: [Uint32Array, string[], Float64Array | string[], Float64Array, Float64Array | undefined, Uint32Array] =
    [columns.unique_id.codes, columns.unique_id.labels, columns.ds, columns.y, columns.exogenous.price, columns.lines]
  void [records, lines, read]
  await NeuralForecaster.load('x.safetensors')
  await NeuralForecaster.fromBuffer(new Uint8Array(0))
  const info: ops.SimdInfo = ops.simdInfo()
  const stats: ops.PoolStats = ops.poolStats()
  const z: ops.Normalized = ops.normalize([1, 2])
  const mm: ops.MinMaxScaled = ops.minMaxNormalize([1, 2])
  const rs: ops.RobustScaled = ops.robustScale([1, 2])
  const heads: Uint8Array = droppableHeads(new Float64Array(4), [new Float64Array(4)], Uint32Array.of(4), 2, 1, 0)
  const runs: Float64Array = runLengths(new Uint32Array(4))
  const bounds: Record<string, Float64Array> = conformalIntervals('m', new Float64Array(2), new Float64Array(4), 2, 2, 2, 'conformal_error', [80])
  const chunk: Uint8Array = chunkBytes(new Uint8Array(8), [new Float64Array(4)], Uint32Array.of(4), Uint32Array.of(2), 0)
  console.log(v, target, types, progress, fitted, first, window, info, stats, z, mm, rs, heads, runs, bounds, chunk)

  // @ts-expect-error: version takes no arguments
  version('0.1.0')
  // @ts-expect-error: fit needs a FitControl
  await forecaster.fit({ y: [1] }, null)
  // @ts-expect-error: droppableHeads reads Float64Array columns only
  droppableHeads(new Float64Array(4), [[0, 0, 0, 0]], Uint32Array.of(4), 2, 1, 0)
  // @ts-expect-error: runLengths reads typed ids only
  runLengths(['a', 'a'])
  // @ts-expect-error: chunkBytes takes the header as bytes
  chunkBytes('{}', [new Float64Array(4)], Uint32Array.of(4), Uint32Array.of(2), 0)
  // @ts-expect-error: conformalIntervals reads a Float64Array point forecast
  conformalIntervals('m', [1, 2], new Float64Array(4), 2, 2, 2, 'conformal_error', [80])
  // @ts-expect-error: resolveModelOptions needs the model type
  resolveModelOptions({ h: 12 })
  // @ts-expect-error: parseCsvColumns takes text, not a frequency
  parseCsvColumns('ds,y\n1,2\n', { frequency: 'D' })
  // @ts-expect-error: isFitted has no setter
  forecaster.isFitted = false
}

export { nativeUsage, covered }
