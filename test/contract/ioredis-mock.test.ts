import { EventEmitter } from 'node:events'
import RedisMock from 'ioredis-mock'
import { type IoredisLikeClient, ioredisAdapter } from '../../src/adapters/ioredis.js'
import { defineContractSuite } from './cache-client.contract.js'
import { rawHooks } from './raw-hooks.js'

// ioredis-mock runs the adapter's Lua through its own interpreter: a fast unit-level check that
// the scripts and reply parsing hang together, not a substitute for the redis-server suites.
// Every RedisMock adds a listener to one module-level emitter of ioredis-mock's, and the suite keeps its
// clients open until afterAll (about 40): not a leak, so lift Node's warning threshold for this file's worker.
EventEmitter.defaultMaxListeners = 100

const mock = () =>
  new RedisMock() as unknown as IoredisLikeClient & {
    set(k: string, v: string): Promise<unknown>
    pttl(k: string): Promise<number>
    del(k: string): Promise<number>
  }
const admin = mock()

defineContractSuite({
  name: 'ioredis-mock',
  makeAdapter: () => ioredisAdapter(mock()),
  makePeer: () => ioredisAdapter(mock()),
  ...rawHooks(admin),
  faithful: { timeWindows: false, globEscapes: false },
  // Its Lua runs in a JavaScript interpreter: 120 concurrent writes (the cluster-spread case) take about a
  // second, which the default 1 s timeout (and the deadline set() writes carry) would cut short.
  clientOptions: { timeout: '5s' },
})
