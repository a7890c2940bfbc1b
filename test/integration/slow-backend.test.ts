/**
 * A backend that answers, but slowly (each call held `LATENCY` ms before it reaches redis-server, by the chaos
 * wrapper), while a stale value is present. The cache's `timeout` is the soft deadline for the backend: a caller
 * never waits the backend out. With the stale value in the in-process tier (`l1`), it is served at once and the
 * refresh runs in the background; with the stale value only in the slow backend, the loader answers at `timeout`.
 * Either way the slow operations finish later, and leave no lock behind.
 */
import { Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import type { CacheClient, CacheClientOptions } from '../../src/index.js'
import { createCacheClient } from '../../src/index.js'
import { chaosAdapter } from '../../src/testing/index.js'
import { keygen } from '../support/keygen.js'

const cleanup: Array<() => unknown> = []
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
})
const ns = keygen('slow')
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const TIMEOUT = 150
const LATENCY = 600
const TTL = 200

function connect(): Redis {
  const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 })
  redis.on('error', () => {})
  cleanup.push(() => redis.disconnect())
  return redis
}

function make(options: CacheClientOptions): { cache: CacheClient; tasks: Promise<unknown>[] } {
  const tasks: Promise<unknown>[] = []
  const cache = createCacheClient({
    timeout: TIMEOUT,
    ttl: TTL,
    staleWhileRevalidate: '1m',
    circuitBreaker: false,
    waitUntil: (task) => tasks.push(task),
    ...options,
  })
  cleanup.push(() => cache.close())
  return { cache, tasks }
}

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now()
  const value = await work
  return { value, ms: performance.now() - started }
}

describe('a slow (answering) backend with a stale value present', () => {
  it('serves the stale value from l1 at once, and the background refresh lands once the backend answers [F9]', async () => {
    const namespace = ns()
    const chaos = chaosAdapter(ioredisAdapter(connect()))
    const { cache, tasks } = make({ adapter: chaos, namespace, l1: true })
    const other = make({ adapter: ioredisAdapter(connect()), namespace }).cache
    await cache.has('__start__') // opens the tier's subscription
    for (let i = 0; i < 400 && cache.metrics().l1?.live !== true; i++) await sleep(5)
    await cache.getOrSet('k', () => 'v1')
    await cache.getOrSet('k', () => 'v1') // a backend hit fills the tier
    await sleep(TTL + 50)

    chaos.setFaults({ latency: LATENCY })
    let loads = 0
    const { value, ms } = await timed(cache.getOrSet('k', () => `v${++loads + 1}`))
    expect(value).toBe('v1')
    expect(ms).toBeLessThan(50) // not the backend's 600 ms, nor even the 150 ms timeout
    expect(cache.metrics()).toMatchObject({ staleHits: 1, l1: { live: true } })
    // The refresh's read waits on the slow backend past `timeout`: it gives up (counted), its loader answers the
    // refresh, and nothing is written without a fenced read. The late read then lands and frees the lock it took.
    expect(tasks.length).toBeGreaterThan(0)
    await Promise.all(tasks)
    expect(cache.metrics().errors).toBeGreaterThanOrEqual(1)
    chaos.setFaults({})
    await sleep(LATENCY)
    const { value: next, ms: nextMs } = await timed(other.getOrSet('k', () => 'v-other'))
    expect(['v1', 'v-other']).toContain(next) // stale (refreshed in its background) or loaded at once
    expect(nextMs).toBeLessThan(100) // no lock left for it to wait on
  })

  it('answers from the loader at the timeout when the stale value is only in the slow backend, and leaves no lock [F9]', async () => {
    const namespace = ns()
    const chaos = chaosAdapter(ioredisAdapter(connect()))
    const { cache } = make({ adapter: chaos, namespace })
    const other = make({ adapter: ioredisAdapter(connect()), namespace }).cache
    await cache.getOrSet('k', () => 'v1')
    await sleep(TTL + 50)
    expect(await other.get('k', { allowStale: true })).toBe('v1') // stale, present

    chaos.setFaults({ latency: LATENCY })
    const errors: string[] = []
    cache.on('error', (e) => errors.push(`${e.operation}: ${e.error.message}`))
    const { value, ms } = await timed(cache.getOrSet('k', () => 'from-db'))
    expect(value).toBe('from-db')
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT - 5)
    expect(ms).toBeLessThan(TIMEOUT + 250) // the soft deadline, not the backend's 600 ms
    expect(errors).toEqual([expect.stringMatching(/^read: .*did not answer within 150 ms/)])

    // The slow read still reaches the server later and takes the lock; the release sent behind it frees it.
    chaos.setFaults({})
    await sleep(LATENCY + 100)
    let loads = 0
    const { value: after, ms: afterMs } = await timed(other.getOrSet('k', () => `loaded ${++loads}`))
    expect(after).toBe('v1') // the stale value, served while its refresh runs: the timed-out load wrote nothing
    expect(afterMs).toBeLessThan(100)
    expect(await other.get('k', { allowStale: true })).not.toBe('from-db')
  })
})
