/**
 * Keys beyond ASCII and the tier, on redis-server (ioredis writes, node-redis reads with `l1`). A key holding a lone
 * UTF-16 surrogate (a search string cut with `.slice()` inside an emoji) was accepted: Redis stored it UTF-8
 * encoded, the surrogate as U+FFFD, and the announcement named that key, while the reader's tier held the entry
 * under the JS string; a delete() that resolved in one process never reached the other's tier. Such keys are now
 * refused; a whole emoji works across processes.
 */
import { createClient } from '@redis/client'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { nodeRedisAdapter } from '../../src/adapters/node-redis.js'
import type { CacheClient } from '../../src/index.js'
import { createCacheClient, isCacheKeyError } from '../../src/index.js'
import { keygen } from '../support/keygen.js'

const cleanup: Array<() => unknown> = []
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
})
const ns = keygen('l1uni')
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

async function live(cache: CacheClient) {
  await cache.has('__start__')
  for (let i = 0; i < 500 && cache.metrics().l1?.live !== true; i++) await sleep(5)
  expect(cache.metrics().l1?.live).toBe(true)
}

describe('l1: keys beyond ASCII', () => {
  it('refuses a key cut inside an emoji; another process’s delete() of a whole-emoji key reaches the tier', async () => {
    const namespace = ns()
    const client = createClient({ url: inject('redisUrl') })
    client.on('error', () => {})
    await client.connect()
    cleanup.push(() => client.destroy())
    const reader = createCacheClient({ adapter: nodeRedisAdapter(client), namespace, l1: true })
    cleanup.push(() => reader.close())
    const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 })
    cleanup.push(() => redis.disconnect())
    const writer = createCacheClient({ adapter: ioredisAdapter(redis), namespace })
    cleanup.push(() => writer.close())
    await live(reader)

    // "search:I ❤ 😀…" cut to a length limit in the middle of the emoji: refused by both, before any command.
    const cut = `search:${'I ❤ 😀 cats'.slice(0, 5)}`
    expect(cut.charCodeAt(cut.length - 1)).toBe(0xd83d)
    for (const cache of [reader, writer]) {
      expect(isCacheKeyError(await cache.getOrSet(cut, () => 'old results').catch((e: unknown) => e))).toBe(true)
    }
    // The whole emoji: a tier hit, until another process deletes the key.
    const key = 'search:I ❤ 😀 cats'
    await reader.getOrSet(key, () => 'old results')
    await reader.getOrSet(key, () => 'old results')
    const hits = reader.metrics().l1Hits
    expect(await reader.getOrSet(key, () => 'x')).toBe('old results')
    expect(reader.metrics().l1Hits).toBe(hits + 1)
    await writer.delete(key)
    await sleep(100) // many announcement hops
    expect(await reader.getOrSet(key, () => 'new results')).toBe('new results')
  })
})
