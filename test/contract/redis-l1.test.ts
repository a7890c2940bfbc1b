import { Redis } from 'ioredis'
import { inject } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { defineContractSuite } from './cache-client.contract.js'
import { rawHooks } from './raw-hooks.js'

// The whole contract again with the in-process tier on, over real redis-server (ioredis 5).
const url = inject('redisUrl')
const connections: Redis[] = []
const connect = () => {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 })
  connections.push(redis)
  return redis
}
const admin = connect()

defineContractSuite({
  name: 'redis-server with l1',
  makeAdapter: () => ioredisAdapter(connect()),
  makePeer: () => ioredisAdapter(connect()),
  ...rawHooks(admin),
  clientOptions: { l1: true },
  cleanup: async () => {
    await Promise.all(connections.map((c) => c.quit()))
  },
})
