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

/**
 * Waits until `waiter`'s subscriber receives announcements: a write by `writer` ends a wait early. A
 * fixed sleep is not enough on a busy machine, where the subscriber connection can take longer to open.
 */
async function subscribed(waiter: CacheAdapter, writer: CacheAdapter, key: string): Promise<void> {
  const wait = waiter.waitForWrite?.bind(waiter)
  if (!wait) throw new Error('the adapter has no waitForWrite')
  for (let attempt = 0; attempt < 100; attempt++) {
    const begun = performance.now()
    const woken = wait(key, 100)
    await writer.write(key, {
      fence: null,
      gen: `warm${attempt}`,
      ttl: 60_000,
      staleWhileRevalidate: 0,
      staleIfError: 0,
      expireIn: 60_000,
      body: '{"w":1,"v":0}',
    })
    await woken
    if (performance.now() - begun < 90) return
  }
  throw new Error('the subscriber never received an announcement')
}

describe.each(backends)('%s', (_, makeAdapter) => {
  const ns = keygen('wake')
  const make = (namespace: string): CacheClient => {
    const cache = createCacheClient({ adapter: makeAdapter(), namespace })
    closers.unshift(() => cache.close())
    return cache
  }

  it('wakes a waiting adapter as soon as another connection writes the key, and not before', async () => {
    const namespace = ns()
    const waiter = makeAdapter()
    const writer = makeAdapter()
    closers.unshift(() => waiter.dispose?.())
    const waitForWrite = waiter.waitForWrite?.bind(waiter)
    expect(typeof waitForWrite).toBe('function')
    if (!waitForWrite) return
    await subscribed(waiter, writer, `${namespace}:warm`)
    // Nobody writes: the wait runs its whole course.
    let started = performance.now()
    await waitForWrite(`${namespace}:quiet`, 150)
    expect(performance.now() - started).toBeGreaterThanOrEqual(145)
    // A write 50 ms in ends it then, long before its 5 s.
    started = performance.now()
    const woken = waitForWrite(`${namespace}:k`, 5_000)
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
    const ms = performance.now() - started
    expect(ms).toBeGreaterThanOrEqual(45)
    expect(ms).toBeLessThan(1_000)
  })

  it('hands the holder’s value to a waiting process within a few ms of its write, woken by the announcement', async () => {
    // Every wait of the waiting client, with when it began and ended.
    const waits: Array<{ begun: number; ended: number; ms: number }> = []
    // The gaps from the holder's write to the waiting client's answer, in the trials that can be judged.
    const gaps: number[] = []
    let missed = 0
    for (let trial = 0; trial < 5; trial++) {
      const namespace = ns()
      const holder = make(namespace)
      const inner = makeAdapter()
      const wait = inner.waitForWrite?.bind(inner)
      expect(typeof wait).toBe('function')
      if (!wait) return
      const waitingAdapter: CacheAdapter = {
        ...inner,
        waitForWrite: async (key, ms) => {
          const begun = performance.now()
          await wait(key, ms)
          waits.push({ begun, ended: performance.now(), ms })
        },
      }
      const waiting = createCacheClient({ adapter: waitingAdapter, namespace })
      closers.unshift(() => waiting.close())
      // Open the waiting client's subscriber first, as a process that has waited before would have.
      await subscribed(inner, makeAdapter(), `${namespace}:warm`)
      let release!: () => void
      const gate = new Promise<void>((r) => {
        release = r
      })
      const loading = holder.getOrSet('k', async () => {
        await gate
        return 'v'
      })
      await new Promise((r) => setTimeout(r, 20))
      const first = waits.length
      const waited = waiting.getOrSet('k', () => 'unused').then((value) => ({ value, at: performance.now() }))
      await new Promise((r) => setTimeout(r, 200))
      const releasedAt = performance.now()
      release()
      await loading
      const wroteAt = performance.now()
      const { value, at } = await waited
      expect(value).toBe('v')
      // The trial is judged by a wait that began before the write and still had 10 ms to run after it: the
      // announcement must end it early. On a busy machine the write can instead land while the waiting client
      // is between two waits (its read in flight); that read or the next one finds the value, and the trial
      // says nothing about the announcement.
      const judged = waits.slice(first).find((w) => w.begun <= releasedAt && w.begun + w.ms >= wroteAt + 10)
      if (!judged) continue
      if (judged.ended - judged.begun >= judged.ms - 2) missed++
      gaps.push(at - wroteAt)
    }
    expect(missed).toBe(0)
    // A wait is ~37–62 ms and a read under 1 ms on an idle machine: most trials can be judged.
    expect(gaps.length).toBeGreaterThanOrEqual(2)
    // A poll answers up to 50 ms (its back-off cap) after the write; the announcement does much sooner.
    gaps.sort((a, b) => a - b)
    expect(gaps[Math.floor((gaps.length - 1) / 2)]).toBeLessThan(15)
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
    // Closed before the user is deleted (unshifted after it, so it runs first): Redis drops a deleted user's
    // connections, and one that reconnected would fail with WRONGPASS, an unhandled error that fails the file.
    limited.on('error', () => {})
    closers.unshift(() => limited.disconnect())
    await expect(limited.publish('cacheward:written', 'x')).rejects.toThrow(/NOPERM/)
    const cache = createCacheClient({ adapter: ioredisAdapter(limited), namespace: keygen('acl')() })
    closers.unshift(() => cache.close())
    let calls = 0
    expect(await cache.getOrSet('k', () => ++calls)).toBe(1)
    expect(await cache.getOrSet('k', () => ++calls)).toBe(1)
    expect(cache.metrics().errors).toBe(0)
  })
})
