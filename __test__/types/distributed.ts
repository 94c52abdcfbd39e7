// Type tests of `neuro-divergent/distributed` (distributed.d.ts).
import { predict, crossValidation, search, worker, version, type DistributedProgress } from 'neuro-divergent/distributed'
import { models, autoTrialConfigs } from 'neuro-divergent'

export async function distributedUse(): Promise<number> {
  const w = await worker({ connection: 'redis://127.0.0.1:6379', concurrency: 2, threads: 1, connectTimeout: 5000 })
  const forecast = await predict({
    checkpoint: 'model.safetensors',
    data: { unique_id: ['a'], ds: [1], y: [1] },
    connection: { host: '127.0.0.1', port: 6379 },
    chunkSeries: 500,
    onProgress: (p: DistributedProgress) => p.chunksDone / p.chunks,
  })
  const cv = await crossValidation({ forecasterOptions: { models: [{ type: 'MLP', h: 4, inputSize: 8 }] }, data: { y: [1, 2] }, connection: 'redis://127.0.0.1:6379', nWindows: 2, refit: true })
  const nhits = new models.AutoNHITS({ h: 4, numSamples: 20 })
  const found = await search({ forecasterOptions: { models: [nhits], frequency: 1 }, data: { y: [1, 2] }, connection: 'redis://127.0.0.1:6379', fitOptions: { validationSize: 4 } })
  const configs: Record<string, unknown>[] = autoTrialConfigs('AutoNHITS', { h: 4, numSamples: 20 })
  const best: Record<string, unknown> | undefined = found.bestConfig
  void [configs, best, found.bestTrial, found.rows[0].validLoss]
  await w.close()
  // @ts-expect-error connection is required
  await predict({ checkpoint: 'model.safetensors', data: { y: [1] } })
  return forecast.unique_id.length + cv.y.length + version.length
}
