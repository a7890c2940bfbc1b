/**
 * `set()` with tags racing `invalidateTags()`, on redis-server and on the 3-master cluster (where the tag records
 * are committed in a step of their own). A `set()` whose write the backend refuses because a tag was invalidated
 * between its tag read and its write resolved, on the old code, leaving the key's previous value in place: the
 * caller's overwrite was lost and the value it replaced kept being served. Now the key is left empty (a tombstone).
 */
import { Cluster, Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import type { CacheAdapter } from '../../src/adapters/adapter.js'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { createCacheClient } from '../../src/index.js'
import { keygen } from '../support/keygen.js'

const cleanup: Array<() => unknown> = []
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
})
const ns = keygen('settagsrace')

function connect(on: 'redis-server' | 'cluster'): CacheAdapter {
  const client =
    on === 'cluster'
      ? new Cluster(inject('clusterNodes'), { redisOptions: { maxRetriesPerRequest: 1 } })
      : new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 })
  client.on('error', () => {})
  cleanup.push(() => client.disconnect())
  return ioredisAdapter(client)
}

describe.each(['redis-server', 'cluster'] as const)('set() with tags racing invalidateTags(), %s', (on) => {
  it('never leaves the value it was asked to replace behind once it resolved', async () => {
    const namespace = ns()
    const base = connect(on)
    // Hold the next write until the test lets it go: invalidateTags() then lands between set()'s tag read and its write.
    let holdNext = false
    let reachedWrite!: () => void
    const atWrite = new Promise<void>((resolve) => {
      reachedWrite = resolve
    })
    let release!: () => void
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    const adapter: CacheAdapter = {
      ...base,
      async write(key, request) {
        if (holdNext) {
          holdNext = false
          reachedWrite()
          await released
        }
        return base.write(key, request)
      },
    }
    const writer = createCacheClient({ adapter, namespace, circuitBreaker: false })
    const other = createCacheClient({ adapter: connect(on), namespace, circuitBreaker: false })
    cleanup.push(
      () => writer.close(),
      () => other.close(),
    )

    // The source of truth held v1, cached without tags.
    await writer.set('room:1', 'v1')
    expect(await other.get('room:1')).toBe('v1')

    // The app updates the row to v2 and caches it with a tag; meanwhile another process invalidates that tag.
    holdNext = true
    const setting = writer.set('room:1', 'v2', { tags: ['rooms'] })
    await atWrite
    await other.invalidateTags(['rooms'])
    release()
    await expect(setting).resolves.toBeUndefined()

    // v2 may be gone (its tag was invalidated), but v1 is the value set() replaced: serving it is a lost update.
    const seen = await other.get('room:1')
    expect(seen).not.toBe('v1')
    expect(await writer.getOrSet('room:1', () => 'from-db')).not.toBe('v1')
  })
})
