/**
 * One process of the l1 coherence checker (test/integration/l1-coherence.test.ts): a client with the in-process
 * tier on a real backend, doing random reads and writes over ten keys whose source of truth is a counter per key in
 * Redis (`<ns>:db:<key>`, read by the loader). A write increments the counter to version V, invalidates the key (by
 * delete, by tag or by pattern), then leaves a marker whose announcement names V and comes from where the
 * invalidation's came from, so it reaches every process after that one: announcements from one Redis node keep
 * their order, and on a cluster those of different nodes do not. So after a delete or a pattern invalidation the
 * marker is a delete of `{item:<k>}:mark:<V>` (the entry's own hash slot), after a tag invalidation a stamp of tag
 * `mark:<k>:<V>` (the tag records' slot). The process logs, on its own clock, when each marker reached it and what
 * each read returned; the parent checks that no read that started after this process received marker V of its key
 * returned a version below V.
 *
 *   node --import tsx test/support/l1-checker-worker.ts <json settings>
 *
 * With `lose: true` the process drops every entry announcement before its tier sees it: a tier that misses
 * announcements, which the checker must catch (the negative control).
 */

import { createClient, createCluster } from '@redis/client'
import { Redis as Upstash } from '@upstash/redis'
import { Cluster, Redis } from 'ioredis'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { nodeRedisAdapter } from '../../src/adapters/node-redis.js'
import { upstashAdapter } from '../../src/adapters/upstash.js'
import type { CacheAdapter } from '../../src/index.js'
import { createCacheClient, escapeGlob } from '../../src/index.js'

export interface WorkerSettings {
  /** The cache's adapter: ioredis (redis, cluster), node-redis (node-redis, node-redis-cluster), or Upstash. */
  backend: 'redis' | 'cluster' | 'upstash' | 'node-redis' | 'node-redis-cluster'
  redisUrl: string
  clusterNodes: { host: string; port: number }[]
  upstashUrl: string
  upstashToken: string
  namespace: string
  ops: number
  seed: number
  lose?: boolean
}

export interface WorkerReport {
  reads: [key: number, startedAt: number, version: number][]
  marks: [key: number, version: number, receivedAt: number][]
  metrics: { hits: number; l1Hits: number; misses: number; errors: number }
}

const settings = JSON.parse(process.argv[2] ?? '{}') as WorkerSettings
const { namespace } = settings
let seed = settings.seed
const random = () => {
  seed = (seed * 48271) % 2147483647
  return seed / 2147483647
}
const now = () => performance.now()

// The source of truth and the cache's backend: a counter per key, read and written with a client of its own.
const onCluster = settings.backend === 'cluster' || settings.backend === 'node-redis-cluster'
const db = onCluster
  ? new Cluster(settings.clusterNodes, { redisOptions: { maxRetriesPerRequest: 1 } })
  : new Redis(settings.redisUrl, { maxRetriesPerRequest: 1 })
function nodeRedis(): Parameters<typeof nodeRedisAdapter>[0] {
  const client = onCluster
    ? createCluster({ rootNodes: settings.clusterNodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })) })
    : createClient({ url: settings.redisUrl })
  client.on('error', () => {})
  void client.connect()
  return client
}
const adapter: CacheAdapter =
  settings.backend === 'upstash'
    ? upstashAdapter(new Upstash({ url: settings.upstashUrl, token: settings.upstashToken, enableTelemetry: false }))
    : settings.backend === 'node-redis' || settings.backend === 'node-redis-cluster'
      ? nodeRedisAdapter(nodeRedis())
      : ioredisAdapter(
          onCluster
            ? new Cluster(settings.clusterNodes, { redisOptions: { maxRetriesPerRequest: 1 } })
            : new Redis(settings.redisUrl, { maxRetriesPerRequest: 1 }),
        )

const report: WorkerReport = { reads: [], marks: [], metrics: { hits: 0, l1Hits: 0, misses: 0, errors: 0 } }
const markPrefix = `{${namespace}:tags}:mark:`
// `<ns>:{item:<k>}:mark:<V>`
const keyMark = new RegExp(`^${namespace}:\\{item:(\\d+)\\}:mark:(\\d+)$`)
const subscribe = adapter.subscribe?.bind(adapter)
const observed: CacheAdapter = {
  ...adapter,
  ...(subscribe
    ? {
        subscribe: (listener) =>
          subscribe({
            live: (up) => listener.live(up),
            message: (announcement) => {
              if (announcement.kind === 'tags') {
                for (const key of announcement.keys) {
                  if (!key.startsWith(markPrefix)) continue
                  const [k, v] = key.slice(markPrefix.length).split(':')
                  report.marks.push([Number(k), Number(v), now()])
                }
              } else if (announcement.kind === 'keys') {
                for (const key of announcement.keys) {
                  const match = keyMark.exec(key)
                  if (match) report.marks.push([Number(match[1]), Number(match[2]), now()])
                }
              }
              if (settings.lose && announcement.kind === 'keys') return
              listener.message(announcement)
            },
          }),
      }
    : {}),
}

const cache = createCacheClient({ adapter: observed, namespace, l1: true, ttl: '30s' })
const KEYS = 10
const dbKey = (k: number) => `${namespace}:db:${k}`

const load = async (k: number) => {
  // A slow source now and then, so loads race with invalidations.
  if (random() < 0.2) await new Promise((r) => setTimeout(r, Math.floor(random() * 3)))
  return Number((await db.get(dbKey(k))) ?? 0)
}

async function main() {
  await cache.has('__start__')
  for (let i = 0; i < 400 && cache.metrics().l1?.live !== true; i++) await new Promise((r) => setTimeout(r, 5))
  const inFlight: Promise<void>[] = []
  for (let op = 0; op < settings.ops; op++) {
    const k = Math.floor(random() * KEYS)
    if (random() < 0.8) {
      const startedAt = now()
      const task = cache
        .getOrSet(`{item:${k}}`, () => load(k), { tags: [`item:${k}`] })
        .then((version) => {
          report.reads.push([k, startedAt, version])
        })
      inFlight.push(task)
    } else {
      const task = (async () => {
        const version = await db.incr(dbKey(k))
        const how = random()
        if (how < 0.4) await cache.delete(`{item:${k}}`)
        else if (how < 0.8) await cache.invalidateTags([`item:${k}`])
        else await cache.invalidatePattern(escapeGlob(`{item:${k}}`))
        if (how >= 0.4 && how < 0.8) await cache.invalidateTags([`mark:${k}:${version}`])
        else await cache.delete(`{item:${k}}:mark:${version}`)
      })()
      inFlight.push(task)
    }
    // A few operations in flight at once, as a server's concurrent requests would have.
    if (inFlight.length >= 4) await Promise.all(inFlight.splice(0))
  }
  await Promise.all(inFlight)
  // Let the last markers arrive before reporting.
  await new Promise((r) => setTimeout(r, 100))
  const m = cache.metrics()
  report.metrics = { hits: m.hits, l1Hits: m.l1Hits, misses: m.misses, errors: m.errors }
  process.stdout.write(`${JSON.stringify(report)}\n`)
  await cache.close()
  db.disconnect()
  process.exit(0)
}

main().catch((error: unknown) => {
  process.stderr.write(`worker failed: ${error instanceof Error ? error.stack : String(error)}\n`)
  process.exit(1)
})
