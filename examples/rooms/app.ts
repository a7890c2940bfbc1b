/**
 * rooms: a room directory with a cache-first read path, tag invalidation on writes, a server-rendered
 * page that embeds its initial data, cache warming at start-up, a reconciliation job and TTLs that
 * follow the environment.
 */
import { type CacheClient, type CacheClientOptions, createCacheClient } from 'cacheward'
import { Hono } from 'hono'
import * as z from 'zod'
import { type Backend, openBackend } from '../shared/backend.js'
import { type Database, openDatabase } from '../shared/db.js'
import { ApiError, body, Id, installErrorHandlers, limitBodies, param } from '../shared/http.js'
import { renderPage } from './page.js'

export const Room = z.object({
  id: z.number().int(),
  name: z.string(),
  capacity: z.number().int(),
  floor: z.number().int(),
})
export type Room = z.infer<typeof Room>
const RoomList = z.array(Room)

/** The body of POST /rooms. */
const NewRoom = z.strictObject({
  name: z.string().trim().min(1).max(100),
  capacity: z.number().int().min(1).max(10_000),
  floor: z.number().int().min(-10).max(200).default(0),
})

export type Environment = 'development' | 'test' | 'production'

/** A pino-compatible logger (pino itself fits); the default is silent. */
export interface Logger {
  info(details: object, message?: string): void
  warn(details: object, message?: string): void
}

export interface AppOptions {
  db?: Database
  backend?: Backend
  /** Merged into createCacheClient(...) last. */
  cacheOptions?: Partial<CacheClientOptions>
  /** development: TTLs ×0.1; test: caching off; production: full TTLs. Default: from NODE_ENV. */
  env?: Environment
  /** How often the reconciliation job runs (ms); 0 turns the timer off. Default 5 minutes. */
  reconcileEveryMs?: number
  logger?: Logger
}

export interface SyncReport {
  lastSyncAt: string | null
  /** Cache entries compared with the database in the last run. */
  checked: number
  /** Entries that disagreed with the database and were replaced. */
  fixed: number
  /** The keys that were fixed in the last run. */
  fixedKeys: string[]
}

export interface ExampleApp {
  app: Hono
  db: Database
  cache: CacheClient
  /** Compares the cached rooms with the database now and fixes what differs. */
  reconcile(): Promise<SyncReport>
  /** What the environment resolved to. */
  settings: { env: Environment; cacheEnabled: boolean; ttlMs: { list: number; room: number } }
  close(): Promise<void>
}

const TTL_MS = { list: 5 * 60_000, room: 10 * 60_000 }
const TTL_SCALE: Record<Environment, number> = { development: 0.1, test: 1, production: 1 }

/** Carried by every entry that lists rooms; POST /rooms invalidates it, whatever the keys that carry it. */
const LIST_TAG = 'rooms:list'

const SCHEMA = `
CREATE TABLE IF NOT EXISTS rooms_rooms (
  id SERIAL PRIMARY KEY,
  name TEXT NOT NULL,
  capacity INTEGER NOT NULL,
  floor INTEGER NOT NULL DEFAULT 0
);`
const SEED = [
  ['Atrium', 40, 0],
  ['Blue room', 8, 1],
  ['Green room', 6, 1],
  ['Library', 12, 2],
  ['Boardroom', 16, 3],
] as const

export function environmentFrom(nodeEnv: string | undefined): Environment {
  return nodeEnv === 'production' || nodeEnv === 'test' ? nodeEnv : 'development'
}

const toRoom = (row: Record<string, unknown>): Room => ({
  id: Number(row.id),
  name: String(row.name),
  capacity: Number(row.capacity),
  floor: Number(row.floor),
})

