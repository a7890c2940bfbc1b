import { startWorkerd } from './harness.js'
import { describeRuntime } from './suite.js'

describeRuntime('workerd', startWorkerd)
