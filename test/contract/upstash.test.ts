import { Redis as Upstash } from '@upstash/redis'
import { Redis } from 'ioredis'
import { inject } from 'vitest'
import { upstashAdapter } from '../../src/adapters/upstash.js'
import { defineContractSuite } from './cache-client.contract.js'
import { rawHooks } from './raw-hooks.js'

// The real @upstash/redis client over HTTP to a local endpoint speaking the Upstash REST protocol.
// Run twice: with the client's defaults (auto-pipelining, base64, automaticDeserialization on) and
// with automaticDeserialization off, since the adapter must work either way.
const url = inject('upstashUrl')
const token = inject('upstashToken')
const admin = new Redis(inject('redisUrl'))

for (const automaticDeserialization of [true, false]) {
  defineContractSuite({
    name: `upstash (automaticDeserialization ${automaticDeserialization ? 'on' : 'off'}) [U1]`,
    makeAdapter: () => upstashAdapter(new Upstash({ url, token, automaticDeserialization, enableTelemetry: false })),
    makePeer: () => upstashAdapter(new Upstash({ url, token, automaticDeserialization, enableTelemetry: false })),
    ...rawHooks(admin),
    cleanup: async () => {
      if (!automaticDeserialization) await admin.quit()
    },
  })
}
