// Type tests: `tsc -p __test__/types` must accept every use below and reject each line marked @ts-expect-error.
import { NeuralForecaster, models, ops, type Forecast, type FitSummary, type FitProgress } from '../..'

async function forecasterUsage(): Promise<void> {
  const lstm = new models.LSTM({ h: 12, inputSize: 24, scalerType: 'standard', loss: 'MAE' })
  const h: number = lstm.h
  const type: 'LSTM' = lstm.type
  const gru = new models.GRU({ horizon: 6, loss: { type: 'HuberLoss', delta: 0.5 } })
  const nf = new NeuralForecaster({ models: [lstm, gru, { type: 'GRU', h: 3 }], frequency: 'MS', numThreads: 2 })
  const report: FitSummary = await nf.fit(
    { unique_id: ['a', 'a'], ds: ['2020-01-01', '2020-02-01'], y: [1, 2] },
    { maxSteps: 10, onProgress: (p: FitProgress) => console.log(p.step, p.trainLoss), signal: new AbortController().signal },
  )
  await nf.fit([{ unique_id: 'a', ds: new Date(), y: 1 }])
  await nf.fit(new Float64Array([1, 2, 3]))
  const forecast: Forecast = await nf.predict({ horizon: 6 })
  const ids: string[] = forecast.unique_id
  const one: Float64Array = nf.forecastWindow([1, 2, 3], { model: 'LSTM' })
  await nf.save('model.safetensors')
  const buffer: Buffer = await nf.toBuffer()
  const loaded: NeuralForecaster = await NeuralForecaster.load('model.safetensors')
  const copy: NeuralForecaster = await NeuralForecaster.fromBuffer(buffer)
  const fitted: boolean = loaded.isFitted && copy.isFitted
  console.log(h, type, report.elapsedMs, ids, one, fitted)

  // @ts-expect-error: the models list is required
  new NeuralForecaster({})
  // @ts-expect-error: unknown scaler name
  new models.LSTM({ h: 3, scalerType: 'zscore' })
  // @ts-expect-error: unknown model type
  new NeuralForecaster({ models: [{ type: 'Prophecy', h: 3 }] })
  // @ts-expect-error: y must be numeric
  await nf.fit({ y: ['a'] })
  // @ts-expect-error: save needs a path
  await nf.save()
}

function opsUsage(): void {
  const f64: Float64Array = ops.rollingMean(new Float64Array([1, 2, 3]), 2)
  const f32: Float32Array = ops.rollingStd(new Float32Array([1, 2, 3]), 2, 1)
  const plain: Float64Array = ops.ema([1, 2, 3], { span: 3 })
  const z = ops.normalize([1, 2, 3])
  const back = ops.denormalize(z.values as Float64Array, z)
  const info: string = ops.simdInfo().active
  const stats: number = ops.poolStats().highWaterBytes
  console.log(f64, f32, plain, back, info, stats, ops.sum([1]), ops.dot([1], [2]))
  // @ts-expect-error: window must be a number
  ops.rollingMean([1, 2], '2')
  // @ts-expect-error: ema needs alpha or span
  ops.ema([1, 2], { beta: 0.5 })
}

export { forecasterUsage, opsUsage }
