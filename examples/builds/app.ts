/**
 * builds: a game-builds listing site with cacheward in front of its database.
 *
 * - listings and details are served stale-while-revalidate, and a cold listing is loaded once
 *   however many requests arrive together (single-flight in the process, a lock across processes);
 * - class data is cached for an hour;
 * - a like or a new build invalidates exactly the entries it changes, by tag.
 */
import { type CacheClient, type CacheClientOptions, createCacheClient, type Duration } from 'cacheward'
import { Hono } from 'hono'
import * as z from 'zod'
import { type Backend, openBackend } from '../shared/backend.js'
import { type Database, openDatabase } from '../shared/db.js'
import { ApiError, body, Id, installErrorHandlers, JsonId, metricsRoute, Page, param, query } from '../shared/http.js'
import { type Build, type BuildSummary, type GameClass, setUpSchema, store, type User } from './store.js'

export interface Freshness {
  ttl: Duration
  staleWhileRevalidate?: Duration
}

/** How long each kind of entry stays fresh, and how long after that it may be served stale. */
export interface Policies {
  classes: Freshness
  listings: Freshness
  details: Freshness
  users: Freshness
}

export const DEFAULT_POLICIES: Policies = {
  classes: { ttl: '1h', staleWhileRevalidate: '1d' }, // changes with a game patch, not with users
  listings: { ttl: '30s', staleWhileRevalidate: '5m' }, // like counts may lag by about ttl
  details: { ttl: '2m', staleWhileRevalidate: '10m' }, // a like invalidates the build's tag at once
  users: { ttl: '5m' }, // invalidated by tag on every change, so the ttl is only a safety net
}

export interface AppOptions {
  /** The database; when absent, one is opened (PGlite, or DATABASE_URL) and closed by `close()`. */
  db?: Database
  /** The cache backend; when absent, chosen from the environment and closed by `close()`. */
  backend?: Backend
  /** Merged last into `createCacheClient()`, e.g. `{ enabled: false }` or a test namespace. */
  cacheOptions?: Partial<CacheClientOptions>
  /** Per-kind freshness, e.g. a short `details.ttl` to watch stale-while-revalidate happen. */
  policies?: Partial<Policies>
}

export interface ExampleApp {
  app: Hono
  db: Database
  cache: CacheClient
  close(): Promise<void>
}

/** Every key and tag the app uses, built in one place so writes and invalidations cannot drift apart. */
export const keys = {
  classes: () => 'classes',
  listing: (classSlug: string | undefined, page: number) =>
    classSlug ? `builds:list:class:${classSlug}:page:${page}` : `builds:list:all:page:${page}`,
  build: (id: number) => `build:${id}`,
  userBuilds: (userId: number) => `user:${userId}:builds`,
  userLikes: (userId: number) => `user:${userId}:likes`,
}
export const tags = {
  listings: 'builds:list',
  build: (id: number) => `build:${id}`,
  userBuilds: (userId: number) => `user:${userId}:builds`,
  userLikes: (userId: number) => `user:${userId}:likes`,
}

const ListingQuery = z.object({
  class: z
    .string()
    .regex(/^[a-z][a-z-]{0,31}$/, 'expected a class slug such as "mage"')
    .optional(),
  page: Page,
})
const LikeBody = z.object({ userId: JsonId })
const NewBuild = z.object({
  title: z.string().trim().min(3).max(80),
  description: z.string().max(2000).default(''),
  class: z.string().regex(/^[a-z][a-z-]{0,31}$/, 'expected a class slug such as "mage"'),
  authorId: JsonId,
})

