// ES module entry point: the CommonJS entry (main.js) re-exported, so that `import` and `require` share one
// loaded addon and one set of classes (no dual-package hazard: `instanceof NeuralForecaster` holds across both).
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const cjs = require('./main.js')

export const { NeuralForecaster, models, auto, autoTrialConfigs, ops, Dataset, readCsv, crossValidation, evaluate, coverage, calendarFeatures, plotForecast } = cjs
export default cjs
