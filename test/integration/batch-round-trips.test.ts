/**
 * What a batch of cached keys costs on the wire, counted by the servers themselves (INFO commandstats): one command
 * on a standalone server (a plain MGET for keys this process found fresh a moment ago, else one script), at most one per master on the 3-master cluster (keys spread over all three), one HTTP
 * request to Upstash. Each case warms the scripts first, so a NOSCRIPT retry is not counted.
 */
import { createCluster } from '@redis/client'
import { Redis as Upstash } from '@upstash/redis'
import { Cluster, Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { nodeRedisAdapter } from '../../src/adapters/node-redis.js'
import { clusterSlot, scripts } from '../../src/adapters/redis-wire.js'
import { type UpstashLikeClient, upstashAdapter } from '../../src/adapters/upstash.js'
import type { CacheAdapter, CacheClient } from '../../src/index.js'
import { createCacheClient } from '../../src/index.js'
import { keygen } from '../support/keygen.js'

const cleanup: Array<() => unknown> = []
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
})
const ns = keygen('batch-trips')
const keys = Array.from({ length: 100 }, (_, i) => `user:${i}`)
const loadMany = async (missing: string[]) => missing.map((k) => ({ id: k, name: `name of ${k}` }))

/**
 * Commands a batch read sends (scripts, MGET) each server ran so far. Commands inside scripts count under their own
 * names: the single-slot batch script's MGET as mget, so a case that runs that script counts scripts alone.
 */
async function scriptCalls(servers: readonly Redis[], names = ['evalsha', 'eval', 'mget']): Promise<number[]> {
  return Promise.all(
    servers.map(async (server) => {
      const info = await server.info('commandstats')
      let calls = 0
      for (const name of names) {
        const match = new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)
        calls += Number(match?.[1] ?? 0)
      }
      return calls
    }),
  )
}

function make(adapter: CacheAdapter, namespace = ns()): CacheClient {
  const cache = createCacheClient({ adapter, namespace })
  cleanup.push(() => cache.close())
  return cache
}

/** Fills the cache, reads it once (scripts now known to every server), then counts one batch of cached keys. */
async function perBatch(cache: CacheClient, servers: readonly Redis[], names?: string[]): Promise<number[]> {
  expect(await cache.getOrSetMany(keys, loadMany)).toHaveLength(100)
  await cache.getOrSetMany(keys, loadMany)
  const before = await scriptCalls(servers, names)
  const values = await cache.getOrSetMany(keys, loadMany)
  const after = await scriptCalls(servers, names)
  expect(values.map((v) => v?.id)).toEqual(keys)
  expect(cache.metrics().hits).toBeGreaterThanOrEqual(200)
  return after.map((n, i) => n - (before[i] as number))
}

describe('round trips of getOrSetMany over 100 cached keys', () => {
  it('standalone Redis (ioredis): one round trip (keys found fresh a moment ago: one MGET)', async () => {
    const redis = new Redis(inject('redisUrl'))
    const admin = new Redis(inject('redisUrl'))
    cleanup.push(
      () => redis.quit(),
      () => admin.quit(),
    )
    expect(await perBatch(make(ioredisAdapter(redis)), [admin])).toEqual([1])
  })

  describe('3-master cluster: at most one script per master, keys on every master', () => {
    const nodes = inject('clusterNodes')
    const masters = async () => {
      const admin = new Cluster(nodes)
      cleanup.push(() => admin.quit())
      await admin.ping()
      const servers = admin
        .nodes('master')
        .map((node) => new Redis({ host: node.options.host as string, port: node.options.port as number }))
      cleanup.push(...servers.map((s) => () => s.quit()))
      return servers
    }

    it('ioredis Cluster', async () => {
      const servers = await masters()
      const cluster = new Cluster(nodes)
      cleanup.push(() => cluster.quit())
      const calls = await perBatch(make(ioredisAdapter(cluster)), servers)
      expect(calls).toEqual([1, 1, 1])
    })

    it('falls back to one script per slot when a node refuses the cross-slot script (a slot moving, Redis < 7)', async () => {
      const servers = await masters()
      const cluster = new Cluster(nodes)
      cleanup.push(() => cluster.quit())
      // The client as seen by the adapter: the cross-slot script fails the way a node refuses a key it does not serve.
      const refusing = new Proxy(cluster, {
        get(target, name, receiver) {
          const value = Reflect.get(target, name, receiver)
          if (name !== 'evalsha' && name !== 'eval') return typeof value === 'function' ? value.bind(target) : value
          return (first: string, ...rest: unknown[]) =>
            first === scripts.readManyLocal.sha || first === scripts.readManyLocal.source
              ? Promise.reject(new Error('ERR Script attempted to access a non local key in a cluster node'))
              : (value as (...a: unknown[]) => Promise<unknown>).call(target, first, ...rest)
        },
      })
      const namespace = ns()
      const calls = await perBatch(make(ioredisAdapter(refusing), namespace), servers, ['evalsha', 'eval'])
      const slots = new Set(keys.map((k) => clusterSlot(`${namespace}:${k}`)))
      expect(calls.reduce((a, b) => a + b, 0)).toBe(slots.size)
    })

    it('node-redis createCluster', async () => {
      const servers = await masters()
      const cluster = createCluster({ rootNodes: nodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })) })
      cluster.on('error', () => {})
      await cluster.connect()
      cleanup.push(() => cluster.close())
      const calls = await perBatch(make(nodeRedisAdapter(cluster)), servers)
      expect(calls).toEqual([1, 1, 1])
    })
  })

  it('Upstash: one HTTP request', async () => {
    const client = new Upstash({ url: inject('upstashUrl'), token: inject('upstashToken'), enableTelemetry: false })
    let requests = 0
    const counted = new Proxy(client as unknown as UpstashLikeClient, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver)
        if (name !== 'evalsha' && name !== 'eval' && name !== 'mget' && name !== 'get') return value
        return (...args: unknown[]) => {
          requests++
          return (value as (...a: unknown[]) => unknown).apply(target, args)
        }
      },
    })
    const cache = make(upstashAdapter(counted))
    await cache.getOrSetMany(keys, loadMany)
    await cache.getOrSetMany(keys, loadMany)
    requests = 0
    expect((await cache.getOrSetMany(keys, loadMany)).map((v) => v?.id)).toEqual(keys)
    expect(requests).toBe(1)
  })
})
