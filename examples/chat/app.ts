/**
 * chat: a two-person messaging app with cacheward in front of its database, and the Redis data
 * structures (presence, unread counters, deleted sets, latest messages) next to it.
 *
 * - stats are cached for seconds, search results per normalised query under a hashed (bounded) key;
 * - session lists are cached per page as ids, invalidated by pattern when a message or a delete changes them, and
 *   the sessions of a page are read in one batch over the per-session entries (one round trip, one query for the
 *   ones not cached);
 * - credits are cached per user and deleted from the cache when a message spends one.
 */
import { createHash } from 'node:crypto'
import { type CacheClient, type CacheClientOptions, createCacheClient } from 'cacheward'
import { Hono } from 'hono'
import * as z from 'zod'
import { type Backend, openBackend } from '../shared/backend.js'
import { type Database, openDatabase } from '../shared/db.js'
import {
  ApiError,
  body,
  Id,
  installErrorHandlers,
  JsonId,
  limitBodies,
  metricsRoute,
  Page,
  param,
  query,
} from '../shared/http.js'
import { type SessionPage, type SessionSummary, setUpSchema, store } from './store.js'
import {
  type ChatStructures,
  ioredisStructures,
  type LatestMessage,
  memoryStructures,
  upstashStructures,
} from './structures.js'

export interface AppOptions {
  /** The database; when absent, one is opened (PGlite, or DATABASE_URL) and closed by `close()`. */
  db?: Database
  /** The cache backend; when absent, chosen from the environment and closed by `close()`. */
  backend?: Backend
  /** Merged last into `createCacheClient()`, e.g. `{ enabled: false }` or a test namespace. */
  cacheOptions?: Partial<CacheClientOptions>
  /** Key prefix of the data structures (presence, unread, …), outside the cache namespace. @default 'chat-live' */
  structuresPrefix?: string
  /** How long a heartbeat keeps a user online. @default 30 */
  presenceTtlSeconds?: number
}

export interface ExampleApp {
  app: Hono
  db: Database
  cache: CacheClient
  /** The cache entry definitions: what each kind of entry is keyed by, loaded from and cached for. */
  entries: ChatEntries
  structures: ChatStructures
  close(): Promise<void>
}

/**
 * Every kind of cache entry the app keeps, each defined once: key, loader, TTL and metrics category.
 * Routes read through these and invalidate through them (`invalidate`, `invalidateAll`), so a key is never
 * spelled twice and an invalidation glob cannot drift from the keys that were written.
 */
function defineEntries(cache: CacheClient, db: Database) {
  return {
    stats: cache.define({ key: () => 'stats', load: () => store.stats(db), ttl: '10s', category: 'stats' }),
    users: cache.define({ key: () => 'users', load: () => store.users(db), ttl: '10m', category: 'users' }),
    credits: cache.define({
      key: (userId: number) => `user:${userId}:credits`,
      load: async ([userId]) => (await store.credits(db, userId)) ?? 0,
      ttl: '5m',
      category: 'credits',
    }),
    /**
     * A live session with its message count and last activity; a message in it or its deletion invalidates the
     * entry. Session lists read many at once (`getMany`): `loadMany` fetches every missing one in one query.
     */
    session: cache.define({
      key: (sessionId: number) => `session:${sessionId}`,
      load: async ([sessionId], ctx): Promise<SessionSummary | null> => {
        const found = await store.session(db, sessionId)
        if (!found) ctx.skipCache()
        return found ?? null
      },
      loadMany: async (argsList) => {
        const ids = argsList.map(([id]) => id)
        const found = new Map((await store.sessions(db, ids)).map((s) => [s.id, s]))
        return argsList.map(([id]) => found.get(id)) // undefined: unknown or deleted, and not stored
      },
      ttl: '10m',
      category: 'sessions',
    }),
    /**
     * The session ids of one page of a user's list, in order; `invalidateAll(userId)` removes every page of that
     * user (the id escaped).
     */
    sessionPage: cache.define({
      key: (userId: number, page: number) => `sessions:user:${userId}:page:${page}`,
      load: ([userId, page]) => store.sessionPage(db, userId, page),
      ttl: '5m',
      category: 'sessions',
    }),
    /**
     * Search results per normalised query. Long or odd queries still make a short key: the text is hashed
     * (so this definition has no `pattern()`; nothing invalidates it, it expires).
     */
    search: cache.define({
      key: (normalised: string) => `search:${createHash('sha256').update(normalised).digest('base64url')}`,
      load: ([normalised]) => store.search(db, normalised),
      ttl: '1m', // no invalidation: a new message shows up in search within a minute
      category: 'search',
    }),
  }
}

