/**
 * `waitForReplicas` on a real master and replica (two redis-servers, `replicaof`): an invalidation or a `set()`
 * resolves only once the replica holds it, and rejects with a typed error when no replica acknowledges it in time
 * (the change itself stays on the master). Through ioredis and node-redis. The cluster case, a failover right after
 * a delete(), is in cluster-failover.test.ts.
 */
import { createClient } from '@redis/client'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { memoryAdapter } from '../../src/adapters/memory.js'
import { nodeRedisAdapter } from '../../src/adapters/node-redis.js'
import type { CacheAdapter, Duration } from '../../src/index.js'
import { createCacheClient } from '../../src/index.js'
import { keygen } from '../support/keygen.js'
import { type RedisServer, startRedisServer } from '../support/redis-server.js'

const ns = keygen('wait')
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const cleanup: Array<() => unknown> = []
let master: RedisServer
let replica: RedisServer
let onReplica: Redis

beforeAll(async () => {
  // No 5 s wait for more replicas before the first (diskless) sync.
  master = await startRedisServer({ extraArgs: ['--repl-diskless-sync-delay', '0'] })
  replica = await startRedisServer({ extraArgs: ['--replicaof', '127.0.0.1', String(master.port)] })
  onReplica = new Redis({ port: replica.port, lazyConnect: true })
  await onReplica.connect()
  // Linked once the master counts the replica as online (its first sync done).
  const linked = performance.now() + 10_000
  const onMaster = new Redis({ port: master.port })
  while (!/slave0:.*state=online/.test(await onMaster.info('replication')) && performance.now() < linked)
    await sleep(50)
  onMaster.disconnect()
}, 30_000)

afterAll(async () => {
  replica?.resume()
  for (const fn of cleanup.reverse()) await fn()
  onReplica?.disconnect()
  await replica?.stop()
  await master?.stop()
})

async function adapterOf(kind: 'ioredis' | 'node-redis', port: number): Promise<CacheAdapter> {
  if (kind === 'ioredis') {
    const redis = new Redis({ port })
    redis.on('error', () => {})
    cleanup.push(() => redis.disconnect())
    return ioredisAdapter(redis)
  }
  const client = createClient({ url: `redis://127.0.0.1:${port}` })
  client.on('error', () => {})
  await client.connect()
  cleanup.push(() => client.destroy())
  return nodeRedisAdapter(client)
}

async function cacheOn(kind: 'ioredis' | 'node-redis', timeout: Duration, port = master.port) {
  const namespace = ns()
  const cache = createCacheClient({
    adapter: await adapterOf(kind, port),
    namespace,
    waitForReplicas: { replicas: 1, timeout },
    circuitBreaker: false,
  })
  cleanup.push(() => cache.close())
  return { cache, stored: (key: string) => `${namespace}:${key}` }
}

/** Whether `promise` is still pending after the microtasks and I/O of one short turn. */
async function pending(promise: Promise<unknown>): Promise<boolean> {
  const settled = Symbol('settled')
  const first = await Promise.race([
    promise.then(
      () => settled,
      () => settled,
    ),
    sleep(20).then(() => 'pending'),
  ])
  return first === 'pending'
}