export async function createApp(options: AppOptions = {}): Promise<ExampleApp> {
  const db = options.db ?? (await openDatabase())
  const backend = options.backend ?? (await openBackend())
  const log: Logger = options.logger ?? { info() {}, warn() {} }
  const env = options.env ?? environmentFrom(process.env.NODE_ENV)
  const scale = TTL_SCALE[env]
  const ttlMs = { list: Math.round(TTL_MS.list * scale), room: Math.round(TTL_MS.room * scale) }
  const enabled = options.cacheOptions?.enabled ?? env !== 'test'

  await db.exec(SCHEMA)
  const [{ count } = { count: 0 }] = await db.query<{ count: number }>('SELECT count(*)::int AS count FROM rooms_rooms')
  if (count === 0) {
    for (const [name, capacity, floor] of SEED) {
      await db.query('INSERT INTO rooms_rooms (name, capacity, floor) VALUES ($1, $2, $3)', [name, capacity, floor])
    }
  }

  // These lines replace a hand-written RoomCacheService (getOrSet, delPattern, a metrics counter).
  const cache = createCacheClient({
    namespace: 'rooms',
    ...backend.cacheOptions,
    enabled, // off under test by default, without touching any route
    ...options.cacheOptions,
  })
  const loadAll = async () =>
    (await db.query('SELECT id, name, capacity, floor FROM rooms_rooms ORDER BY id')).map(toRoom)
  const loadOne = async (id: number) =>
    (await db.query('SELECT id, name, capacity, floor FROM rooms_rooms WHERE id = $1', [id])).map(toRoom)[0] ?? null

  // Each kind of entry is defined once (key, loader, tags, TTL, schema, metrics category); routes, warming
  // and reconciliation go through these definitions and never spell a key by hand.
  const list = cache.define({
    key: () => 'rooms:all',
    load: () => loadAll(),
    ttl: ttlMs.list,
    tags: [LIST_TAG],
    schema: RoomList,
    category: 'rooms:list',
  })
  const room = cache.define({
    key: (id: number) => `room:${id}`,
    load: async ([id], ctx) => {
      const found = await loadOne(id)
      if (!found) ctx.skipCache() // an unknown id is not remembered: POST may create it next
      return found
    },
    ttl: ttlMs.room,
    tags: (id) => [`room:${id}`],
    schema: Room.nullable(),
    category: 'room',
  })

  // Warming: one query fills the list, and every room from it, before the first request is served. A room
  // that cannot be stored (the backend is down) is only logged: it loads on its first request instead.
  if (enabled) {
    const rooms = await list.get()
    const stored = await Promise.allSettled(rooms.map((r) => room.set([r.id], r)))
    const failed = stored.filter((s) => s.status === 'rejected').length
    if (failed > 0) log.warn({ failed, of: rooms.length }, 'rooms cache warming stored only part of the rooms')
  }

  let sync: SyncReport = { lastSyncAt: null, checked: 0, fixed: 0, fixedKeys: [] }
  async function reconcile(): Promise<SyncReport> {
    const truth = await loadAll()
    const byId = new Map(truth.map((r) => [r.id, r]))
    // What differs, and how to refresh it: delete, then reload through the definition (getOrSet), so a
    // request racing with this job can never write the old value back.
    const fixes: Array<{ key: string; refresh: () => Promise<void> }> = []
    let checked = 0
    // The job's own reads are counted under 'reconcile', so they do not inflate the routes' hit rates.
    const cachedList = await cache.get(list.key(), { schema: RoomList, category: 'reconcile' })
    if (cachedList !== undefined) {
      checked++
      if (JSON.stringify(cachedList) !== JSON.stringify(truth)) {
        fixes.push({
          key: list.key(),
          refresh: async () => {
            await list.invalidate()
            await list.get()
          },
        })
      }
    }
    // Every room the database or the cached list knows of; a room deleted in the database shows up here.
    const ids = new Set([...byId.keys(), ...(cachedList ?? []).map((r) => r.id)])
    for (const id of ids) {
      const cached = await cache.get(room.key(id), { schema: Room, category: 'reconcile' })
      if (cached === undefined) continue
      checked++
      if (JSON.stringify(cached) !== JSON.stringify(byId.get(id) ?? null)) {
        fixes.push({
          key: room.key(id),
          refresh: async () => {
            await room.invalidate(id)
            if (byId.has(id)) await room.get(id) // a room gone from the database stays out
          },
        })
      }
    }
    for (const { refresh } of fixes) await refresh()
    const fixedKeys = fixes.map((f) => f.key)
    sync = { lastSyncAt: new Date().toISOString(), checked, fixed: fixedKeys.length, fixedKeys }
    if (fixedKeys.length > 0) log.warn({ checked, fixed: fixedKeys.length, keys: fixedKeys }, 'rooms cache reconciled')
    else log.info({ checked, fixed: 0 }, 'rooms cache matches the database')
    return sync
  }
  const every = options.reconcileEveryMs ?? 5 * 60_000
  const timer =
    every > 0 && enabled
      ? setInterval(() => {
          reconcile().catch((error: unknown) =>
            log.warn({ error: error instanceof Error ? error.message : String(error) }, 'rooms reconciliation failed'),
          )
        }, every)
      : undefined
  timer?.unref()

  const app = new Hono()
  installErrorHandlers(app, (error) =>
    log.warn({ error: error instanceof Error ? error.message : String(error) }, 'request failed'),
  )
  limitBodies(app) // before the routes: an oversized body is refused before anything parses it

  app.get('/', async (c) => c.html(renderPage(await list.get())))
  app.get('/rooms', async (c) => c.json(await list.get()))
  app.get('/rooms/:id', async (c) => {
    const id = param(c, 'id', Id)
    const found = await room.get(id)
    if (!found) throw new ApiError(404, 'not_found', `no room ${id}`)
    return c.json(found)
  })
  app.post('/rooms', async (c) => {
    const { name, capacity, floor } = await body(c, NewRoom)
    const [row] = await db.query(
      'INSERT INTO rooms_rooms (name, capacity, floor) VALUES ($1, $2, $3) RETURNING id, name, capacity, floor',
      [name, capacity, floor],
    )
    // The database first, then the cache: the list changed; no single room entry did.
    await cache.invalidateTags([LIST_TAG])
    return c.json(toRoom(row as Record<string, unknown>), 201)
  })
  app.get('/admin/sync', (c) => {
    const { lastSyncAt, checked, fixed } = sync
    return c.json({ lastSyncAt, checked, fixed })
  })
  app.get('/admin/metrics', (c) => c.json(cache.metrics()))

  return {
    app,
    db,
    cache,
    reconcile,
    settings: { env, cacheEnabled: enabled, ttlMs },
    async close() {
      if (timer) clearInterval(timer)
      await cache.close()
      if (!options.backend) await backend.close()
      if (!options.db) await db.close()
    },
  }
}
