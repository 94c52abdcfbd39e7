'use strict'
// The help texts: the overview (`neuro-divergent --help`) and each command's `--help`, with the model list of
// this build and the command line's defaults.

const { DEFAULTS } = require('./args.js')
const { METRICS, DEFAULT_METRICS } = require('../evaluate.js')

const PROGRAM = 'neuro-divergent'

const DATA_HELP = `Data (CSV, long format: one row per observation; RFC 4180 quoting, LF or CRLF):
  --id-col NAME        series id column [unique_id]; without one the file is one series
  --time-col NAME      time column [ds]: YYYY-MM-DD[ HH:MM[:SS]], ISO 8601, or integer steps
  --target-col NAME    target column [y], numeric
  --delimiter CHAR     field delimiter [,]
Without a data file the built-in example is used: AirPassengers (1949–1960, monthly).`

const MODEL_HELP = (models) => `Model:
  -m, --model NAME     ${models.map((m) => m.toLowerCase()).join(', ')} [${DEFAULTS.model}]; repeat it or list several
                       (--model lstm,gru) for one forecast column per model
  -H, --horizon N      steps to forecast [${DEFAULTS.horizon}]
  --input-size N       input window length [2 × horizon]
  --freq ALIAS         pandas frequency alias (D, B, W, MS, ME, QS, YS, h, 30min, …) [inferred]
  --max-steps N        training steps [${DEFAULTS.maxSteps}]
  --hidden-size N      encoder and decoder units [${DEFAULTS.hiddenSize}]
  --scaler NAME        window scaler: identity, standard, robust, minmax, minmax1 [${DEFAULTS.scaler}]
  --learning-rate X    Adam learning rate [1e-3]
  --batch-size N       windows per training step [${DEFAULTS.windowsBatchSize}]
  --seed N             random seed [${DEFAULTS.seed}]
  --threads N          worker threads [all cores]; results are the same for any value
  --level 80,95        prediction intervals at these levels (%): conformal for the neural models (calibrated
                       on each series' last windows, an extra fit), Prophet's own for prophet
  --loss NAME          neural models' training loss: mae, mse, huber, tukey, mqloss, or a distribution trained by
                       likelihood: normal, studentt, poisson, negativebinomial, bernoulli, gmm, pmm, nbmm, or
                       isqf (a spline quantile function trained by its CRPS) [mae];
                       with mqloss or a distribution, --level sets its quantile columns (no conformal calibration)
  --samples N          Auto models (--model autonhits, autolstm, …): trials of the search [10]; --model auto
                       (an ensemble of the best 3 of 8 model families): trials in all [24]
  --time-budget 30s    Auto models: no trial starts after this long (s, m or h)`

