/**
 * Processes waiting on another process's lock are woken by the holder's write (announced from inside
 * the write script) on ioredis, standalone and Cluster, instead of at their next poll.
 */
import { Cluster, Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import type { CacheAdapter, CacheClient } from '../../src/index.js'
import { createCacheClient } from '../../src/index.js'
import { keygen } from '../support/keygen.js'

const closers: Array<() => unknown> = []
afterAll(async () => {
  for (const close of closers) await close()
})

const backends: Array<[string, () => CacheAdapter]> = [
  [
    'redis-server',
    () => {
      const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 })
      closers.push(() => redis.quit())
      return ioredisAdapter(redis)
    },
  ],
  [
    'redis cluster',
    () => {
      const cluster = new Cluster(inject('clusterNodes'), { redisOptions: { maxRetriesPerRequest: 1 } })
      closers.push(() => cluster.quit())
      return ioredisAdapter(cluster)
    },
  ],
]

describe.each(backends)('%s', (_, makeAdapter) => {
  const ns = keygen('wake')
  const make = (namespace: string): CacheClient => {
    const cache = createCacheClient({ adapter: makeAdapter(), namespace })
    closers.unshift(() => cache.close())
    return cache
  }

  it('wakes a waiting adapter as soon as another connection writes the key, long before its timeout', async () => {
    const namespace = ns()
    const waiter = makeAdapter()
    const writer = makeAdapter()
    closers.unshift(() => waiter.dispose?.())
    // First wait opens the subscriber; give it a moment to subscribe before timing the real one.
    await waiter.waitForWrite?.(`${namespace}:warm`, 200)
    const started = performance.now()
    const woken = waiter.waitForWrite?.(`${namespace}:k`, 5_000)
    setTimeout(() => {
      void writer.write(`${namespace}:k`, {
        fence: null,
        gen: 'g',
        ttl: 60_000,
        staleWhileRevalidate: 0,
        staleIfError: 0,
        expireIn: 60_000,
        body: '{"w":1,"v":1}',
      })
    }, 50)
    await woken
    expect(performance.now() - started).toBeLessThan(1_000)
  })

  it('hands the holder’s value to a waiting process within a few ms of its write', async () => {
    const namespace = ns()
    const holder = make(namespace)
    const waiting = make(namespace)
    // Open the waiting client's subscriber first, as a process that has waited before would have.
    await waiting.getOrSet('warm', () => 1)
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    let wroteAt = 0
    const loading = holder.getOrSet('k', async () => {
      await gate
      return 'v'
    })
    await new Promise((r) => setTimeout(r, 20))
    const waited = waiting.getOrSet('k', () => 'unused').then((value) => ({ value, at: performance.now() }))
    await new Promise((r) => setTimeout(r, 300))
    release()
    await loading
    wroteAt = performance.now()
    const { value, at } = await waited
    expect(value).toBe('v')
    // A poll would answer up to 50 ms (its back-off cap) after the write; the announcement does much sooner.
    expect(at - wroteAt).toBeLessThan(40)
  })
})

describe('an ACL user without PUBLISH', () => {
  it('still writes and reads: the announcement is best effort', async () => {
    const url = new URL(inject('redisUrl'))
    const admin = new Redis(inject('redisUrl'))
    closers.push(() => admin.quit())
    const user = `cw${Math.random().toString(36).slice(2, 8)}`
    await admin.call('ACL', 'SETUSER', user, 'on', '>no-publish-pass', '~*', '&*', '+@all', '-publish')
    // Cleanup runs in array order: delete the user before any connection quits.
    closers.unshift(() => admin.call('ACL', 'DELUSER', user))
    const limited = new Redis({
      host: url.hostname,
      port: Number(url.port),
      username: user,
      password: 'no-publish-pass',
    })
    closers.push(() => limited.quit())
    await expect(limited.publish('cacheward:written', 'x')).rejects.toThrow(/NOPERM/)
    const cache = createCacheClient({ adapter: ioredisAdapter(limited), namespace: keygen('acl')() })
    closers.unshift(() => cache.close())
    let calls = 0
    expect(await cache.getOrSet('k', () => ++calls)).toBe(1)
    expect(await cache.getOrSet('k', () => ++calls)).toBe(1)
    expect(cache.metrics().errors).toBe(0)
  })
})
