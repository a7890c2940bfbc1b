import { Redis as Upstash } from '@upstash/redis'
import { Redis } from 'ioredis'
import { inject } from 'vitest'
import { upstashAdapter } from '../../src/adapters/upstash.js'
import { defineContractSuite } from './cache-client.contract.js'
import { rawHooks } from './raw-hooks.js'

// The whole contract with the in-process tier on, over the real @upstash/redis client, subscribed to the
// announcements through its subscribe() (server-sent events from the local REST endpoint).
const url = inject('upstashUrl')
const token = inject('upstashToken')
const admin = new Redis(inject('redisUrl'))

defineContractSuite({
  name: 'upstash with l1',
  makeAdapter: () => upstashAdapter(new Upstash({ url, token, enableTelemetry: false })),
  makePeer: () => upstashAdapter(new Upstash({ url, token, enableTelemetry: false })),
  ...rawHooks(admin),
  clientOptions: { l1: true },
  cleanup: async () => {
    await admin.quit()
  },
})
