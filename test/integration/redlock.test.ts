/**
 * cacheward/redlock: the stampede lock as a redlock quorum over three independent redis-servers,
 * with the cache itself on the shared test server. The contract suite runs through the wrapper, and
 * the quorum keeps working with one master down.
 */
import { Redis } from 'ioredis'
import Redlock from 'redlock'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { type RedlockLike, redlockAdapter } from '../../src/adapters/redlock.js'
import type { CacheAdapter } from '../../src/index.js'
import { createCacheClient } from '../../src/index.js'
import { defineContractSuite } from '../contract/cache-client.contract.js'
import { keygen } from '../support/keygen.js'
import { type RedisServer, startRedisServer } from '../support/redis-server.js'

const masters: RedisServer[] = []
const connections: Redis[] = []
const connect = (url: string) => {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 })
  redis.on('error', () => {})
  connections.push(redis)
  return redis
}

beforeAll(async () => {
  masters.push(...(await Promise.all([startRedisServer(), startRedisServer(), startRedisServer()])))
}, 30_000)
afterAll(async () => {
  for (const c of connections) c.disconnect()
  await Promise.all(masters.map((m) => m.stop()))
})

/** A cache adapter on the shared server whose lock is a quorum over the three masters, as one process would build it. */
function makeAdapter(): CacheAdapter {
  // retryCount 0: a lock held elsewhere means "wait for its value", not "spin on the masters".
  const redlock = new Redlock(
    masters.map((m) => connect(m.url)),
    { retryCount: 0 },
  ) as unknown as RedlockLike
  return redlockAdapter(ioredisAdapter(connect(inject('redisUrl'))), redlock)
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('redlock quorum lock', () => {
  const ns = keygen('rl')

  it('keeps an l1 tier coherent: the wrapped adapter announcements reach it, with no ttl of its own', async () => {
    const namespace = ns()
    const reader = createCacheClient({ adapter: makeAdapter(), namespace, l1: true })
    const writer = createCacheClient({ adapter: makeAdapter(), namespace })
    await reader.has('start')
    for (let i = 0; i < 400 && reader.metrics().l1?.live !== true; i++) await sleep(5)
    expect(reader.metrics().l1?.live).toBe(true)
    await reader.getOrSet('k', () => 'v1')
    await reader.getOrSet('k', () => 'v1')
    expect(await reader.getOrSet('k', () => 'v1')).toBe('v1')
    expect(reader.metrics().l1Hits).toBeGreaterThan(0)
    await writer.delete('k')
    let seen = 'v1'
    for (let i = 0; i < 200 && seen === 'v1'; i++) {
      seen = await reader.getOrSet('k', () => 'v2')
      if (seen === 'v1') await sleep(2)
    }
    expect(seen).toBe('v2')
    await Promise.all([reader.close(), writer.close()])
  })

  it('lets one of two processes load a cold key; the other gets its value', async () => {
    const namespace = ns()
    const a = createCacheClient({ adapter: makeAdapter(), namespace })
    const b = createCacheClient({ adapter: makeAdapter(), namespace })
    let calls = 0
    const loader = async () => {
      calls++
      await sleep(100)
      return 'once'
    }
    const all = await Promise.all([
      ...Array.from({ length: 20 }, () => a.getOrSet('cold', loader)),
      ...Array.from({ length: 20 }, () => b.getOrSet('cold', loader)),
    ])
    expect(calls).toBe(1)
    expect(new Set(all)).toEqual(new Set(['once']))
    await Promise.all([a.close(), b.close()])
  })

  it('serves a value another process wrote between its read and its lock, and neither loads nor overwrites it', async () => {
    // Process b reads the cold key, then is held just before its quorum lock until process a has loaded, written and
    // released it: the lock b then gets is free, but what b read before it is out of date.
    const namespace = ns()
    let entered!: () => void
    const atLock = new Promise<void>((resolve) => {
      entered = resolve
    })
    let open!: () => void
    const gate = new Promise<void>((resolve) => {
      open = resolve
    })
    const real = new Redlock(
      masters.map((m) => connect(m.url)),
      { retryCount: 0 },
    ) as unknown as RedlockLike
    const held = new Proxy(real, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver)
        if ((name !== 'acquire' && name !== 'lock') || typeof value !== 'function') return value
        return async (...args: unknown[]) => {
          entered()
          await gate
          return value.apply(target, args)
        }
      },
    })
    const a = createCacheClient({ adapter: makeAdapter(), namespace })
    const b = createCacheClient({
      adapter: redlockAdapter(ioredisAdapter(connect(inject('redisUrl'))), held),
      namespace,
    })
    const loads: string[] = []
    const late = b.getOrSet('k', async () => {
      loads.push('b')
      return 'from b'
    })
    await atLock
    expect(
      await a.getOrSet('k', async () => {
        loads.push('a')
        return 'from a'
      }),
    ).toBe('from a')
    open()
    expect(await late).toBe('from a')
    expect(loads).toEqual(['a'])
    expect(await a.get('k')).toBe('from a')
    await Promise.all([a.close(), b.close()])
  })

  it('keeps working with one of the three masters down, and releases the lock after the write', async () => {
    // Its own three masters: stopping one of the shared quorum would slow every later case.
    const own = await Promise.all([startRedisServer(), startRedisServer(), startRedisServer()])
    const [up1, up2, down] = own as [RedisServer, RedisServer, RedisServer]
    try {
      await down.stop()
      const quorum = () =>
        new Redlock(
          own.map((m) => connect(m.url)),
          { retryCount: 0 },
        ) as unknown as RedlockLike
      const namespace = ns()
      // A read that takes the lock waits for every master's answer, the down one's refusal included (ioredis
      // reconnects before failing the command): 5 s, not 1 s, so a busy CI machine does not turn it into a
      // timed-out read, which fails open and loads a second time.
      const a = createCacheClient({
        adapter: redlockAdapter(ioredisAdapter(connect(inject('redisUrl'))), quorum()),
        namespace,
        timeout: '5s',
      })
      const b = createCacheClient({
        adapter: redlockAdapter(ioredisAdapter(connect(inject('redisUrl'))), quorum()),
        namespace,
        timeout: '5s',
      })
      const errors: string[] = []
      for (const cache of [a, b])
        cache.on('error', ({ operation, error }) => errors.push(`${operation}: ${error.message}`))
      let calls = 0
      const loader = async () => {
        calls++
        await sleep(100)
        return 'quorum'
      }
      await Promise.all([a.getOrSet('k', loader), b.getOrSet('k', loader)])
      expect(errors).toEqual([])
      expect(calls).toBe(1)
      const probe = new Redlock([connect(up1.url), connect(up2.url)], { retryCount: 0 })
      const lock = await probe.lock(`cacheward:lock:${namespace}:k`, 1000)
      await lock.unlock()
      await Promise.all([a.close(), b.close()])
    } finally {
      await Promise.all(own.map((m) => m.stop()))
    }
  }, 30_000)
})

