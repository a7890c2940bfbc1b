import { Redis } from 'ioredis6'
import { inject } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { defineContractSuite } from './cache-client.contract.js'

// The same contract through ioredis 6 (RESP3 by default), installed under the ioredis6 alias.
const url = inject('redisUrl')
const connections: Redis[] = []
const connect = () => {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 })
  connections.push(redis)
  return redis
}
const admin = connect()

defineContractSuite({
  name: 'redis-server (ioredis 6)',
  makeAdapter: () => ioredisAdapter(connect()),
  makePeer: () => ioredisAdapter(connect()),
  writeRaw: async (key, value) => {
    await admin.set(key, value)
  },
  deleteRaw: async (key) => {
    await admin.del(key)
  },
  pttl: (key) => admin.pttl(key),
  cleanup: async () => {
    await Promise.all(connections.map((c) => c.quit()))
  },
})
