// test/kit/adapter.vitest.test.ts
import { createCacheClient } from 'cacheward'
import { memoryAdapter } from 'cacheward/memory'
import { adapterContract, chaosAdapter } from 'cacheward/testing'
import { afterAll, describe, expect, it } from 'vitest'

// The adapter under test: put yours here. An in-process store hands out one shared instance, so that two
// clients see one backend; a networked one returns a new connection each time.
const store = memoryAdapter({ maxEntries: 100_000 })

adapterContract(
  () => store,
  { describe, it, expect, afterAll },
  {
    name: 'memory store',
    additionalTests() {
      it('answers from the loader within the timeout when the store stops answering', async () => {
        const hung = chaosAdapter(store, { hang: true })
        const cache = createCacheClient({ adapter: hung, namespace: 'hung', timeout: 50 })
        expect(await cache.getOrSet('k', () => 'from the loader')).toBe('from the loader')
        await cache.close()
      })
    },
  },
)
