/**
 * Hot key expiry storm (L1) on redis-server: 1,000 callers in a closed loop on one key whose entry lives 100 ms,
 * spread over 4 clients with their own connections (to the backend, 4 processes), for 10 s (about 90 expiries; the
 * two cases take about 25 s of the suite on a shared 2-core machine). Checked: loader
 * calls stay near one per expiry (at most 1.5 times the expiries, where without the cross-process lock it would be
 * about 4 times, and without single-flight hundreds), and the callers' p99 stays bounded: the wait for one load
 * without stale serving, less with stale-while-revalidate.
 */
import { Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { type CacheClient, createCacheClient } from '../../src/client.js'
import { sleep } from '../../src/core.js'
import type { GetOrSetOptions } from '../../src/options.js'
import { keygen } from '../support/keygen.js'

const PROCESSES = 4
const CALLERS = 1_000
const TTL_MS = 100
const RUN_MS = 10_000
const LOAD_MS = 10

const ns = keygen('storm')
const cleanup: Array<() => unknown> = []
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
})

function clients(namespace: string): CacheClient[] {
  return Array.from({ length: PROCESSES }, () => {
    const redis = new Redis(inject('redisUrl'))
    const cache = createCacheClient({ adapter: ioredisAdapter(redis), namespace })
    cleanup.push(
      () => redis.disconnect(),
      () => cache.close(),
    )
    return cache
  })
}

interface Storm {
  calls: number
  loads: number
  expiries: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  wrong: number
}

/** Every caller calls again as soon as it is answered, until `RUN_MS` has passed. */
async function storm(options: GetOrSetOptions): Promise<Storm> {
  const caches = clients(ns())
  let loads = 0
  const loader = async () => {
    loads++
    await sleep(LOAD_MS)
    return { version: loads }
  }
  // Warm, so the run starts with an entry (as a hot key in production does) and each client knows the clock.
  for (const cache of caches) await cache.getOrSet('hot', loader, options)
  loads = 0
  const latencies: number[] = []
  let wrong = 0
  const started = performance.now()
  const end = started + RUN_MS
  const caller = async (cache: CacheClient) => {
    while (performance.now() < end) {
      const t0 = performance.now()
      const value = (await cache.getOrSet('hot', loader, options)) as { version?: unknown }
      latencies.push(performance.now() - t0)
      if (typeof value.version !== 'number') wrong++
    }
  }
  await Promise.all(Array.from({ length: CALLERS }, (_, i) => caller(caches[i % PROCESSES] as CacheClient)))
  const elapsed = performance.now() - started
  latencies.sort((a, b) => a - b)
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)] as number
  return {
    calls: latencies.length,
    loads,
    expiries: Math.round(elapsed / TTL_MS),
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: latencies[latencies.length - 1] as number,
    wrong,
  }
}

describe('1,000 callers over 4 clients on a key expiring every 100 ms, for 10 s', () => {
  it('loads about once per expiry and keeps p99 to the wait for one load [L1]', async () => {
    const result = await storm({ ttl: TTL_MS })
    console.info('[L1] no stale serving:', JSON.stringify(result))
    expect(result.wrong).toBe(0)
    expect(result.loads).toBeLessThanOrEqual(result.expiries * 1.5)
    // The storm happened: the key did expire and reload throughout the run.
    expect(result.loads).toBeGreaterThanOrEqual(result.expiries * 0.3)
    // A caller at an expiry waits for one load (10 ms) plus the lock's hand-over (measured p99 about 25 ms); the
    // bound leaves room for this shared machine's noise.
    expect(result.p99Ms).toBeLessThan(250)
  }, 45_000)

  it('with stale-while-revalidate, still one load per expiry, and callers answered at once [L1]', async () => {
    const result = await storm({ ttl: TTL_MS, staleWhileRevalidate: '10s' })
    console.info('[L1] stale-while-revalidate:', JSON.stringify(result))
    expect(result.wrong).toBe(0)
    expect(result.loads).toBeLessThanOrEqual(result.expiries * 1.5)
    expect(result.loads).toBeGreaterThanOrEqual(result.expiries * 0.3)
    expect(result.p99Ms).toBeLessThan(250)
  }, 45_000)
})
