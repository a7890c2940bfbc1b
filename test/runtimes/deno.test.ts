import { startDeno } from './harness.js'
import { describeRuntime } from './suite.js'

describeRuntime('deno', startDeno)
