import { startEdgeRuntime } from './harness.js'
import { describeRuntime } from './suite.js'

describeRuntime('edge-runtime', startEdgeRuntime)
