import { Redis as Redis5 } from 'ioredis'
import { Redis as Redis6 } from 'ioredis6'
import { inject } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { defineContractSuite } from './cache-client.contract.js'
import { rawHooks } from './raw-hooks.js'

// Real redis-server through ioredis 5 and ioredis 6 (RESP3 by default; installed under the ioredis6
// alias). Each adapter gets its own connection, as separate processes would.
const url = inject('redisUrl')

const clients = {
  '5': () => new Redis5(url, { maxRetriesPerRequest: 1 }),
  '6': () => new Redis6(url, { maxRetriesPerRequest: 1 }),
}

for (const [major, create] of Object.entries(clients)) {
  const connections: { quit(): Promise<unknown> }[] = []
  const connect = () => {
    const redis = create()
    connections.push(redis)
    return redis
  }
  const admin = new Redis5(url)
  connections.push(admin)

  defineContractSuite({
    name: `redis-server (ioredis ${major})`,
    makeAdapter: () => ioredisAdapter(connect()),
    makePeer: () => ioredisAdapter(connect()),
    ...rawHooks(admin),
    cleanup: async () => {
      await Promise.all(connections.map((c) => c.quit()))
    },
  })
}
