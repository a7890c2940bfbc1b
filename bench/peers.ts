/**
 * Peers section of `npm run bench` (`--only peers`): cacheward beside other cache-aside libraries for
 * Node, each configured for Redis the way its own docs show, on the same redis-server, value and TTL,
 * with raw ioredis as the limit. See bench/README.md.
 *
 * Every library answers one question per operation: "give me the value for this key, loading it with
 * this function on a miss". The sides take turns in short slices, as in run.ts, and the median round is
 * reported. Libraries whose recommended setup puts an in-process tier (L1) in front of Redis also run
 * with Redis only; the L1 rows answer hits from memory and are not comparable to a Redis GET.
 * @module
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { cachified } from '@epic-web/cachified'
import { createKeyv } from '@keyv/redis'
import { createClient } from '@redis/client'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis'
import { createCache } from 'cache-manager'
import { createCacheClient } from 'cacheward'
import { ioredisAdapter } from 'cacheward/ioredis'
import { type RedisLikeCache, redisCacheAdapter } from 'cachified-redis-adapter'
import { Redis } from 'ioredis'
import { formatInt, formatMs, formatUs, measure, percentile, runInterleaved, spreadPercent, table } from './lib.js'
import type {
  PeerCaseResult,
  PeerId,
  PeerInfo,
  PeerSideResult,
  PeerStampedeResult,
  PeerStampedeRound,
  PeersResult,
} from './results-file.js'
import type { Room } from './value.js'
import {
  CONCURRENCY,
  HIT_KEYS,
  quit,
  ROUNDS,
  STAMPEDE_CALLERS,
  STAMPEDE_LOADER_MS,
  TTL_MS,
  type ValueEnv,
} from './workload.js'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')

const SCALE_QUICK = 10
/** bentocache's L1 capacity in entries: room for the hit keys (its default, 1,000, is not). */
const L1_MAX_ITEMS = 10_000

// ---- the libraries ------------------------------------------------------------------------------

/** One library in one configuration, seen through the single call every cache-aside library offers. */
interface Peer {
  getOrSet(key: string, loader: () => Room | Promise<Room>): Promise<Room>
  close(): Promise<void>
}

export const PEERS: readonly PeerInfo[] = [
  {
    id: 'raw',
    label: 'raw ioredis (the limit)',
    pkg: 'ioredis',
    tier: 'redis',
    client: 'ioredis',
    config: '`GET` + `JSON.parse`; on nil, the loader, `JSON.stringify`, `SET … PX`. No lock, no single-flight.',
  },
  {
    id: 'cacheward',
    label: 'cacheward',
    pkg: 'cacheward',
    tier: 'redis',
    client: 'ioredis',
    config: '`createCacheClient({ adapter: ioredisAdapter(redis), namespace, ttl })`, `getOrSet(key, loader)`.',
  },
  {
    id: 'bentocache',
    label: 'bentocache, Redis only',
    pkg: 'bentocache',
    tier: 'redis',
    client: 'ioredis',
    config:
      "`new BentoCache({ default: 'store', prefix, ttl, stores: { store: bentostore().useL2Layer(redisDriver({ connection: redis })) } })`, `getOrSet({ key, factory })`.",
  },
  {
    id: 'bentocache-l1',
    label: 'bentocache, L1 + Redis + bus (recommended)',
    pkg: 'bentocache',
    tier: 'l1+redis',
    client: 'ioredis',
    config:
      "its multi-tier setup: `bentostore().useL1Layer(memoryDriver({ maxSize: '10mb', maxItems })).useL2Layer(redisDriver({ connection: redis })).useBus(redisBusDriver({ connection: { host, port } }))`, " +
      `with \`maxItems: ${formatInt(L1_MAX_ITEMS)}\` added by us: the driver's default entry count is below the ${formatInt(HIT_KEYS)} hot keys, ` +
      'and an LRU cycled over more keys than it holds never hits (every call then goes to Redis).',
  },
  {
    id: 'cachified',
    label: '@epic-web/cachified + cachified-redis-adapter',
    pkg: '@epic-web/cachified',
    tier: 'redis',
    client: 'node-redis',
    config:
      '`cachified({ key, cache: redisCacheAdapter(client), getFreshValue, ttl })` with a node-redis client (`createClient({ url })` from `@redis/client`), which the adapter expects (it calls `set(key, value, { EXAT })`).',
  },
  {
    id: 'cache-manager',
    label: 'cache-manager + Keyv + @keyv/redis',
    pkg: 'cache-manager',
    tier: 'redis',
    client: 'node-redis',
    config:
      '`createCache({ stores: [createKeyv(url, { namespace })] })` (`createKeyv` from `@keyv/redis`, over node-redis), `wrap(key, fn, ttl)`.',
  },
]

const IDS: readonly PeerId[] = PEERS.map((p) => p.id)

