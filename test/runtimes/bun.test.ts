import { startBun } from './harness.js'
import { describeRuntime } from './suite.js'

describeRuntime('bun', startBun)