describe('redlock when the quorum cannot be reached or is not ours to release', () => {
  const ns = keygen('rlq')

  it('answers from the loader within timeout when two of three masters are down, and counts it as a backend failure', async () => {
    const own = await Promise.all([startRedisServer(), startRedisServer(), startRedisServer()])
    try {
      await own[1]!.stop()
      await own[2]!.stop()
      const redlock = new Redlock(
        own.map((m) => connect(m.url)),
        { retryCount: 0 },
      ) as unknown as RedlockLike
      const cache = createCacheClient({
        adapter: redlockAdapter(ioredisAdapter(connect(inject('redisUrl'))), redlock),
        namespace: ns(),
        circuitBreaker: { threshold: 3, duration: '10s' },
      })
      let opened = false
      cache.on('circuit-open', () => {
        opened = true
      })
      for (let i = 0; i < 3; i++) {
        const started = performance.now()
        expect(await cache.getOrSet(`k${i}`, () => `from-db:${i}`)).toBe(`from-db:${i}`)
        // Within the client's timeout (1 s), not after lockWait (5 s) of waiting for a holder that does not exist.
        expect(performance.now() - started).toBeLessThan(1_300)
      }
      expect(cache.metrics().errors).toBeGreaterThanOrEqual(3)
      expect(opened).toBe(true)
      await cache.close()
    } finally {
      await Promise.all(own.map((m) => m.stop()))
    }
  }, 30_000)

  it('a write without the lock’s token (a set() of the same key) leaves the quorum lock of a load under way alone', async () => {
    const key = `${ns()}:k`
    const loading = makeAdapter()
    const other = makeAdapter()
    const lock = (token: string) => ({ token, ttl: 5_000, keep: 60_000 })
    const entry = (extra: { token?: string } = {}) => ({
      fence: null,
      gen: `g${Math.random()}`,
      ttl: 1,
      staleWhileRevalidate: 0,
      staleIfError: 0,
      expireIn: 60_000,
      body: '{"w":1,"v":1}',
      ...extra,
    })
    expect((await loading.read(key, lock('holder'))).lock).toBe('acquired')
    await loading.write(key, entry())
    await sleep(5)
    expect((await other.read(key, lock('other'))).lock).toBe('held')
    await loading.write(key, entry({ token: 'holder' }))
    await sleep(5)
    expect((await other.read(key, lock('other'))).lock).toBe('acquired')
  })
})

defineContractSuite({
  name: 'redis-server with the redlock provider',
  makeAdapter,
  makePeer: makeAdapter,
})
