// test/kit/app.node-test.ts
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { createCacheClient } from 'cacheward'
import { memoryAdapter } from 'cacheward/memory'
import { chaosAdapter, manualClock } from 'cacheward/testing'

// The code under test: a service that caches what it reads from its database.
const roomService = (cache: ReturnType<typeof createCacheClient>, db: { find(id: string): Promise<string> }) => ({
  room: (id: string) => cache.getOrSet(`room:${id}`, () => db.find(id), { ttl: '5m', staleWhileRevalidate: '1h' }),
})

it('reads the database once per ttl, and serves stale while it refreshes', async () => {
  const clock = manualClock()
  const cache = createCacheClient({ clock, adapter: memoryAdapter({ clock }), namespace: 'test' })
  let queries = 0
  const rooms = roomService(cache, { find: async (id) => `Room ${id} v${++queries}` })

  assert.equal(await rooms.room('42'), 'Room 42 v1')
  clock.advance(4 * 60_000) // still fresh
  assert.equal(await rooms.room('42'), 'Room 42 v1')
  clock.advance(2 * 60_000) // past ttl: the old value at once, a refresh in the background
  const refreshed = new Promise((resolve) => cache.on('refresh', resolve))
  assert.equal(await rooms.room('42'), 'Room 42 v1')
  await refreshed
  assert.equal(await rooms.room('42'), 'Room 42 v2')
  assert.equal(queries, 2)
  await cache.close()
})

it('answers from the database when the cache backend hangs', async () => {
  const backend = chaosAdapter(memoryAdapter(), { hang: true })
  const cache = createCacheClient({ adapter: backend, namespace: 'test', timeout: 50 })
  const rooms = roomService(cache, { find: async (id) => `Room ${id}` })

  assert.equal(await rooms.room('42'), 'Room 42')
  assert.ok(cache.metrics().errors > 0)
  assert.equal(backend.calls('read'), 1)
  await cache.close()
})