export async function createApp(options: AppOptions = {}): Promise<ExampleApp> {
  const db = options.db ?? (await openDatabase())
  const backend = options.backend ?? (await openBackend())
  await setUpSchema(db)
  const policies = { ...DEFAULT_POLICIES, ...options.policies }
  const cache = createCacheClient({
    namespace: 'builds',
    ...(backend.adapter ? { adapter: backend.adapter } : {}),
    ...options.cacheOptions,
  })

  const classes = () =>
    cache.getOrSet<GameClass[]>(keys.classes(), () => store.classes(db), { ...policies.classes, category: 'classes' })

  /** Checks a class slug against the (cached) class list, so unknown slugs never become cache keys. */
  async function knownClass(slug: string): Promise<void> {
    if (!(await classes()).some((c) => c.slug === slug)) {
      throw new ApiError(400, 'unknown_class', `no class "${slug}"; GET /classes lists them`)
    }
  }

  const app = new Hono()
  installErrorHandlers(app)

  app.get('/classes', async (c) => c.json(await classes()))

  app.get('/builds', async (c) => {
    const { class: classSlug, page } = query(c, ListingQuery)
    if (classSlug) await knownClass(classSlug)
    const listing = await cache.getOrSet(keys.listing(classSlug, page), () => store.listBuilds(db, classSlug, page), {
      ...policies.listings,
      tags: [tags.listings],
      category: 'listings',
    })
    return c.json(listing)
  })

  app.get('/builds/:id', async (c) => {
    const id = param(c, 'id', Id)
    const build = await cache.getOrSet<Build | null>(
      keys.build(id),
      async (ctx) => {
        const found = await store.build(db, id)
        if (!found) ctx.skipCache() // an id that does not exist yet must not be remembered as missing
        return found ?? null
      },
      { ...policies.details, tags: [tags.build(id)], category: 'details' },
    )
    if (!build) throw new ApiError(404, 'not_found', `no build ${id}`)
    return c.json(build)
  })

  /** A user's list (their builds, or the builds they liked), tagged so one write invalidates it. */
  async function userList(userId: number, kind: 'builds' | 'likes') {
    const key = kind === 'builds' ? keys.userBuilds(userId) : keys.userLikes(userId)
    const tag = kind === 'builds' ? tags.userBuilds(userId) : tags.userLikes(userId)
    const list = await cache.getOrSet<{ user: User; builds: BuildSummary[] } | null>(
      key,
      async (ctx) => {
        const user = await store.user(db, userId)
        if (!user) {
          ctx.skipCache()
          return null
        }
        const builds = kind === 'builds' ? await store.buildsBy(db, userId) : await store.likedBy(db, userId)
        return { user, builds }
      },
      { ...policies.users, tags: [tag], category: 'users' },
    )
    if (!list) throw new ApiError(404, 'not_found', `no user ${userId}`)
    return list
  }

  app.get('/users/:id/builds', async (c) => c.json(await userList(param(c, 'id', Id), 'builds')))
  app.get('/users/:id/likes', async (c) => c.json(await userList(param(c, 'id', Id), 'likes')))

  app.post('/builds/:id/like', async (c) => {
    const id = param(c, 'id', Id)
    const { userId } = await body(c, LikeBody)
    const result = await store.like(db, id, userId)
    if (!result) throw new ApiError(404, 'not_found', `no build ${id} or no user ${userId}`)
    // Only a new like changes anything: the build's detail (its count) and the user's liked list.
    if (result.liked) await cache.invalidateTags([tags.build(id), tags.userLikes(userId)])
    return c.json(result)
  })

  app.post('/builds', async (c) => {
    const input = await body(c, NewBuild)
    await knownClass(input.class)
    const build = await store.createBuild(db, { ...input, classSlug: input.class })
    if (!build) throw new ApiError(400, 'unknown_author', `no user ${input.authorId}`)
    // Every listing page (a new build shifts them all) and the author's own list.
    await cache.invalidateTags([tags.listings, tags.userBuilds(input.authorId)])
    return c.json(build, 201)
  })

  metricsRoute(app, cache, db, backend.kind)

  return {
    app,
    db,
    cache,
    async close() {
      await cache.close()
      if (!options.backend) await backend.close()
      if (!options.db) await db.close()
    },
  }
}
