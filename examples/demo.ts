/**
 * `npm run demo`: what cacheward does in front of a slow database, measured. Runs with no server (the
 * in-process memory adapter); with REDIS_URL set, the same scenarios run against Redis through ioredis.
 */
import { performance } from 'node:perf_hooks'
import { type CacheAdapter, createCacheClient } from 'cacheward'

interface Room {
  id: number
  name: string
}

// The "database": every query takes 20 ms and is counted; it returns rows as they were when it began.
const DB_MS = 20
const rooms = new Map(Array.from({ length: 50 }, (_, i) => [i + 1, { id: i + 1, name: `Room ${i + 1}` }]))
let queries = 0
let popularVersion = 0
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
async function query<T>(read: () => T, ms = DB_MS): Promise<T> {
  queries++
  const rows = read()
  await sleep(ms)
  return rows
}
const db = {
  room: (id: number, ms?: number) => query(() => ({ ...(rooms.get(id) as Room) }), ms),
  allRooms: () => query(() => [...rooms.values()].map((room) => ({ ...room }))),
  popular: () => query(() => ({ version: ++popularVersion, ids: [7, 3, 12] })),
}

// Memory unless REDIS_URL is set; ioredis is only imported on that path. The URL is never printed.
let adapter: CacheAdapter | undefined
let quit = async () => {}
if (process.env.REDIS_URL) {
  const { Redis } = await import('ioredis')
  const { ioredisAdapter } = await import('cacheward/ioredis')
  const redis = new Redis(process.env.REDIS_URL, { maxRetriesPerRequest: 1 })
  redis.on('error', () => {}) // connection errors reach us through health() and the cache's 'error' events
  adapter = ioredisAdapter(redis)
  quit = async () => void (await redis.quit())
}
const cache = createCacheClient({ namespace: 'cacheward-demo', ...(adapter ? { adapter } : {}) })
const health = await cache.health()
if (!health.ok) {
  console.error(`the backend did not answer: ${health.error}`)
  process.exit(1)
}
console.log(`adapter: ${health.adapter}${adapter ? ' (from REDIS_URL)' : ' (in-process; set REDIS_URL to use Redis)'}`)
await cache.clear()

interface Row {
  scenario: string
  requests: number
  queries: number
  hitRate: number
  latencies: number[]
}
const rows: Row[] = []
const times = <T>(n: number, make: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => make(i))
const timed = async <T>(work: () => Promise<T>): Promise<[T, number]> => {
  const started = performance.now()
  const value = await work()
  return [value, performance.now() - started]
}

/** Runs waves of concurrent requests (one wave after the other) and records one table row. */
async function measure(scenario: string, waves: Array<Array<() => Promise<unknown>>>): Promise<void> {
  cache.resetMetrics()
  const before = queries
  const latencies: number[] = []
  for (const wave of waves) latencies.push(...(await Promise.all(wave.map(timed))).map(([, ms]) => ms))
  rows.push({
    scenario,
    requests: latencies.length,
    queries: queries - before,
    hitRate: cache.metrics().hitRate,
    latencies,
  })
}
// Every room entry, and the list, carry the tag 'rooms': one invalidateTags(['rooms']) reaches all of them.
const roomRead = (id: number) => () => cache.getOrSet(`room:${id}`, () => db.room(id), { tags: ['rooms'] })
const allRoomsRead = () => cache.getOrSet('rooms:all', db.allRooms, { tags: ['rooms'] })

console.log('1/6  200 concurrent requests for one cold key...')
await measure('1 stampede on a cold key', [times(200, () => allRoomsRead)])

console.log('2/6  1,000 requests over 50 room ids, in 10 waves of 100...')
await measure(
  '2 50 keys, read repeatedly',
  times(10, () => times(100, (i) => roomRead((i % 50) + 1))),
)

console.log('3/6  room:1 renamed and deleted from the cache while a slow (200 ms) load of it is in flight...')
await cache.delete('room:1') // as if it had expired: the next read loads it
cache.resetMetrics()
const before = queries
const slowLoad = timed(() => cache.getOrSet('room:1', () => db.room(1, 200)))
await sleep(50)
rooms.set(1, { id: 1, name: 'Room 1 (renamed)' }) // the write path: update the database, then invalidate
await cache.delete('room:1')
const [old, slowMs] = await slowLoad
const writtenBack = await cache.has('room:1')
const [next, nextMs] = await timed(roomRead(1))
const [q, hitRate] = [queries - before, cache.metrics().hitRate]
rows.push({ scenario: '3 delete during a slow load', requests: 2, queries: q, hitRate, latencies: [slowMs, nextMs] })
console.log(`     the slow load answered its own caller with "${old.name}" (it read before the update)`)
console.log(
  `     then the cache held: ${writtenBack ? 'the STALE value' : 'nothing (the stale value was not written back)'}`,
)
console.log(`     next read: "${next.name}"`)

console.log("4/6  invalidatePattern('room:*'), then 50 reads...")
const removed = await cache.invalidatePattern('room:*')
console.log(`     removed ${removed} entries${adapter ? ' (found with SCAN, never KEYS)' : ''}`)
await measure('4 reads after invalidatePattern', [times(50, (i) => roomRead(i + 1))])

console.log("5/6  every room renamed in the database, then invalidateTags(['rooms']), then 51 reads...")
for (const [id, room] of rooms) rooms.set(id, { ...room, name: room.name.replace('Room', 'Hall') })
await cache.invalidateTags(['rooms']) // one write, however many entries carry the tag
await measure('5 reads after invalidateTags', [[...times(50, (i) => roomRead(i + 1)), allRoomsRead]])
const served = [...(await Promise.all(times(50, (i) => roomRead(i + 1)()))), ...(await allRoomsRead())]
const oldNames = served.filter((room) => room.name.startsWith('Room')).length
console.log(`     all 51 entries tagged 'rooms' were reloaded; old names served afterwards: ${oldNames}`)

console.log("6/6  stale-while-revalidate (ttl 100ms, staleWhileRevalidate '1m'): 200 reads just after expiry...")
const swr = { ttl: 100, staleWhileRevalidate: '1m' } as const
const popular = () => cache.getOrSet('rooms:popular', db.popular, swr)
await popular()
await sleep(150)
const seen = new Set<number>()
await measure('6 stale-while-revalidate', [times(200, () => async () => seen.add((await popular()).version))])
await sleep(DB_MS + 30)
console.log(
  `     the 200 reads got version ${[...seen].join(', ')} at once; after the one refresh: ${(await popular()).version}`,
)

const pct = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return (sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0).toFixed(2)
}
const header = [
  'scenario',
  'requests',
  'db queries (no cache)',
  'db queries (cacheward)',
  'hit rate',
  'p50 ms',
  'p99 ms',
]
const table = rows.map((r) => [
  r.scenario,
  String(r.requests),
  String(r.requests),
  String(r.queries),
  `${Math.round(r.hitRate * 100)}%`,
  pct(r.latencies, 50),
  pct(r.latencies, 99),
])
const widths = header.map((h, c) => Math.max(h.length, ...table.map((row) => (row[c] as string).length)))
const line = (cells: string[]) =>
  cells.map((cell, c) => (c === 0 ? cell.padEnd : cell.padStart).call(cell, widths[c] ?? 0))
console.log(`\n${line(header).join('  ')}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`)
for (const row of table) console.log(line(row).join('  '))
console.log('\nhit rate: callers that waited for another caller’s load count as misses (they waited for the db).')

await cache.clear()
await cache.close()
await quit()
