// Type tests of `neuro-divergent/distributed` (distributed.d.ts).
import { predict, crossValidation, worker, version, type DistributedProgress } from 'neuro-divergent/distributed'

export async function distributedUse(): Promise<number> {
  const w = await worker({ connection: 'redis://127.0.0.1:6379', concurrency: 2, threads: 1 })
  const forecast = await predict({
    checkpoint: 'model.safetensors',
    data: { unique_id: ['a'], ds: [1], y: [1] },
    connection: { host: '127.0.0.1', port: 6379 },
    chunkSeries: 500,
    onProgress: (p: DistributedProgress) => p.chunksDone / p.chunks,
  })
  const cv = await crossValidation({ forecasterOptions: { models: [{ type: 'MLP', h: 4, inputSize: 8 }] }, data: { y: [1, 2] }, connection: 'redis://127.0.0.1:6379', nWindows: 2, refit: true })
  await w.close()
  // @ts-expect-error connection is required
  await predict({ checkpoint: 'model.safetensors', data: { y: [1] } })
  return forecast.unique_id.length + cv.y.length + version.length
}
