/**
 * builds: a game-builds listing site with cacheward in front of its database.
 *
 * - listings and details are served stale-while-revalidate, and a cold listing is loaded once
 *   however many requests arrive together (single-flight in the process, a lock across processes);
 * - class data is cached for an hour;
 * - a like or a new build invalidates exactly the entries it changes, by tag.
 */
import {
  type CacheClient,
  type CacheClientOptions,
  createCacheClient,
  type Duration,
  type LoaderContext,
} from 'cacheward'
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
import { type Build, type BuildSummary, setUpSchema, store, type User } from './store.js'

/** What a user's list entry holds. */
interface UserList {
  user: User
  builds: BuildSummary[]
}

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

/**
 * The tags the entries carry, built in one place: the definitions in createApp tag with them and the write
 * routes invalidate with them, so the two cannot drift apart.
 */
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
    ...backend.cacheOptions,
    ...options.cacheOptions,
  })

  // Each kind of entry is defined once: key, loader, freshness, tags and metrics category. Routes call
  // these and never spell a key.
  const classes = cache.define({
    key: () => 'classes',
    load: () => store.classes(db),
    ...policies.classes,
    category: 'classes',
  })
  /** Listing pages: every class together, and one class. All carry the listings tag: a new build shifts them all. */
  const listing = cache.define({
    key: (page: number) => `builds:list:all:page:${page}`,
    load: ([page]) => store.listBuilds(db, undefined, page),
    ...policies.listings,
    tags: [tags.listings],
    category: 'listings',
  })
  const classListing = cache.define({
    key: (classSlug: string, page: number) => `builds:list:class:${classSlug}:page:${page}`,
    load: ([classSlug, page]) => store.listBuilds(db, classSlug, page),
    ...policies.listings,
    tags: [tags.listings],
    category: 'listings',
  })
  const build = cache.define({
    key: (id: number) => `build:${id}`,
    load: async ([id], ctx): Promise<Build | null> => {
      const found = await store.build(db, id)
      if (!found) ctx.skipCache() // an id that does not exist yet must not be remembered as missing
      return found ?? null
    },
    ...policies.details,
    tags: (id) => [tags.build(id)],
    category: 'details',
  })
  /** A user and a list of builds (theirs, or the ones they liked); null, and not cached, for an unknown user. */
  const userList =
    (list: (db: Database, userId: number) => Promise<BuildSummary[]>) =>
    async ([userId]: [number], ctx: LoaderContext<UserList | null>): Promise<UserList | null> => {
      const user = await store.user(db, userId)
      if (!user) {
        ctx.skipCache()
        return null
      }
      return { user, builds: await list(db, userId) }
    }
  const userBuilds = cache.define({
    key: (userId: number) => `user:${userId}:builds`,
    load: userList(store.buildsBy),
    ...policies.users,
    tags: (userId) => [tags.userBuilds(userId)],
    category: 'users',
  })
  const userLikes = cache.define({
    key: (userId: number) => `user:${userId}:likes`,
    load: userList(store.likedBy),
    ...policies.users,
    tags: (userId) => [tags.userLikes(userId)],
    category: 'users',
  })

  /** Checks a class slug against the (cached) class list, so unknown slugs never become cache keys. */
  async function knownClass(slug: string): Promise<void> {
    if (!(await classes.get()).some((c) => c.slug === slug)) {
      throw new ApiError(400, 'unknown_class', `no class "${slug}"; GET /classes lists them`)
    }
  }

  const app = new Hono()
  installErrorHandlers(app)
  limitBodies(app) // before the routes: an oversized body is refused before anything parses it

  app.get('/classes', async (c) => c.json(await classes.get()))

  app.get('/builds', async (c) => {
    const { class: classSlug, page } = query(c, ListingQuery)
    if (classSlug) await knownClass(classSlug)
    const builds = classSlug ? await classListing.get(classSlug, page) : await listing.get(page)
    return c.json(builds)
  })

  app.get('/builds/:id', async (c) => {
    const id = param(c, 'id', Id)
    const found = await build.get(id)
    if (!found) throw new ApiError(404, 'not_found', `no build ${id}`)
    return c.json(found)
  })

  /** A user's list, or a 404 for an unknown user. */
  async function userListOr404(definition: typeof userBuilds, userId: number): Promise<UserList> {
    const list = await definition.get(userId)
    if (!list) throw new ApiError(404, 'not_found', `no user ${userId}`)
    return list
  }

  app.get('/users/:id/builds', async (c) => c.json(await userListOr404(userBuilds, param(c, 'id', Id))))
  app.get('/users/:id/likes', async (c) => c.json(await userListOr404(userLikes, param(c, 'id', Id))))

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
    const created = await store.createBuild(db, { ...input, classSlug: input.class })
    if (!created) throw new ApiError(400, 'unknown_author', `no user ${input.authorId}`)
    // Every listing page (a new build shifts them all) and the author's own list.
    await cache.invalidateTags([tags.listings, tags.userBuilds(input.authorId)])
    return c.json(created, 201)
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
