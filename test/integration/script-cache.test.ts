/**
 * A cold script cache (a restarted or failed-over server, `SCRIPT FLUSH`): every adapter sends EVALSHA first, gets
 * NOSCRIPT and must fall back to EVAL by itself. On a private redis-server, so flushing its scripts disturbs no
 * other suite.
 */
import { createClient } from '@redis/client'
import { Redis as Upstash } from '@upstash/redis'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { nodeRedisAdapter } from '../../src/adapters/node-redis.js'
import { upstashAdapter } from '../../src/adapters/upstash.js'
import type { CacheAdapter } from '../../src/index.js'
import { createCacheClient } from '../../src/index.js'
import { type RedisServer, startRedisServer } from '../support/redis-server.js'
import { startUpstashRest, type UpstashRestServer } from '../support/upstash-rest.js'

const cleanup: Array<() => unknown> = []
let server: RedisServer
let endpoint: UpstashRestServer
let admin: Redis

beforeAll(async () => {
  server = await startRedisServer()
  cleanup.push(() => server.stop())
  endpoint = await startUpstashRest({ redisUrl: server.url })
  cleanup.push(() => endpoint.stop())
  admin = new Redis(server.url)
  cleanup.push(() => admin.quit())
})
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
})

/** Calls of EVAL and EVALSHA the server ran, and how many EVALSHA it refused, from INFO commandstats. */
async function scriptStats(): Promise<{ eval: number; evalsha: number; evalshaFailed: number }> {
  const info = await admin.info('commandstats')
  const stat = (name: string, field: string) =>
    Number(new RegExp(`cmdstat_${name}:.*?${field}=(\\d+)`).exec(info)?.[1] ?? 0)
  return {
    eval: stat('eval', 'calls'),
    evalsha: stat('evalsha', 'calls'),
    evalshaFailed: stat('evalsha', 'failed_calls'),
  }
}

const adapters: Array<[string, () => Promise<CacheAdapter>]> = [
  [
    'ioredis',
    async () => {
      const redis = new Redis(server.url)
      cleanup.push(() => redis.quit())
      return ioredisAdapter(redis)
    },
  ],
  [
    'node-redis',
    async () => {
      const client = createClient({ url: server.url })
      client.on('error', () => {})
      await client.connect()
      cleanup.push(() => client.close())
      return nodeRedisAdapter(client)
    },
  ],
  [
    'upstash',
    async () => upstashAdapter(new Upstash({ url: endpoint.url, token: endpoint.token, enableTelemetry: false })),
  ],
]

describe.each(adapters)('%s over a server whose script cache was flushed', (name, make) => {
  it('getOrSet, set, get, delete and invalidateTags still work through the EVAL fallback, with no backend error [U5]', async () => {
    const cache = createCacheClient({ adapter: await make(), namespace: `cold-${name}`, timeout: 2_000 })
    cleanup.push(() => cache.close())
    const errors: string[] = []
    cache.on('error', (e) => errors.push(`${e.operation}: ${e.error.message}`))
    const before = await scriptStats()
    const cold = () => admin.script('FLUSH')

    await cold()
    let loads = 0
    expect(await cache.getOrSet('k', () => `v${++loads}`)).toBe('v1')
    await cold()
    expect(await cache.getOrSet('k', () => `v${++loads}`)).toBe('v1') // a hit: the write above landed
    await cold()
    await cache.set('k', 'set')
    await cold()
    expect(await cache.get('k')).toBe('set')
    await cold()
    await cache.delete('k')
    await cold()
    expect(await cache.getOrSet('k', () => `v${++loads}`)).toBe('v2')
    await cold()
    expect(await cache.getOrSet('t', () => 'tagged', { tags: ['tag'] })).toBe('tagged')
    await cold()
    await cache.invalidateTags(['tag'])
    await cold()
    expect(await cache.getOrSet('t', () => 'reloaded', { tags: ['tag'] })).toBe('reloaded')

    expect(errors).toEqual([])
    expect(cache.metrics()).toMatchObject({ errors: 0 })
    // The cold cache was really met: EVALSHA refused with NOSCRIPT, then EVAL ran the script.
    const after = await scriptStats()
    expect(after.evalshaFailed - before.evalshaFailed).toBeGreaterThan(0)
    expect(after.eval - before.eval).toBeGreaterThanOrEqual(after.evalshaFailed - before.evalshaFailed)
  })
})