/** The app's cache entry definitions (see {@link defineEntries}). */
export type ChatEntries = ReturnType<typeof defineEntries>

/** Same text, same key: Unicode-normalised, lower-cased, whitespace collapsed. */
export function normaliseQuery(q: string): string {
  return q.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim()
}

const LATEST = 100
const SearchQuery = z.object({
  q: z
    .string()
    .transform(normaliseQuery)
    .pipe(z.string().min(2, 'at least 2 characters').max(200, 'at most 200 characters')),
})
const PageQuery = z.object({ page: Page })
const UserQuery = z.object({ userId: Id })
const Heartbeat = z.object({ userId: JsonId })
const NewMessage = z.object({ userId: JsonId, text: z.string().trim().min(1).max(2000) })

/** The data structures on the same server as the cache (or in-process with the memory backend). */
export function structuresFor(backend: Backend, prefix: string): ChatStructures {
  if (backend.redis) return ioredisStructures(backend.redis, { prefix, keep: LATEST })
  if (backend.upstash) return upstashStructures(backend.upstash, { prefix, keep: LATEST })
  return memoryStructures({ keep: LATEST })
}

export async function createApp(options: AppOptions = {}): Promise<ExampleApp> {
  const db = options.db ?? (await openDatabase())
  const backend = options.backend ?? (await openBackend())
  await setUpSchema(db)
  const structures = structuresFor(backend, options.structuresPrefix ?? 'chat-live')
  const presenceTtl = options.presenceTtlSeconds ?? 30
  const cache = createCacheClient({
    namespace: 'chat',
    ...backend.cacheOptions,
    ...options.cacheOptions,
  })

  const entries = defineEntries(cache, db)
  const { stats, users, credits, session, sessionPage, search } = entries

  /** Unknown users get a 404 from the cached user list, before any per-user key is read or written. */
  async function knownUser(userId: number): Promise<void> {
    if (!(await users.get()).some((u) => u.id === userId)) throw new ApiError(404, 'not_found', `no user ${userId}`)
  }

  /** A live session the user takes part in (cached; deleting the session deletes the entry). */
  async function sessionFor(sessionId: number, userId: number): Promise<SessionSummary> {
    const found = await session.get(sessionId)
    if (!found || (found.ownerId !== userId && found.peerId !== userId)) {
      throw new ApiError(404, 'not_found', `no session ${sessionId} for user ${userId}`)
    }
    return found
  }

  /** The latest messages from the sorted set, filled from the database when it is empty (first use, or lost). */
  async function hydrate(sessionId: number): Promise<void> {
    if ((await structures.size(sessionId)) > 0) return
    await structures.pushMessages(sessionId, (await store.latestMessages(db, sessionId, LATEST)).map(toLatest))
  }

  const app = new Hono()
  installErrorHandlers(app)
  limitBodies(app) // before the routes: an oversized body is refused before anything parses it

  app.get('/stats', async (c) => c.json(await stats.get()))

  app.get('/search', async (c) => {
    const { q } = query(c, SearchQuery)
    const hits = await search.get(q)
    return c.json({ q, hits })
  })

  app.get('/users/:id/sessions', async (c) => {
    const userId = param(c, 'id', Id)
    const { page } = query(c, PageQuery)
    await knownUser(userId)
    const { ids, ...paging } = await sessionPage.get(userId, page)
    // Every session of the page in one batch: one round trip, and one query for the sessions not cached.
    const sessions = await session.getMany(ids.map((id): [number] => [id]))
    // A session deleted after its page was read (the delete invalidates both) is answered undefined: left out.
    const items = sessions.filter((s): s is SessionSummary => s != null)
    return c.json({ items, ...paging } satisfies SessionPage)
  })

  app.get('/users/:id/credits', async (c) => {
    const userId = param(c, 'id', Id)
    await knownUser(userId)
    const left = await credits.get(userId)
    return c.json({ userId, credits: left })
  })

  app.post('/sessions/:id/messages', async (c) => {
    const sessionId = param(c, 'id', Id)
    const { userId, text } = await body(c, NewMessage)
    // The deleted set answers without the database; the statement below checks again, so a lost set is harmless.
    if (await structures.isDeleted(userId, sessionId))
      throw new ApiError(410, 'gone', `session ${sessionId} was deleted`)
    const sent = await store.send(db, sessionId, userId, text)
    if (!sent.ok && sent.reason === 'no_session') {
      throw new ApiError(404, 'not_found', `no session ${sessionId} for user ${userId}`)
    }
    if (!sent.ok) throw new ApiError(402, 'no_credits', `user ${userId} has no credits left`)
    const message = toLatest(sent.message)
    await Promise.all([
      credits.invalidate(userId),
      session.invalidate(sessionId), // its message count and last activity changed
      // The session moved to the top of both participants' lists: every cached page of both is outdated.
      sessionPage.invalidateAll(userId),
      sessionPage.invalidateAll(sent.peerId),
      hydrate(sessionId).then(() => structures.pushMessages(sessionId, [message])),
      structures.addUnread(sent.peerId, sessionId),
    ])
    return c.json({ message, credits: sent.credits }, 201)
  })

  app.get('/sessions/:id/messages/latest', async (c) => {
    const sessionId = param(c, 'id', Id)
    const { userId } = query(c, UserQuery)
    await sessionFor(sessionId, userId)
    await hydrate(sessionId)
    const [messages] = await Promise.all([structures.latest(sessionId), structures.markRead(userId, sessionId)])
    return c.json({ sessionId, messages })
  })

  app.delete('/sessions/:id', async (c) => {
    const sessionId = param(c, 'id', Id)
    const { userId } = query(c, UserQuery)
    const deleted = await store.deleteSession(db, sessionId, userId)
    if (!deleted) throw new ApiError(404, 'not_found', `no session ${sessionId} for user ${userId}`)
    await Promise.all([
      session.invalidate(sessionId),
      sessionPage.invalidateAll(deleted.ownerId),
      sessionPage.invalidateAll(deleted.peerId),
      structures.markDeleted(deleted.ownerId, sessionId),
      structures.markDeleted(deleted.peerId, sessionId),
      structures.markRead(deleted.ownerId, sessionId),
      structures.markRead(deleted.peerId, sessionId),
    ])
    return c.json({ deleted: sessionId })
  })

  app.get('/users/:id/deleted', async (c) => {
    const userId = param(c, 'id', Id)
    await knownUser(userId)
    return c.json({ userId, sessions: await structures.deleted(userId) })
  })

  app.get('/users/:id/unread', async (c) => {
    const userId = param(c, 'id', Id)
    await knownUser(userId)
    const sessions = await structures.unread(userId)
    const total = Object.values(sessions).reduce((sum, n) => sum + n, 0)
    return c.json({ userId, total, sessions })
  })

  app.post('/presence/heartbeat', async (c) => {
    const { userId } = await body(c, Heartbeat)
    await knownUser(userId)
    await structures.heartbeat(userId, presenceTtl)
    return c.json({ userId, onlineForSeconds: presenceTtl })
  })

  app.get('/presence', async (c) => {
    const all = await users.get()
    const online = new Set(await structures.online(all.map((u) => u.id)))
    return c.json({ online: all.filter((u) => online.has(u.id)) })
  })

  metricsRoute(app, cache, db, backend.kind)

  return {
    app,
    db,
    cache,
    entries,
    structures,
    async close() {
      await cache.close()
      if (!options.backend) await backend.close()
      if (!options.db) await db.close()
    },
  }
}

/** A fixed key order, so the same message always makes the same sorted-set member. */
function toLatest(m: LatestMessage): LatestMessage {
  return { id: m.id, sessionId: m.sessionId, userId: m.userId, text: m.text, createdAt: m.createdAt }
}
