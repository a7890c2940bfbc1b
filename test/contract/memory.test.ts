import { memoryAdapter } from '../../src/adapters/memory.js'
import { defineContractSuite } from './cache-client.contract.js'

// One store shared by every client in the suite, so a second client is "another process" on the same backend.
const shared = memoryAdapter({ maxEntries: 100_000 })

defineContractSuite({
  name: 'memory',
  makeAdapter: () => shared,
  makePeer: () => shared,
})