/** The help of `command` (the overview when it is undefined); `models`: the model types of this build. */
function help(command, models) {
  const m = models
  switch (command) {
    case 'forecast':
      return `Usage: ${PROGRAM} forecast [data.csv] [options]

Fits the models on every series and forecasts the next --horizon steps. Prints the forecast table on stdout;
progress and notes go to stderr.

${MODEL_HELP(m)}

Output:
  --out FILE           write the forecast as CSV (unique_id, ds, one column per model); - for stdout
  --plot FILE          write an SVG plot (history, forecasts, train/forecast split)
  --save FILE          save the fitted models as a safetensors checkpoint (see: ${PROGRAM} predict --load)
  -q, --quiet          no progress or notes on stderr
  -h, --help           this help

${DATA_HELP}

Example:
  ${PROGRAM} forecast --out forecast.csv --plot forecast.svg
  ${PROGRAM} forecast sales.csv --id-col store --time-col date --target-col units --horizon 7 --model lstm,gru
`
    case 'cv':
      return `Usage: ${PROGRAM} cv [data.csv] [options]

Cross-validation as NeuralForecast's cross_validation: --n-windows forecasts of --horizon steps at the end of
every series, --step-size apart, each made from the history up to its cutoff. The models are fitted once on
the data before the first window (or per window with --refit). Prints MAE, MSE, RMSE, sMAPE (%) and MASE per
model, averaged over series.

Cross-validation:
  --n-windows N        windows per series [${DEFAULTS.nWindows}]
  --step-size N        points between window starts [the horizon]
  --refit              fit a fresh model for every window
  --metrics LIST       among ${METRICS.join(', ')} [${DEFAULT_METRICS.join(', ')}]
  --season N           seasonal period of the MASE scale [from the frequency: 12 monthly, 4 quarterly, …]
  --per-series         also print the metrics of every series
  --out FILE           write the cross-validation rows (unique_id, ds, cutoff, y, models) as CSV
  --redis URL          run the fits on the workers of a Redis server (${PROGRAM} worker --redis URL): one
                       chunk per fit (per window with --refit); the same result; not with --level

${MODEL_HELP(m)}
  -q, --quiet          no progress or notes on stderr
  -h, --help           this help

${DATA_HELP}
`
    case 'predict':
      return `Usage: ${PROGRAM} predict --load model.safetensors [data.csv] [options]
       ${PROGRAM} predict --load nf_dir data.csv [options]

Forecasts with saved models: a checkpoint (from ${PROGRAM} forecast --save, or NeuralForecaster.save) or a
model directory written by NeuralForecast's nf.save. Without a data file the forecast continues the series
the checkpoint's models were fitted on; with one, it starts after each series' last point in the file (no
refit). A NeuralForecast directory holds no series, so it needs the data file.

Options:
  --load PATH          the checkpoint file or NeuralForecast model directory (required)
  -H, --horizon N      steps to forecast, at most the models' h [h]
  --out FILE           write the forecast as CSV; - for stdout
  --plot FILE          write an SVG plot
  --redis URL          run on the workers of a Redis server (${PROGRAM} worker --redis URL) instead of here:
                       the data file is split into chunks of series; the forecast is the same
  --chunk-series N     series per chunk with --redis [1000]
  -q, --quiet          no notes on stderr
  -h, --help           this help

${DATA_HELP.replace(/\nWithout a data file.*$/s, '')}
`
    case 'worker':
      return `Usage: ${PROGRAM} worker --redis URL [options]

A distributed-mode worker: takes chunks of \`${PROGRAM} predict --redis\` runs (and of
require('neuro-divergent/distributed').predict) from the Redis server's queue and forecasts them here.
Run any number, on any number of machines with the same package version. SIGTERM or SIGINT finishes the
chunks in progress, then exits; a worker killed outright has its chunk run again by another one.

Options:
  --redis URL            the Redis server, redis://HOST:PORT (required)
  --concurrency N        chunks at once [1]
  --threads N            threads per chunk [the checkpoint's numThreads]; forecasts are the same for any value
  --queue NAME           the BullMQ queue [neuro-divergent]
  --lock-duration MS     how long a chunk's lock lasts without renewal [30000]
  --stalled-interval MS  how often stalled chunks (of killed workers) are looked for [30000]
  --connect-timeout MS   how long to try reaching Redis at start before giving up (exit 1) [30000]
  -q, --quiet            no notes on stderr
  -h, --help             this help
`
    case 'convert':
      return `Usage: ${PROGRAM} convert <in> <out> [--overwrite]

Converts saved models between NeuralForecast's format and this library's: a model directory written by
NeuralForecast's nf.save becomes a safetensors checkpoint file; a checkpoint file (${PROGRAM} forecast
--save, NeuralForecaster.save) becomes a NeuralForecast directory that NeuralForecast.load(<out>) reads in
Python. The direction follows <in>: a directory or a file.

Options:
  --overwrite          replace <out> if it exists
  -q, --quiet          no notes on stderr
  -h, --help           this help

Example:
  ${PROGRAM} convert nf_models/ model.safetensors
  ${PROGRAM} convert model.safetensors nf_models/ --overwrite
`
    case 'bench':
      return `Usage: ${PROGRAM} bench [options]

A quick self-benchmark on AirPassengers at the configuration of the project's baselines (inputSize 24, h 12,
2×64 encoder, 64×2 decoder, standard scaling, batch 32, 200 steps): fit time, time per training step,
predict latency, single-window latency, 32-window batch throughput, and the MAE on the 1960 hold-out.

Options:
  -m, --model NAME     models to run [all: ${m.map((x) => x.toLowerCase()).join(', ')}]
  --threads N          worker threads [2]
  --full               more repeats (3 fits, 20,000 window calls), as npm run bench
  --compare            add NeuralForecast's figures from the reference machine (2 vCPU Zen 5)
  -h, --help           this help
`
    case 'info':
      return `Usage: ${PROGRAM} info

Prints the package version, the native addon's SIMD path (detected and in use), the threads available, the
models in this build and the built-in example data.
`
    default:
      return `Usage: ${PROGRAM} <command> [options]

Neural time-series forecasting (NeuralForecast's ${m.join(', ')}) on a Rust core.

Commands:
  forecast [data.csv]   fit and forecast; the built-in AirPassengers example without a file
  cv [data.csv]         cross-validation with a metrics table per model
  predict --load PATH   forecast with saved models (a checkpoint or a NeuralForecast directory)
  convert <in> <out>    NeuralForecast model directory <-> checkpoint file
  bench                 quick self-benchmark
  info                  version, SIMD path, threads
  worker --redis URL    run the chunks of distributed predictions (predict --redis)

Run ${PROGRAM} <command> --help for a command's options. --version prints the version.

Example:
  ${PROGRAM} forecast --out forecast.csv --plot forecast.svg
`
  }
}

module.exports = { PROGRAM, help }
