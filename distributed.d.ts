// Types of `neuro-divergent/distributed` (distributed.js): batch prediction fanned out over BullMQ on Redis.
import type { CrossValidationResult, FitOptions, Forecast, LongFormatColumns, NeuralForecasterOptions, SearchTrial } from './main.js'

/** A redis:// URL or ioredis connection options. */
export type RedisConnection = string | { host?: string; port?: number; username?: string; password?: string; db?: number; [option: string]: unknown }

export interface DistributedProgress {
  /** Chunks whose forecast is in Redis (each counted once, also when a killed worker's chunk ran again). */
  chunksDone: number
  chunks: number
}

export interface DistributedPredictOptions {
  /** A checkpoint file (`save`) or its bytes (`toBuffer`); staged in Redis once under its SHA-256. */
  checkpoint: string | Uint8Array
  /** Long-format columns (not a Dataset): split into chunks of whole series. */
  data: LongFormatColumns
  connection: RedisConnection
  /** Series per chunk (one BullMQ child job each) [1000]. */
  chunkSeries?: number
  /** As `predict`'s. */
  horizon?: number
  level?: number | number[]
  quantiles?: number[]
  /** The BullMQ queue the workers listen on ['neuro-divergent']. */
  queueName?: string
  /** Removes the flow and rejects with the AbortError. */
  signal?: AbortSignal
  /** Called as each chunk completes. */
  onProgress?: (progress: DistributedProgress) => void
}

/** What `NeuralForecaster.load(checkpoint)` then `predict({ data, horizon, level, quantiles })` returns, identically. */
export function predict(options: DistributedPredictOptions): Promise<Forecast>

export interface DistributedCrossValidationOptions {
  /** The forecaster's options (a factory function cannot travel to the workers). */
  forecasterOptions: NeuralForecasterOptions
  /** Long-format columns (not a Dataset), staged once for every fit. */
  data: LongFormatColumns
  connection: RedisConnection
  /** As `crossValidation`'s. Each fit (one per window with refit true, one per k windows with refit k, one
   *  without refit) is one chunk. */
  nWindows?: number
  stepSize?: number
  refit?: boolean | number
  horizon?: number
  level?: number[]
  queueName?: string
  signal?: AbortSignal
  onProgress?: (progress: DistributedProgress) => void
}

/** What `crossValidation(forecasterOptions, data, { nWindows, stepSize, refit, horizon, level })` returns, identically. */
export function crossValidation(options: DistributedCrossValidationOptions): Promise<CrossValidationResult>

export interface DistributedSearchOptions {
  /** The forecaster's options with one Auto model (`new models.AutoNHITS({ … })`); `timeBudget` is refused. */
  forecasterOptions: NeuralForecasterOptions
  /** Long-format columns (not a Dataset), staged once for every trial. */
  data: LongFormatColumns
  connection: RedisConnection
  /** The fit's options, as `fit` takes them (`validationSize` is the points each trial holds out when the Auto
   *  model gives no `valSize`). */
  fitOptions?: Omit<FitOptions, 'onProgress' | 'signal' | 'staticData'>
  queueName?: string
  signal?: AbortSignal
  /** Called as each trial completes (a trial is a chunk). */
  onProgress?: (progress: DistributedProgress) => void
}

export interface DistributedSearchResult {
  /** One row per trial, in trial order: what the Auto model's `results()` lists after a local fit. */
  rows: SearchTrial[]
  /** The winner the local search picks (the lowest validation loss, the lowest trial among equals). */
  bestConfig: Record<string, unknown> | undefined
  bestTrial: number | undefined
}

/** An Auto model's search with one chunk per trial: the local search's trials and winner for the same seed. */
export function search(options: DistributedSearchOptions): Promise<DistributedSearchResult>

export interface DistributedWorkerOptions {
  connection: RedisConnection
  /** Chunks processed at once [1]. */
  concurrency?: number
  /** Threads of each forecaster [the checkpoint's, or the cross-validation's, numThreads]. */
  threads?: number
  queueName?: string
  /** BullMQ's lock duration and stalled-job check interval in ms [30000 each]: a killed worker's chunk runs again
   *  elsewhere after about this long. */
  lockDuration?: number
  stalledInterval?: number
  /** How long in ms a starting worker tries to reach Redis [30000]: then `worker()` rejects, naming the server,
   *  the tries and the last connection error. A started worker rides out Redis restarts. */
  connectTimeout?: number
  /** Connection and worker errors (Redis unreachable, …); they are retried. */
  onError?: (error: Error) => void
}

export interface DistributedWorker {
  /** Finishes the chunks in progress, then disconnects. */
  close(): Promise<void>
}

export function worker(options: DistributedWorkerOptions): Promise<DistributedWorker>

/** The package version; workers refuse jobs of coordinators of another version. */
export const version: string
