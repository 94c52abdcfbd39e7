// The fit summary's per-model `parameters`: the trainable parameter count of Lightning's model summary, which
// NeuralForecast users read, compared with NeuralForecast 3.3's models at their defaults.
const { NeuralForecaster, models } = require('../main.js')
const { sinePanel } = require('./sine_panel.js')

async function parameters(model) {
  const summary = await new NeuralForecaster({ models: [model], numThreads: 1 }).fit(sinePanel(1, 60))
  return summary.models[0].parameters
}

test('MLP(h=12, input_size=24) at defaults has NeuralForecast’s 1,087,500 parameters', async () => {
  // num_layers=2, hidden_size=1024: Linear(24, 1024) 24*1024 + 1024 = 25,600; Linear(1024, 1024)
  // 1024*1024 + 1024 = 1,049,600; output Linear(1024, h=12) 1024*12 + 12 = 12,300. Sum 1,087,500.
  expect(await parameters(new models.MLP({ h: 12, inputSize: 24, maxSteps: 1 }))).toBe(1087500)
})

test('NHITS(h=12, input_size=24) at defaults has NeuralForecast’s 2,437,725 parameters', async () => {
  // Three identity stacks of one block; n_pool_kernel_size [2, 2, 1], n_freq_downsample [4, 2, 1]; a block's input
  // is ceil(24 / k) and n_theta = 24 + max(12 // f, 1). nhits.py hands every block the whole mlp_units
  // (3 * [[512, 512]]), so a block is Linear(in, 512), one Linear(512, 512) per entry (three: 3 * 262,656 =
  // 787,968) and Linear(512, n_theta):
  //   stack 1: in 12, n_theta 27: (12*512 + 512 = 6,656) + 787,968 + (512*27 + 27 = 13,851) = 808,475
  //   stack 2: in 12, n_theta 30: 6,656 + 787,968 + (512*30 + 30 = 15,390) = 810,014
  //   stack 3: in 24, n_theta 36: (24*512 + 512 = 12,800) + 787,968 + (512*36 + 36 = 18,468) = 819,236
  // Sum 2,437,725.
  expect(await parameters(new models.NHITS({ h: 12, inputSize: 24, maxSteps: 1 }))).toBe(2437725)
})

test('a multi-quantile loss widens the output layer, as NeuralForecast’s outputsize_multiplier does', async () => {
  // MLP(h=12, input_size=24, loss=MQLoss(level=[80])): 3 outputs per step, so the output Linear(1024, 36) has
  // 1024*36 + 36 = 36,900 parameters instead of 12,300: 1,087,500 - 12,300 + 36,900 = 1,112,100.
  const model = new models.MLP({ h: 12, inputSize: 24, maxSteps: 1, loss: { type: 'MQLoss', level: [80] } })
  expect(await parameters(model)).toBe(1112100)
})
