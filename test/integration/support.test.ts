import { Redis as Upstash } from '@upstash/redis'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { keygen } from '../support/keygen.js'
import { startUpstashRest, type UpstashRestMode } from '../support/upstash-rest.js'

const key = keygen()
const url = inject('upstashUrl')
const token = inject('upstashToken')
const closers: Array<() => unknown> = []
afterAll(async () => {
  await Promise.all(closers.map((close) => close()))
})

describe('redis-server', () => {
  it('answers PING', async () => {
    const redis = new Redis(inject('redisUrl'))
    closers.push(() => redis.quit())
    expect(await redis.ping()).toBe('PONG')
  })
})

describe('redis cluster', () => {
  it('has 3 masters, a full slot map and serves keys from every master', async () => {
    const cluster = new Redis.Cluster(inject('clusterNodes'))
    closers.push(() => cluster.quit())
    expect(await cluster.cluster('INFO')).toMatch(/cluster_state:ok[\s\S]*cluster_slots_ok:16384/)
    const masters = cluster.nodes('master')
    expect(masters).toHaveLength(3)
    // 60 random keys leave a master empty with probability ~1e-10.
    const prefix = key()
    const keys = Array.from({ length: 60 }, (_, i) => `${prefix}:${i}`)
    await Promise.all(keys.map((k) => cluster.set(k, k)))
    expect(await Promise.all(keys.map((k) => cluster.get(k)))).toEqual(keys)
    const perNode = await Promise.all(masters.map((node) => node.keys(`${prefix}:*`)))
    for (const found of perNode) expect(found.length).toBeGreaterThan(0)
  })
})

describe.each([
  ['client defaults', {}],
  [
    'deserialization, auto-pipelining and base64 off',
    {
      automaticDeserialization: false,
      enableAutoPipelining: false,
      responseEncoding: false,
    },
  ],
] as const)('upstash endpoint with %s', (_, options) => {
  const redis = new Upstash({ url, token, ...options })
  const deserializes = !('automaticDeserialization' in options)
  const decoded = (value: unknown) => (deserializes ? value : JSON.stringify(value))

  it('set/get round-trips JSON, unicode and "OK"', async () => {
    const k = key()
    expect(await redis.set(k, { a: 1, s: 'héllo ✓' }, { px: 60_000 })).toBe('OK')
    expect(await redis.get(k)).toEqual(decoded({ a: 1, s: 'héllo ✓' }))
    await redis.set(k, 'OK')
    expect(await redis.get(k)).toBe('OK')
    expect(await redis.get(key())).toBeNull()
  })

  it('runs pipelines (per-item errors) and transactions [U4]', async () => {
    const k = key()
    expect(await redis.pipeline().set(k, 1).incr(k).get(k).exec()).toEqual(['OK', 2, deserializes ? 2 : '2'])
    const items = await redis.pipeline().set(k, 'x').incr(k).exec({ keepErrors: true })
    expect(items[1]?.error).toMatch(/not an integer/)
    await expect(redis.pipeline().incr(k).exec()).rejects.toThrow(/Command 1 \[ incr \] failed/)
    expect(await redis.multi().set(k, 'a').append(k, 'b').get(k).exec()).toEqual(['OK', 2, 'ab'])
  })

  it('runs EVAL, EVALSHA and falls back from NOSCRIPT to EVAL [U5]', async () => {
    const k = key()
    expect(await redis.eval('return {KEYS[1], ARGV[1], 7}', [k], ['v'])).toEqual([k, 'v', 7])
    const sha = await redis.scriptLoad('return ARGV[1]')
    expect(await redis.evalsha(sha, [], ['x'])).toBe('x')
    await expect(redis.evalsha('0'.repeat(40), [], [])).rejects.toThrow(/NOSCRIPT/)
    const script = redis.createScript<string>(`return KEYS[1] .. '${k}'`) // unique body: never loaded yet
    expect(await script.exec([k], [])).toBe(`${k}${k}`)
  })
})

describe('upstash endpoint faults', () => {
  it('rejects a wrong token', async () => {
    const redis = new Upstash({ url, token: 'wrong', retry: false })
    await expect(redis.get(key())).rejects.toThrow(/Unauthorized/)
  })

  // A private endpoint: changing the mode of the shared one would break suites running in parallel.
  it.each<[UpstashRestMode, RegExp]>([
    ['error-500', /internal/],
    ['non-json', /gateway/],
    ['unauthorized', /Unauthorized/],
    ['hang', /abort|timeout/i],
  ])('mode %s makes the client reject', async (mode, message) => {
    const endpoint = await startUpstashRest({ redisUrl: inject('redisUrl') })
    closers.push(() => endpoint.stop())
    const redis = new Upstash({ url: endpoint.url, token: endpoint.token, retry: false })
    const signal = () => AbortSignal.timeout(300)
    const hanging = new Upstash({ url: endpoint.url, token: endpoint.token, retry: false, signal })
    endpoint.setMode(mode)
    await expect((mode === 'hang' ? hanging : redis).get(key())).rejects.toThrow(message)
    expect(endpoint.requests).toBe(1)
    endpoint.setMode('ok')
    expect(await redis.set(key(), 'back')).toBe('OK')
  })
})
