import RedisMock from 'ioredis-mock'
import { type IoredisLikeClient, ioredisAdapter } from '../../src/adapters/ioredis.js'
import { defineContractSuite } from './cache-client.contract.js'

// ioredis-mock runs the adapter's Lua through its own interpreter: a fast unit-level check that
// the scripts and reply parsing hang together, not a substitute for the redis-server suites.
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
  writeRaw: async (key, value) => {
    await admin.set(key, value)
  },
  deleteRaw: async (key) => {
    await admin.del(key)
  },
  pttl: (key) => admin.pttl(key),
  faithful: { timeWindows: false, globEscapes: false },
})