/** Builds one library's client for one case: its own connections, its own key prefix. */
async function openPeer(id: PeerId, url: string, prefix: string): Promise<Peer> {
  switch (id) {
    case 'raw': {
      const redis = new Redis(url)
      return {
        async getOrSet(key, loader) {
          const full = prefix + key
          const text = await redis.get(full)
          if (text !== null) return JSON.parse(text) as Room
          const value = await loader()
          await redis.set(full, JSON.stringify(value), 'PX', TTL_MS)
          return value
        },
        close: () => quit(redis),
      }
    }
    case 'cacheward': {
      const redis = new Redis(url)
      const cache = createCacheClient({ adapter: ioredisAdapter(redis), namespace: prefix, ttl: TTL_MS })
      return {
        getOrSet: (key, loader) => cache.getOrSet(key, loader),
        async close() {
          await cache.close()
          await quit(redis)
        },
      }
    }
    case 'bentocache':
    case 'bentocache-l1': {
      const redis = new Redis(url)
      const { hostname, port } = new URL(url)
      const store =
        id === 'bentocache'
          ? bentostore().useL2Layer(redisDriver({ connection: redis }))
          : bentostore()
              // maxItems: the driver's default entry count is below HIT_KEYS, and an LRU cycled over more keys
              // than it holds misses every time; an app would size its L1 to its working set, so we do too.
              .useL1Layer(memoryDriver({ maxSize: '10mb', maxItems: L1_MAX_ITEMS }))
              .useL2Layer(redisDriver({ connection: redis }))
              .useBus(redisBusDriver({ connection: { host: hostname, port: Number(port) } }))
      const bento = new BentoCache({ default: 'store', prefix, ttl: TTL_MS, stores: { store } })
      return {
        getOrSet: (key, loader) => bento.getOrSet({ key, factory: loader }),
        async close() {
          // Disconnects the driver's connection (ours) and the bus's own connections.
          await bento.disconnectAll()
        },
      }
    }
    case 'cachified': {
      const client = createClient({ url })
      await client.connect()
      const cache = redisCacheAdapter(client as unknown as RedisLikeCache)
      return {
        getOrSet: (key, loader) => cachified({ key: prefix + key, cache, getFreshValue: loader, ttl: TTL_MS }),
        async close() {
          await client.quit().catch(() => client.destroy())
        },
      }
    }
    case 'cache-manager': {
      const cache = createCache({ stores: [createKeyv(url, { namespace: prefix })] })
      return {
        getOrSet: (key, loader) => cache.wrap(key, loader, TTL_MS),
        async close() {
          await cache.disconnect()
        },
      }
    }
  }
}

/** Installed versions, read from node_modules (some packages do not export their package.json). */
export function packageVersion(pkg: string): string {
  try {
    const file = path.join(root, 'node_modules', pkg, 'package.json')
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version
  } catch {
    return 'unknown'
  }
}

/** Every package the peer comparison loads, with the clients and adapters under the libraries. */
export const PEER_PACKAGES = [
  'ioredis',
  'bentocache',
  '@epic-web/cachified',
  'cachified-redis-adapter',
  'cache-manager',
  'keyv',
  '@keyv/redis',
  '@redis/client',
] as const

// ---- throughput cases ---------------------------------------------------------------------------

interface PeerCaseSpec {
  id: string
  label: string
  kind: 'hits' | 'misses'
  workers: number
  ops: number
  slices: number
}

function cases(quick: boolean): PeerCaseSpec[] {
  const scale = quick ? SCALE_QUICK : 1
  return [
    { id: 'hits-seq', label: 'hits, sequential', kind: 'hits', workers: 1, ops: 20_000 / scale, slices: 20 },
    {
      id: 'hits-conc',
      label: `hits, ${CONCURRENCY} concurrent`,
      kind: 'hits',
      workers: CONCURRENCY,
      ops: 50_000 / scale,
      slices: 10,
    },
    { id: 'misses-seq', label: 'misses, sequential', kind: 'misses', workers: 1, ops: 20_000 / scale, slices: 20 },
    {
      id: 'misses-conc',
      label: `misses, ${CONCURRENCY} concurrent`,
      kind: 'misses',
      workers: CONCURRENCY,
      ops: 50_000 / scale,
      slices: 10,
    },
  ]
}

