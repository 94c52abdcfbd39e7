// Fit, predict, save and load in TypeScript; `npm test` type-checks this file (tsc -p __test__/types).
import { NeuralForecaster, models, type Forecast } from 'neuro-divergent'

export async function forecastAirPassengers(y: number[], file: string): Promise<Float64Array> {
  const nf = new NeuralForecaster({
    models: [new models.LSTM({ h: 12, inputSize: 24, scalerType: 'standard', maxSteps: 200 })],
    seed: 1,
  })
  await nf.fit(y, { onProgress: (p) => console.error(`step ${p.step}/${p.maxSteps} loss ${p.trainLoss.toFixed(4)}`) })
  const forecast: Forecast = await nf.predict()
  await nf.save(file)
  const restored = await NeuralForecaster.load(file)
  const again = await restored.predict()
  if ((again.LSTM as Float64Array)[0] !== (forecast.LSTM as Float64Array)[0]) throw new Error('load changed the forecast')
  return forecast.LSTM as Float64Array
}
