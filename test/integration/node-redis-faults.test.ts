/**
 * Real-process faults through node-redis 5 and 6 clients built with their default settings (plus the `error`
 * listener node-redis needs: without one, a lost connection is an uncaught exception). node-redis' defaults
 * bound little: on a hung server a written command waits forever; on a refused port a command waits in the
 * offline queue forever (5) or 5 s (6), and one issued while disconnected is sent after the reconnect (measured
 * in docs/09). The cache's `timeout` bounds the caller, and the write script's deadline makes the late replay
 * harmless. Each fault gets a redis-server of its own (SIGSTOP, CLIENT KILL and OOM would disturb the other files).
 */
import { createClient as createClient5 } from '@redis/client'
import { Redis } from 'ioredis'
import { createClient as createClient6 } from 'redis6'
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest'
import { type NodeRedisLikeClient, nodeRedisAdapter } from '../../src/adapters/node-redis.js'
import type { CacheClientOptions } from '../../src/index.js'
import { createCacheClient } from '../../src/index.js'
import { keygen } from '../support/keygen.js'
import { getFreePort, type RedisServer, startRedisServer } from '../support/redis-server.js'
import { startTcpProxy } from '../support/tcp-proxy.js'

const TIMEOUT = 200
const ns = keygen('nrfault')
const cleanup: Array<() => unknown> = []
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
})

// A rejection nobody handles is a bug in the cache (or this file): every test checks there was none.
const unhandled: unknown[] = []
const onUnhandled = (reason: unknown) => unhandled.push(reason)
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled)
  return () => {
    process.off('unhandledRejection', onUnhandled)
  }
})
beforeEach(() => {
  unhandled.length = 0
})
async function expectNoUnhandledRejection() {
  await sleep(50)
  expect(unhandled).toEqual([])
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now()
  const value = await work
  return { value, ms: performance.now() - started }
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(5)
  }
}

async function ownServer(extraArgs: string[] = []): Promise<RedisServer> {
  const server = await startRedisServer({ extraArgs })
  cleanup.push(() => server.stop())
  return server
}

/** What these tests use of a node-redis 5 or 6 client. */
interface NodeRedisClient extends NodeRedisLikeClient {
  readonly isOpen: boolean
  readonly isReady: boolean
  on(event: 'error', listener: (error: unknown) => void): unknown
  connect(): Promise<unknown>
  destroy(): void
  set(key: string, value: string): Promise<unknown>
}
type CreateClient = (options: { url: string; disableOfflineQueue?: boolean }) => NodeRedisClient

const majors: Array<[string, CreateClient]> = [
  ['5', (options) => createClient5(options)],
  ['6', (options) => createClient6(options)],
]

function cacheOver(client: NodeRedisClient, options: CacheClientOptions = {}) {
  const cache = createCacheClient({ adapter: nodeRedisAdapter(client), namespace: ns(), timeout: TIMEOUT, ...options })
  cleanup.push(() => cache.close())
  const errors: string[] = []
  const transitions: string[] = []
  cache.on('error', (e) => errors.push(`${e.operation}: ${e.error.message}`))
  cache.on('circuit-open', () => transitions.push('open'))
  cache.on('circuit-close', () => transitions.push('close'))
  return { cache, errors, transitions }
}