async function runPeerCase(env: ValueEnv, admin: Redis, spec: PeerCaseSpec): Promise<PeerCaseResult> {
  await admin.flushdb()
  const peers = new Map<PeerId, Peer>()
  const loads = new Map<PeerId, number>(IDS.map((id) => [id, 0]))
  // Each side counts its own loader calls: a hit must never load, a miss must load exactly once. This also
  // catches a library that answers a Redis error with the loader (it would pass for a fast "hit").
  const loaderOf = (id: PeerId) => () => {
    loads.set(id, (loads.get(id) ?? 0) + 1)
    return env.value
  }
  const hitKeys = Array.from({ length: HIT_KEYS }, (_, i) => `k${i}`)
  try {
    for (const id of IDS) peers.set(id, await openPeer(id, env.url, `peer-${env.runId}-${spec.id}-${id}:`))
    const peer = (id: PeerId) => peers.get(id) as Peer

    if (spec.kind === 'hits') {
      for (const id of IDS) {
        const loader = loaderOf(id)
        await measure((i) => peer(id).getOrSet(hitKeys[i] as string, loader), HIT_KEYS, 64)
        if (loads.get(id) !== HIT_KEYS)
          throw new Error(`${id}: populating ${HIT_KEYS} keys made ${loads.get(id)} loads`)
        loads.set(id, 0)
        const sample = await peer(id).getOrSet(hitKeys[0] as string, loader)
        if (loads.get(id) !== 0) throw new Error(`${id}: a populated key was loaded again`)
        if (JSON.stringify(sample) !== env.json) throw new Error(`${id}: cached value differs from the loaded one`)
      }
    }

    const result = await runInterleaved<PeerId>({
      sides: IDS,
      ops: spec.ops,
      slices: spec.slices,
      workers: spec.workers,
      rounds: ROUNDS,
      warmupOps: Math.min(2_000, spec.ops),
      op(id, round) {
        const p = peer(id)
        const loader = loaderOf(id)
        if (spec.kind === 'hits') return (i) => p.getOrSet(hitKeys[i % HIT_KEYS] as string, loader)
        const keyPrefix = `${round}:`
        return (i) => p.getOrSet(keyPrefix + i, loader)
      },
      async beforeSlice() {
        // Every miss slice starts from the same empty database; loads are counted per slice.
        if (spec.kind === 'misses') await admin.flushdb()
        for (const id of IDS) loads.set(id, 0)
      },
      async verify(id, count) {
        const loaded = loads.get(id) ?? 0
        if (spec.kind === 'hits') return loaded === 0 ? undefined : `${loaded} loader calls in ${count} hits`
        if (loaded !== count) return `${loaded} loader calls in ${count} misses`
        // Stores may add keys of their own, but each miss must have written at least its entry.
        const size = await admin.dbsize()
        return size >= count ? undefined : `${size} keys in Redis after ${count} misses`
      },
      onRound(round, runs) {
        env.log(
          `  peers ${spec.label}: round ${round + 1}/${ROUNDS} ` +
            IDS.map((id) => `${id} ${formatInt(runs[id].opsPerSec)}/s`).join(', '),
        )
      },
    })
    const raw = result.median.raw.opsPerSec
    const sides = Object.fromEntries(
      IDS.map((id) => [
        id,
        {
          median: result.median[id],
          rounds: result.rounds[id],
          ratioToRaw: result.median[id].opsPerSec / raw,
          spreadPercent: spreadPercent(result.rounds[id]),
        },
      ]),
    ) as Record<PeerId, PeerSideResult>
    if (result.anomalies.length > 0) anomalies.push(...result.anomalies.map((a) => `peers ${spec.label}: ${a}`))
    return { id: spec.id, label: spec.label, kind: spec.kind, workers: spec.workers, ops: spec.ops, sides }
  } finally {
    await Promise.all([...peers.values()].map((p) => p.close()))
  }
}

// ---- stampede, one process ----------------------------------------------------------------------

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function stampedeRound(peer: Peer, key: string, value: Room, json: string): Promise<PeerStampedeRound> {
  let calls = 0
  const loader = async () => {
    calls++
    await sleep(STAMPEDE_LOADER_MS)
    return value
  }
  const starts = new Float64Array(STAMPEDE_CALLERS)
  const ends = new Float64Array(STAMPEDE_CALLERS)
  const wrong: number[] = []
  await Promise.all(
    Array.from({ length: STAMPEDE_CALLERS }, async (_, i) => {
      starts[i] = performance.now()
      const got = await peer.getOrSet(key, loader)
      ends[i] = performance.now()
      if (got !== value && JSON.stringify(got) !== json) wrong.push(i)
    }),
  )
  if (wrong.length > 0) throw new Error(`stampede: ${wrong.length} callers got a different value`)
  const latencies = ends.map((end, i) => end - (starts[i] as number)).sort()
  return {
    loaderCalls: calls,
    totalMs: Math.max(...ends) - Math.min(...starts),
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
  }
}