describe.each(['ioredis', 'node-redis'] as const)('waitForReplicas over %s', (kind) => {
  it('a delete() resolves only once the replica holds the tombstone', async () => {
    const { cache, stored: at } = await cacheOn(kind, '5s')
    await cache.set('k', 'old')
    const stored = at('k')
    replica.pause()
    let deleting: Promise<void>
    try {
      deleting = cache.delete('k')
      await sleep(300)
      // The replica cannot acknowledge anything while it is stopped: the delete has not resolved.
      expect(await pending(deleting)).toBe(true)
    } finally {
      replica.resume()
    }
    await deleting
    // Resolved: the replica already has the tombstone (an entry's slot carries a body after its header line).
    const copy = await onReplica.get(stored)
    expect(copy).not.toBeNull()
    expect(copy!.endsWith('\n')).toBe(true)
  })

  it('set(), setMany(), deleteMany(), invalidateTags(), invalidatePattern() and clear() wait too', async () => {
    const { cache, stored } = await cacheOn(kind, '100ms')
    const calls = {
      set: () => cache.set('a', 1, { tags: ['t'] }),
      setMany: () => cache.setMany([['b', 2]]),
      deleteMany: () => cache.deleteMany(['b', 'c']),
      invalidateTags: () => cache.invalidateTags(['t']),
      invalidatePattern: () => cache.invalidatePattern('a*'),
      clear: () => cache.clear(),
    }
    // With the replica stopped, none resolves as if it were durable.
    replica.pause()
    try {
      for (const [name, call] of Object.entries(calls)) {
        const outcome = await call().then(
          () => 'resolved',
          (error: { operation?: string }) => error.operation,
        )
        expect(outcome, name).toBe('waitForReplicas')
      }
    } finally {
      replica.resume()
    }
    // With it running, each resolves, and what it wrote is on the replica by then.
    for (const [name, call] of Object.entries(calls)) await expect(call(), name).resolves.not.toThrow()
    await calls.set()
    expect(await onReplica.get(stored('a'))).toContain('"v":1')
  })

  it('rejects with a typed error when no replica acknowledges within the timeout; the change is on the master', async () => {
    const { cache } = await cacheOn(kind, '100ms')
    await cache.set('k', 'old')
    replica.pause()
    let rejected: unknown
    let ms: number
    try {
      const started = performance.now()
      rejected = await cache.delete('k').catch((error: unknown) => error)
      ms = performance.now() - started
    } finally {
      replica.resume()
    }
    expect(rejected).toMatchObject({
      name: 'CacheBackendError',
      code: 'CACHEWARD_BACKEND',
      operation: 'waitForReplicas',
    })
    expect(String((rejected as Error).message)).toMatch(/0 of 1 replicas acknowledged within 100 ms/)
    expect(ms).toBeGreaterThanOrEqual(90)
    expect(ms).toBeLessThan(1_000)
    // The tombstone is in place on the master: the old value is gone.
    expect(await cache.get('k')).toBeUndefined()
    const { cache: set } = await cacheOn(kind, '100ms')
    replica.pause()
    try {
      await expect(set.set('x', 1)).rejects.toMatchObject({ operation: 'waitForReplicas' })
    } finally {
      replica.resume()
    }
  })

  it('a server without replicas rejects every invalidation, never resolving as if it were durable', async () => {
    const lone = await startRedisServer()
    cleanup.push(() => lone.stop())
    const { cache } = await cacheOn(kind, '50ms', lone.port)
    await expect(cache.delete('k')).rejects.toMatchObject({ operation: 'waitForReplicas' })
    await expect(cache.invalidateTags(['t'])).rejects.toMatchObject({ operation: 'waitForReplicas' })
  })
})

describe('waitForReplicas option', () => {
  it('is refused over an adapter without replicas, naming the option', () => {
    expect(() => createCacheClient({ waitForReplicas: { replicas: 1 } })).toThrow(/waitForReplicas.*memory adapter/s)
    expect(() =>
      createCacheClient({ adapter: memoryAdapter(), waitForReplicas: { replicas: 1, timeout: '1s' } }),
    ).toThrow(expect.objectContaining({ name: 'CacheOptionsError' }))
  })

  it('names what is wrong in a bad value', () => {
    const issues = (options: unknown) => {
      try {
        createCacheClient({ waitForReplicas: options } as never)
      } catch (error) {
        return (error as { issues: unknown }).issues
      }
      return undefined
    }
    expect(issues({})).toEqual([
      { path: 'waitForReplicas', message: 'expected { replicas: number, timeout?: Duration }, got an object' },
    ])
    expect(issues({ replicas: 0 })).toEqual([
      expect.objectContaining({ path: 'waitForReplicas.replicas', message: expect.stringMatching(/at least 1/) }),
    ])
    expect(issues({ replicas: 1, timeout: 0 })).toEqual([expect.objectContaining({ path: 'waitForReplicas.timeout' })])
    expect(issues({ replicas: 1, wait: 5 })).toEqual([{ path: 'waitForReplicas.wait', message: 'unknown option' }])
  })
})