describe.each(majors)('node-redis %s', (_, createClient) => {
  /**
   * A node-redis client with its default settings, as an app builds it. connect() is started, not awaited: on a
   * refused port it never resolves (node-redis reconnects forever), and commands wait in the offline queue.
   */
  function connect(url: string, options: { disableOfflineQueue?: boolean } = {}): NodeRedisClient {
    const client = createClient({ url, ...options })
    client.on('error', () => {})
    client.connect().catch(() => {})
    cleanup.push(() => (client.isOpen ? client.destroy() : undefined))
    return client
  }

  async function connected(url: string): Promise<NodeRedisClient> {
    const client = connect(url)
    await waitFor(() => client.isReady, 'node-redis to connect')
    return client
  }

  describe('a refused port (nothing listens; node-redis reconnects forever and queues every command)', () => {
    it('answers from the loader within the timeout, reports the backend down, and writes reject with a typed error', async () => {
      const client = connect(`redis://127.0.0.1:${await getFreePort()}`)
      const { cache, errors } = cacheOver(client)
      const { value, ms } = await timed(cache.getOrSet('k', () => 'from-db'))
      expect(value).toBe('from-db')
      expect(ms).toBeLessThan(TIMEOUT + 300)
      expect(errors[0]).toMatch(/read did not answer within 200 ms/)
      expect(await cache.health()).toMatchObject({ ok: false, adapter: 'node-redis' })
      await expect(cache.set('k', 'v')).rejects.toMatchObject({
        code: expect.stringMatching(/CACHEWARD_(BACKEND|TIMEOUT)/),
      })
      await expectNoUnhandledRejection()
    })

    it('with disableOfflineQueue, fails at once instead of at the timeout', async () => {
      const client = connect(`redis://127.0.0.1:${await getFreePort()}`, { disableOfflineQueue: true })
      const { cache, errors } = cacheOver(client)
      const { value, ms } = await timed(cache.getOrSet('k', () => 'from-db'))
      expect(value).toBe('from-db')
      expect(ms).toBeLessThan(50)
      expect(errors[0]).toMatch(/offline/)
    })
  })

  describe('a hung redis-server (SIGSTOP: node-redis waits forever for a written command)', () => {
    it('answers from the loader within the timeout, and leaves no ghost lock once the server resumes', async () => {
      const server = await ownServer()
      const { cache } = cacheOver(await connected(server.url))
      const namespace = ns()
      const writer = cacheOver(await connected(server.url), { namespace }).cache
      const other = cacheOver(await connected(server.url), { namespace }).cache
      await writer.set('warm', 1)
      server.pause()
      try {
        const { value, ms } = await timed(writer.getOrSet('k', () => 'from-db'))
        expect(value).toBe('from-db')
        expect(ms).toBeLessThan(TIMEOUT + 300)
        const health = await timed(cache.health())
        expect(health.value).toMatchObject({ ok: false })
        expect(health.ms).toBeLessThan(TIMEOUT + 300)
      } finally {
        server.resume()
      }
      // The read that timed out still runs once the server resumes and takes the lock; the release sent
      // behind it frees it, so another process loads at once instead of waiting for the lock to expire.
      await sleep(100)
      let calls = 0
      const { value, ms } = await timed(other.getOrSet('k', () => ++calls))
      expect(value).toBe(1)
      expect(ms).toBeLessThan(500)
      expect(await writer.get('warm')).toBe(1)
      await expectNoUnhandledRejection()
    })

    it('rejects invalidatePattern() and clear() within the timeout with a typed error (each SCAN page is bounded)', async () => {
      const server = await ownServer()
      const { cache } = cacheOver(await connected(server.url), { circuitBreaker: false })
      await cache.set('a', 1)
      server.pause()
      try {
        for (const run of [() => cache.invalidatePattern('a*'), () => cache.clear()]) {
          const { value, ms } = await timed(run().catch((e: unknown) => e))
          expect(value).toMatchObject({ code: 'CACHEWARD_TIMEOUT', name: 'CacheTimeoutError' })
          expect(ms).toBeLessThan(TIMEOUT + 150)
        }
      } finally {
        server.resume()
      }
      expect(await cache.clear()).toBe(1)
    })
  })

  describe('a namespace too large to scan within one timeout', () => {
    it('is still cleared in full: each page and batch is bounded, not the whole walk', async () => {
      const admin = new Redis(inject('redisUrl'))
      cleanup.push(() => admin.quit())
      const namespace = ns()
      const keys = 30_000
      for (let i = 0; i < keys; i += 1_000) {
        const batch = admin.pipeline()
        for (let j = i; j < i + 1_000; j++)
          batch.set(`${namespace}:k${j}`, `cw1|g||0|1|1|1|1\n{"w":1,"v":${j}}`, 'PX', 60_000)
        await batch.exec()
      }
      const { cache } = cacheOver(await connected(inject('redisUrl')), { namespace, timeout: 100 })
      const { value, ms } = await timed(cache.clear())
      expect(value).toBe(keys)
      // Not a bound to meet, a proof that the walk outlasted one timeout and still finished.
      expect(ms).toBeGreaterThan(100)
    })
  })

  describe('connections reset mid-flight (CLIENT KILL TYPE normal)', () => {
    it('answers all 50 concurrent callers with the right value, leaves no lock behind, and caches again within 2 s', async () => {
      const server = await ownServer()
      const admin = new Redis(server.url)
      cleanup.push(() => admin.quit())
      const namespace = ns()
      // node-redis fails every command in flight on a reset (ioredis resends them): with 10 of them the circuit
      // breaker (5 consecutive failures) would open for its 5 s although the client is back within a millisecond.
      // Off here, so the test sees what the client does; the breaker's reaction is the core's to decide.
      const { cache } = cacheOver(await connected(server.url), {
        namespace,
        timeout: 1_000,
        lockWait: 1_000,
        circuitBreaker: false,
      })
      const { cache: peer } = cacheOver(await connected(server.url), { namespace, timeout: 1_000 })
      let loads = 0
      const loaderFor = (key: string) => async () => {
        loads++
        await sleep(20)
        return `value:${key}`
      }
      const all: string[] = []
      for (const moment of ['reads', 'loads'] as const) {
        const keys = Array.from({ length: 10 }, (_, i) => `${moment}:${i}`)
        all.push(...keys)
        // Half the keys are cached already: hits and misses are both in flight.
        await Promise.all(keys.slice(0, 5).map((k) => cache.getOrSet(k, loaderFor(k))))
        const before = loads
        const calls = Array.from({ length: 50 }, (_, i) => keys[i % keys.length]!).map((k) =>
          cache.getOrSet(k, loaderFor(k)).then((value) => [k, value]),
        )
        if (moment === 'loads') await waitFor(() => loads > before, 'a load to start')
        expect(Number(await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes'))).toBeGreaterThan(0)
        const results = await Promise.all(calls)
        for (const [key, value] of results) expect(value).toBe(`value:${key}`)
      }
      const killed = performance.now()
      // Unlike ioredis, node-redis does not resend what was in flight: a write the reset cut off failed (its
      // caller still got the value), and the release sent after it freed the lock once reconnected. So another
      // process gets every value at once, from Redis or from its loader, and never waits on a lock left behind.
      const { value: values, ms } = await timed(Promise.all(all.map((k) => peer.getOrSet(k, async () => `value:${k}`))))
      expect(values).toEqual(all.map((k) => `value:${k}`))
      expect(ms).toBeLessThan(500)
      expect(await cache.getOrSet('after', () => 'x')).toBe('x')
      expect(await cache.getOrSet('after', () => 'y')).toBe('x')
      expect(performance.now() - killed).toBeLessThan(2_000)
      await expectNoUnhandledRejection()
    })
  })

  describe('redis-server killed during a load and restarted on its port', () => {
    // With the circuit breaker on: a read that timed out as it opened is run by the server after the reconnect,
    // and takes the lock; the release sent after it (even while the breaker is open) frees it again.
    it('never fails a getOrSet while down, and serves hits again once node-redis has reconnected', async () => {
      const server = await ownServer()
      const client = await connected(server.url)
      const { cache } = cacheOver(client, { circuitBreaker: { threshold: 1, duration: 200 } })
      expect(await cache.getOrSet('warm', () => 'w')).toBe('w')
      let loads = 0
      const killedDuringLoad = await cache.getOrSet('k', async () => {
        loads++
        await server.stop()
        return 'loaded'
      })
      expect(killedDuringLoad).toBe('loaded')
      for (let i = 0; i < 5; i++) {
        const { value, ms } = await timed(cache.getOrSet(`down:${i}`, () => `db:${i}`))
        expect(value).toBe(`db:${i}`)
        expect(ms).toBeLessThan(TIMEOUT + 300)
      }
      expect((await cache.health()).ok).toBe(false)

      const restarted = await startRedisServer({ port: server.port })
      cleanup.push(() => restarted.stop())
      const upAt = performance.now()
      // node-redis retries after 50·2^n ms (n = attempts so far), at most 2 s, plus up to 200 ms of jitter.
      const hits = cache.metrics().hits
      while (cache.metrics().hits === hits) {
        expect(performance.now() - upAt).toBeLessThan(3_000)
        expect(await cache.getOrSet('after', () => ++loads)).toBeGreaterThan(0)
        await sleep(20)
      }
      expect(await cache.health()).toMatchObject({ ok: true })
      await expectNoUnhandledRejection()
    })
  })

  describe('a set() that rejected never lands afterwards (the ghost write)', () => {
    it('a set() in node-redis’ offline queue while the server is down is refused when node-redis sends it after the restart', async () => {
      const server = await startRedisServer()
      let current = server
      cleanup.push(() => current.stop())
      const client = await connected(server.url)
      const namespace = ns()
      const { cache } = cacheOver(client, { namespace, circuitBreaker: false })
      expect(await cache.get('warm')).toBeUndefined()
      await server.stop()
      await waitFor(() => !client.isReady, 'node-redis to notice the server is gone')
      const rejected = await cache.set('k', 'old').catch((e: unknown) => e)
      expect(rejected).toMatchObject({ code: 'CACHEWARD_TIMEOUT' })
      // A plain SET queued beside it proves node-redis does send what it queued while offline.
      const probe = client.set('probe', '1').catch(() => {})
      current = await startRedisServer({ port: server.port })
      await waitFor(() => client.isReady, 'node-redis to reconnect', 5_000)
      await probe
      const admin = new Redis(current.url)
      cleanup.push(() => admin.quit())
      expect(await admin.get('probe')).toBe('1')
      expect(await admin.exists(`${namespace}:k`)).toBe(0)
    })

    it('a set() stuck on a stalled link rejects at its timeout and does not land after another client’s delete()', async () => {
      const proxy = await startTcpProxy(Number(new URL(inject('redisUrl')).port))
      cleanup.push(() => proxy.stop())
      const namespace = ns()
      const { cache: stalled } = cacheOver(await connected(proxy.url), { namespace, circuitBreaker: false })
      const { cache: other } = cacheOver(await connected(inject('redisUrl')), { namespace })
      expect(await stalled.get('warm')).toBeUndefined()
      proxy.mode = 'hold'
      const rejected = await stalled.set('k', 'old').catch((e: unknown) => e)
      expect(rejected).toMatchObject({ code: 'CACHEWARD_TIMEOUT', name: 'CacheTimeoutError' })
      await other.delete('k')
      proxy.mode = 'forward'
      await sleep(100)
      expect(await other.get('k')).toBeUndefined()
      await stalled.set('k', 'new')
      expect(await other.get('k')).toBe('new')
    })
  })

  describe('out of memory (maxmemory 1, noeviction)', () => {
    it('keeps answering getOrSet, rejects writes, and invalidations leave nothing readable (DEL instead of a tombstone)', async () => {
      const server = await ownServer()
      const admin = new Redis(server.url)
      cleanup.push(() => admin.quit())
      const namespace = ns()
      const { cache } = cacheOver(await connected(server.url), { namespace, circuitBreaker: false, timeout: 1_000 })
      expect(await cache.getOrSet('a', () => 'old-a')).toBe('old-a')
      expect(await cache.getOrSet('b', () => 'old-b')).toBe('old-b')
      expect(await cache.getOrSet('t', () => 'old-t', { tags: ['rooms'] })).toBe('old-t')
      await admin.config('SET', 'maxmemory', '1')
      try {
        expect(await cache.getOrSet('a', () => 'reloaded')).toBe('old-a')
        expect(await cache.getOrSet('new', () => 'loaded')).toBe('loaded')
        const write = await cache.set('w', 'v').catch((e: unknown) => e)
        expect(write).toMatchObject({ code: 'CACHEWARD_BACKEND' })
        expect(String(write)).toMatch(/OOM/)
        await expect(cache.delete('a')).rejects.toMatchObject({ code: 'CACHEWARD_BACKEND' })
        expect(await admin.exists(`${namespace}:a`)).toBe(0)
        await expect(cache.invalidatePattern('b*')).rejects.toMatchObject({ code: 'CACHEWARD_BACKEND' })
        expect(await admin.exists(`${namespace}:b`)).toBe(0)
        await expect(cache.invalidateTags(['rooms'])).rejects.toMatchObject({ code: 'CACHEWARD_BACKEND' })
        expect(await cache.getOrSet('t', () => 'new-t', { tags: ['rooms'] })).toBe('new-t')
      } finally {
        await admin.config('SET', 'maxmemory', '0')
      }
      expect(await cache.get('a')).toBeUndefined()
      expect(await cache.get('b')).toBeUndefined()
      expect(await cache.getOrSet('t', () => 'reloaded', { tags: ['rooms'] })).toBe('reloaded')
      await expectNoUnhandledRejection()
    })
  })

  describe('a wrong password', () => {
    it('never reaches an error, event or health report; reads answer from the loader, writes reject', async () => {
      const server = await ownServer(['--requirepass', 'right-horse-battery'])
      const client = connect(`redis://:wrong-staple-battery@127.0.0.1:${server.port}`)
      const clientErrors: unknown[] = []
      client.on('error', (e: unknown) => clientErrors.push(e))
      const { cache, errors } = cacheOver(client)
      expect(await cache.getOrSet('k', () => 'from-db')).toBe('from-db')
      const write = await cache.set('k', 'v').catch((e: Error) => e)
      expect(write).toMatchObject({ code: expect.stringMatching(/CACHEWARD_(BACKEND|TIMEOUT)/) })
      const health = await cache.health()
      expect(health.ok).toBe(false)
      expect(errors.length).toBeGreaterThan(0)
      // node-redis itself reported the failed AUTH: the test did reach the password check.
      await waitFor(() => clientErrors.length > 0, 'node-redis to report the failed AUTH')
      expect(String(clientErrors[0])).toMatch(/WRONGPASS/)
      const everything = [...errors, String(write), JSON.stringify(write), JSON.stringify(health)].join('\n')
      expect(everything).not.toContain('wrong-staple-battery')
      expect(everything).not.toContain('right-horse-battery')
      await expectNoUnhandledRejection()
    })
  })
})