async function runPeerStampede(env: ValueEnv, admin: Redis): Promise<PeerStampedeResult[]> {
  await admin.flushdb()
  const peers = new Map<PeerId, Peer>()
  const rounds = new Map<PeerId, PeerStampedeRound[]>(IDS.map((id) => [id, []]))
  try {
    for (const id of IDS) peers.set(id, await openPeer(id, env.url, `peer-${env.runId}-stampede-${id}:`))
    // Round 0 warms every library up; the order then rotates, as in the throughput cases.
    for (let round = 0; round <= ROUNDS; round++) {
      for (let k = 0; k < IDS.length; k++) {
        const id = IDS[(k + round) % IDS.length] as PeerId
        const stats = await stampedeRound(peers.get(id) as Peer, `cold:${round}`, env.value, env.json)
        if (round > 0) rounds.get(id)?.push(stats)
      }
      if (round > 0) {
        env.log(
          `  peers stampede: round ${round}/${ROUNDS} ` +
            IDS.map((id) => {
              const r = rounds.get(id)?.at(-1)
              return `${id} ${r?.loaderCalls} loads ${r?.totalMs.toFixed(1)} ms`
            }).join(', '),
        )
      }
    }
  } finally {
    await Promise.all([...peers.values()].map((p) => p.close()))
  }
  return IDS.map((id) => {
    const list = rounds.get(id) ?? []
    const sorted = [...list].sort((a, b) => a.totalMs - b.totalMs)
    const median = sorted[Math.floor((sorted.length - 1) / 2)]
    if (!median) throw new Error(`peers stampede: no rounds for ${id}`)
    return { id, median, maxLoaderCalls: Math.max(...list.map((r) => r.loaderCalls)), rounds: list }
  })
}

// ---- section ------------------------------------------------------------------------------------

// Collected across cases by runPeerCase; reset at the start of each section run.
let anomalies: string[] = []

export async function runPeers(env: ValueEnv): Promise<PeersResult> {
  anomalies = []
  const admin = new Redis(env.url)
  try {
    const results: PeerCaseResult[] = []
    for (const spec of cases(env.quick)) results.push(await runPeerCase(env, admin, spec))
    env.log('  peers stampede...')
    const stampede = await runPeerStampede(env, admin)
    return {
      peers: PEERS,
      versions: Object.fromEntries(PEER_PACKAGES.map((pkg) => [pkg, packageVersion(pkg)])),
      hitKeys: HIT_KEYS,
      rounds: ROUNDS,
      ttlMs: TTL_MS,
      cases: results,
      stampede: { callers: STAMPEDE_CALLERS, loaderMs: STAMPEDE_LOADER_MS, rounds: ROUNDS, results: stampede },
      anomalies,
    }
  } finally {
    await quit(admin)
  }
}

// ---- reporting ----------------------------------------------------------------------------------

const labelOf = (id: PeerId) => PEERS.find((p) => p.id === id)?.label ?? id

export function formatPeers(result: PeersResult): string {
  const tierNote = (id: PeerId) => (PEERS.find((p) => p.id === id)?.tier === 'l1+redis' ? ' *' : '')
  const throughput = result.cases.flatMap((c) =>
    IDS.map((id) => {
      const s = c.sides[id]
      return [
        c.label,
        labelOf(id) + tierNote(id),
        formatInt(s.median.opsPerSec),
        `${s.ratioToRaw.toFixed(2)}x`,
        formatUs(s.median.p50Us),
        formatUs(s.median.p99Us),
        `${s.spreadPercent.toFixed(1)}%`,
      ]
    }),
  )
  const stampedeRows = result.stampede.results.map((r) => [
    labelOf(r.id) + tierNote(r.id),
    formatInt(r.median.loaderCalls),
    formatInt(r.maxLoaderCalls),
    formatMs(r.median.totalMs),
    formatMs(r.median.p50Ms),
    formatMs(r.median.p99Ms),
  ])
  const throughputHead = ['case', 'library', 'ops/s', 'vs raw', 'p50 µs', 'p99 µs', 'spread']
  const stampedeHead = ['library', 'loader calls', 'max calls', 'total ms', 'p50 ms', 'p99 ms']
  return [
    `Peers: same redis-server, same ~1 KB value, TTL ${result.ttlMs / 60_000} min; hits over ${formatInt(result.hitKeys)} keys; ` +
      `${result.rounds} rounds in interleaved slices, median round shown`,
    '',
    table(throughputHead, throughput, ['left', 'left', 'right', 'right', 'right', 'right', 'right']),
    '',
    '* an in-process L1 tier answers hits (and a just-loaded key) from memory, without Redis: not comparable to',
    '  raw GET. vs raw = library ops/s / raw ioredis ops/s (median rounds).',
    '',
    `Peer stampede: ${formatInt(result.stampede.callers)} concurrent calls on one cold key in one process, loader ` +
      `${result.stampede.loaderMs} ms; median round of ${result.stampede.rounds} by total time`,
    '',
    table(stampedeHead, stampedeRows, ['left', 'right', 'right', 'right', 'right', 'right']),
    '',
    `versions: ${Object.entries(result.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  ].join('\n')
}
