/**
 * builds: a game-builds listing site with cacheward in front of its database.
 *
 * - listings and details are served stale-while-revalidate, and a cold listing is loaded once
 *   however many requests arrive together (single-flight in the process, a lock across processes);
 * - a listing page is cached as build ids, and its builds are read in one batch over the per-build entries (one
 *   round trip, one query for the builds not cached);
 * - class data is cached for an hour;
 * - a like or a new build invalidates exactly the entries it changes: the build's entry, and the lists by tag.
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
import { type Build, type BuildPage, type BuildSummary, setUpSchema, store, type User } from './store.js'

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
  listings: { ttl: '30s', staleWhileRevalidate: '5m' }, // ids only: a new build invalidates them by tag
  details: { ttl: '2m', staleWhileRevalidate: '10m' }, // a like invalidates the build's entry at once
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

/** What a listing shows of a build: its summary, without the description and the author's name. */
function summary({ id, title, classSlug, authorId, likes, createdAt }: Build): BuildSummary {
  return { id, title, classSlug, authorId, likes, createdAt }
}

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
  /**
   * Listing pages as build ids: every class together, and one class. All carry the listings tag: a new build shifts
   * them all.
   */
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
  /**
   * One build, for its page and for the listings, which read many at once (`getMany`): `loadMany` fetches every
   * missing one in one query. No per-build tag: entries with different tags are batched apart, so a like deletes the
   * entry (`invalidate`) instead.
   */
  const build = cache.define({
    key: (id: number) => `build:${id}`,
    load: async ([id], ctx): Promise<Build | null> => {
      const found = await store.build(db, id)
      if (!found) ctx.skipCache() // an id that does not exist yet must not be remembered as missing
      return found ?? null
    },
    loadMany: async (argsList) => {
      const ids = argsList.map(([id]) => id)
      const found = new Map((await store.builds(db, ids)).map((b) => [b.id, b]))
      return argsList.map(([id]) => found.get(id)) // undefined: unknown, and not stored
    },
    ...policies.details,
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
    const { ids, ...paging } = classSlug ? await classListing.get(classSlug, page) : await listing.get(page)
    // Every build of the page in one batch: one round trip, and one query for the builds not cached.
    const builds = await build.getMany(ids.map((id): [number] => [id]))
    const items = builds.flatMap((b) => (b ? [summary(b)] : []))
    return c.json({ items, ...paging } satisfies BuildPage)
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
    // Only a new like changes anything: the build (its count, in its page and the listings) and the user's liked list.
    if (result.liked) await Promise.all([build.invalidate(id), cache.invalidateTags([tags.userLikes(userId)])])
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
