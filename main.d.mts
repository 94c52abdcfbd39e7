// Types of the ES module entry point (main.mjs): the same API as the CommonJS entry (main.d.ts).
import * as neuroDivergent from './main.js'

export * from './main.js'
export default neuroDivergent
