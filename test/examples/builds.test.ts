import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createApp, type ExampleApp } from '../../examples/builds/app.js'
import { store } from '../../examples/builds/store.js'
import { keygen } from '../support/keygen.js'
import { apiError, request, type Started, sendJson, sendOversized, startExample } from './support.js'

const nextKey = keygen('builds')
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

type Running = Started<ExampleApp>

/** Starts the app over real HTTP on a free port; `stop` closes the server, the app, the db and the backend. */
function start(kind: 'memory' | 'redis', extra: Parameters<typeof createApp>[0] = {}): Promise<Running> {
  const namespace = `builds-${nextKey().replace(':', '-')}`
  return startExample(kind, namespace, (db, backend) =>
    createApp({ db, backend, ...extra, cacheOptions: { namespace, ...extra.cacheOptions } }),
  )
}

const call = (base: string, path: string, init?: RequestInit) => request(base + path, init)
const post = (base: string, path: string, json: unknown) => sendJson(base + path, json)

describe.each(['memory', 'redis'] as const)('builds example on the %s backend', (kind) => {
  let r: Running
  beforeAll(async () => {
    r = await start(kind)
  })
  afterAll(async () => {
    await r?.stop()
  })

  it('loads a cold listing once for 50 concurrent requests (stampede protection)', async () => {
    r.db.resetCount()
    const replies = await Promise.all(Array.from({ length: 50 }, () => call(r.url, '/builds?page=2')))
    expect(replies.every((reply) => reply.status === 200)).toBe(true)
    expect(new Set(replies.map((reply) => JSON.stringify(reply.body))).size).toBe(1)
    expect(replies[0]!.body).toMatchObject({ page: 2, pageSize: 10, total: 64, pages: 7 })
    expect(replies[0]!.body.items).toHaveLength(10)
    expect(r.db.queries).toBe(2) // the page's ids, then its 10 builds in one query
    // Requests arriving while the load ran joined it (misses); later ones were hits. Either way: one load.
    const listings = r.example.cache.metrics().categories.listings!
    expect(listings.loads).toBe(1)
    expect(listings.hits + listings.misses).toBe(50)
    expect(r.example.cache.metrics().categories.details?.loads).toBe(10) // each build once, for all 50 requests

    const again = await call(r.url, '/builds?page=2')
    expect(again.body).toEqual(replies[0]!.body)
    expect(r.db.queries).toBe(2)
    expect(r.example.cache.metrics().categories.listings).toMatchObject({ loads: 1, hits: listings.hits + 1 })
  })

  it('serves class data from the cache and filters listings by class', async () => {
    const classes = await call(r.url, '/classes')
    expect(classes.status).toBe(200)
    expect(classes.body.map((c: { slug: string }) => c.slug)).toEqual(['warrior', 'ranger', 'mage', 'cleric', 'rogue'])
    r.db.resetCount()
    await call(r.url, '/classes')
    const mages = await call(r.url, '/builds?class=mage')
    expect(mages.body.items.every((b: { classSlug: string }) => b.classSlug === 'mage')).toBe(true)
    expect(mages.body.total).toBe(13)
    // The class list came from the cache (twice: the route and the class check); only the listing was queried: its
    // ids, and in one query those of its builds the previous test had not cached.
    expect(r.db.queries).toBe(2)
  })

  it('caches build details and invalidates them, and the liked list, when a user likes the build', async () => {
    const before = await call(r.url, '/builds/5')
    expect(before.status).toBe(200)
    expect(before.body).toMatchObject({ id: 5, authorName: expect.any(String), description: 'Seeded build 5.' })
    const likesBefore = await call(r.url, '/users/3/likes')
    expect(likesBefore.body.builds.some((b: { id: number }) => b.id === 5)).toBe(false)

    r.db.resetCount()
    await call(r.url, '/builds/5')
    await call(r.url, '/users/3/likes')
    expect(r.db.queries).toBe(0)

    const like = await post(r.url, '/builds/5/like', { userId: 3 })
    expect(like).toEqual({ status: 200, body: { liked: true, likes: before.body.likes + 1 } })
    const after = await call(r.url, '/builds/5')
    expect(after.body.likes).toBe(before.body.likes + 1)
    const likesAfter = await call(r.url, '/users/3/likes')
    expect(likesAfter.body.builds[0]).toMatchObject({ id: 5 })
    expect(r.db.queries).toBe(1 + 1 + 2) // the like, the detail, the user and their likes

    // Liking again changes nothing, so nothing is invalidated.
    r.db.resetCount()
    expect((await post(r.url, '/builds/5/like', { userId: 3 })).body).toEqual({ liked: false, likes: after.body.likes })
    await call(r.url, '/builds/5')
    await call(r.url, '/users/3/likes')
    expect(r.db.queries).toBe(1)
  })

  it('invalidates every listing page and the author’s builds when a build is created', async () => {
    await call(r.url, '/builds')
    await call(r.url, '/builds?page=3')
    const mine = await call(r.url, '/users/2/builds')
    r.db.resetCount()

    const created = await post(r.url, '/builds', { title: '  Paper Tiger ', class: 'rogue', authorId: 2 })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ title: 'Paper Tiger', classSlug: 'rogue', authorId: 2, likes: 0 })

    const first = await call(r.url, '/builds')
    expect(first.body.items[0]).toMatchObject({ id: created.body.id, title: 'Paper Tiger' })
    expect(first.body.total).toBe(65)
    const third = await call(r.url, '/builds?page=3')
    expect(third.body.total).toBe(65)
    const mineAfter = await call(r.url, '/users/2/builds')
    expect(mineAfter.body.builds).toHaveLength(mine.body.builds.length + 1)
    expect(mineAfter.body.builds[0].id).toBe(created.body.id)
    const detail = await call(r.url, `/builds/${created.body.id}`)
    expect(detail.body.title).toBe('Paper Tiger')
  })

  it('answers bad input with a 4xx JSON error without touching the database or the cache', async () => {
    // Warm the classes (class checks read them) and a listing, then measure.
    await call(r.url, '/classes')
    const listing = await call(r.url, '/builds')
    r.db.resetCount()
    r.example.cache.resetMetrics()
    const bad: Array<[string, RequestInit | undefined, number, string]> = [
      ['/builds/abc', undefined, 400, 'invalid_param'],
      ['/builds/-1', undefined, 400, 'invalid_param'],
      ['/builds/0', undefined, 400, 'invalid_param'],
      ['/builds/1.5', undefined, 400, 'invalid_param'],
      ['/builds/99999999999999999999', undefined, 400, 'invalid_param'],
      ['/builds/3000000000', undefined, 400, 'invalid_param'],
      ['/builds?page=-1', undefined, 400, 'invalid_query'],
      ['/builds?page=abc', undefined, 400, 'invalid_query'],
      ['/builds?page=0', undefined, 400, 'invalid_query'],
      ['/builds?page=1e3', undefined, 400, 'invalid_query'],
      ['/builds?class=*', undefined, 400, 'invalid_query'],
      ['/builds?class=MAGE', undefined, 400, 'invalid_query'],
      ['/users/x/likes', undefined, 400, 'invalid_param'],
      ['/users/-3/builds', undefined, 400, 'invalid_param'],
      ['/nope', undefined, 404, 'not_found'],
    ]
    const json = (body: string) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body })
    bad.push(
      ['/builds/1/like', json('{"userId": 1'), 400, 'invalid_json'],
      ['/builds/1/like', json(''), 400, 'invalid_json'],
      ['/builds/1/like', json('{}'), 400, 'invalid_body'],
      ['/builds/1/like', json('{"userId": "1"}'), 400, 'invalid_body'],
      ['/builds/1/like', json('{"userId": -2}'), 400, 'invalid_body'],
      ['/builds/1/like', json('[1]'), 400, 'invalid_body'],
      ['/builds/abc/like', json('{"userId": 1}'), 400, 'invalid_param'],
      ['/builds', json('not json'), 400, 'invalid_json'],
      ['/builds', json('{"title": "ok title", "class": "mage"}'), 400, 'invalid_body'],
      ['/builds', json('{"title": 5, "class": "mage", "authorId": 1}'), 400, 'invalid_body'],
      ['/builds', json('{"title": "x", "class": "mage", "authorId": 1}'), 400, 'invalid_body'],
    )
    for (const [path, init, status, code] of bad) {
      const reply = await call(r.url, path, init)
      expect({ path, status: reply.status, code: reply.body?.error?.code }).toEqual({ path, status, code })
      expect(reply.body.error.message).toEqual(expect.any(String))
    }
    expect(r.db.queries).toBe(0)
    const m = r.example.cache.metrics()
    expect(m.hits + m.misses + m.staleHits + m.loads).toBe(0)

    // Well-formed but unknown: a 4xx after a cache read, never a stored entry for the unknown thing.
    expect((await call(r.url, '/builds?class=bard')).body.error.code).toBe('unknown_class')
    expect((await call(r.url, '/builds/999999')).status).toBe(404)
    expect((await call(r.url, '/users/999/likes')).status).toBe(404)
    expect((await post(r.url, '/builds/999999/like', { userId: 1 })).status).toBe(404)
    expect((await post(r.url, '/builds', { title: 'Ghost', class: 'mage', authorId: 999 })).status).toBe(400)
    expect(await r.example.cache.has('build:999999')).toBe(false)
    expect(await r.example.cache.has('user:999:likes')).toBe(false)

    // And the cached listing is intact.
    expect((await call(r.url, '/builds')).body).toEqual(listing.body)
  })

  it('reports hit rate, categories and health on /metrics', async () => {
    const { status, body } = await call(r.url, '/metrics')
    expect(status).toBe(200)
    expect(body.hitRate).toBeGreaterThan(0)
    expect(body.hitRate).toBeLessThanOrEqual(1)
    expect(Object.keys(body.categories)).toEqual(expect.arrayContaining(['classes', 'listings', 'details', 'users']))
    expect(body.health).toMatchObject({ ok: true, adapter: expect.any(String) })
    expect(body).toHaveProperty('latency') // load and hit latency summaries, straight from cache.metrics()
    expect(body.backend).toBe(kind)
    expect(body.database).toMatchObject({ kind: 'pglite', queries: expect.any(Number) })
  })

  if (kind === 'redis') {
    it('stores entries in Redis under the namespace', async () => {
      await call(r.url, '/builds')
      expect(await r.backend.redis!.exists(`${r.namespace}:builds:list:all:page:1`)).toBe(1)
    })
  }

  it('refuses a 5 MB body with a 413 before parsing it, announced or streamed, and accepts the largest valid one', async () => {
    r.db.resetCount()
    r.example.cache.resetMetrics()
    for (const path of ['/builds', '/builds/1/like']) {
      for (const reply of await sendOversized(r.url + path)) {
        expect(reply, path).toEqual({ status: 413, body: apiError('body_too_large') })
      }
    }
    expect(r.db.queries).toBe(0)
    const m = r.example.cache.metrics()
    expect(m.hits + m.misses + m.staleHits + m.loads).toBe(0)

    // The longest description (2,000 characters), each written as a \u escape: 12,000 bytes, under the limit.
    const escaped = '\\u00e9'.repeat(2000)
    const created = await post(
      r.url,
      '/builds',
      `{"title":"Accents","class":"mage","authorId":1,"description":"${escaped}"}`,
    )
    expect(created.status).toBe(201)
    expect(created.body.description).toBe('é'.repeat(2000))
  })
})

describe.each(['memory', 'redis'] as const)('builds example listings on the %s backend', (kind) => {
  let r: Running
  beforeAll(async () => {
    r = await start(kind)
    await call(r.url, '/classes') // the cached class list, which a class listing checks first
  })
  afterAll(async () => {
    await r?.stop()
  })
  afterEach(() => {
    vi.restoreAllMocks()
  })

  /** One listing page as the database has it, newest first: what the API must show. */
  async function inDatabase(page: number, classSlug?: string) {
    const rows = await r.db.query(
      `SELECT b.id, b.title, c.slug AS "classSlug", b.author_id AS "authorId", b.likes,
              to_char(b.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS "createdAt",
              count(*) OVER ()::int AS total
         FROM builds_builds b JOIN builds_classes c ON c.id = b.class_id
        WHERE $1::text IS NULL OR c.slug = $1
        ORDER BY b.created_at DESC, b.id DESC LIMIT 10 OFFSET $2`,
      [classSlug ?? null, (page - 1) * 10],
    )
    const total = rows[0]?.total
    return {
      items: rows.map(({ total: _, ...build }) => build),
      page,
      pageSize: 10,
      total,
      pages: Math.ceil(Number(total) / 10),
    }
  }

  it('reads the builds of a page in one batch: one query for those not cached, none on the next request', async () => {
    const expected = await Promise.all([inDatabase(1), inDatabase(2), inDatabase(1, 'mage')])
    const builds = vi.spyOn(store, 'builds')
    r.db.resetCount()

    expect((await call(r.url, '/builds')).body).toEqual(expected[0])
    expect(r.db.queries).toBe(2) // the page's ids, and its 10 builds in one query
    expect((await call(r.url, '/builds?page=2')).body).toEqual(expected[1])
    expect(r.db.queries).toBe(4)
    expect(builds.mock.calls.map(([, ids]) => ids.length)).toEqual([10, 10])

    r.db.resetCount()
    expect((await call(r.url, '/builds')).body).toEqual(expected[0])
    expect((await call(r.url, '/builds?page=2')).body).toEqual(expected[1])
    expect(r.db.queries).toBe(0)
    expect(builds).toHaveBeenCalledTimes(2)

    // The mage listing shares the entries of the mage builds on the first two pages: only the others are loaded.
    const cached = new Set([...expected[0].items, ...expected[1].items].map((b) => b.id))
    const mages = expected[2].items
    expect(mages.some((b) => cached.has(b.id))).toBe(true)
    expect((await call(r.url, '/builds?class=mage')).body).toEqual(expected[2])
    expect(builds.mock.calls[2]?.[1]).toEqual(mages.map((b) => b.id).filter((id) => !cached.has(id)))
  })

  it('shows a like in every listing at once, and a new build on the first page', async () => {
    // Build 60 is on the first page of all builds and of the rogue builds; user 4 has not liked it.
    const before = (await call(r.url, '/builds')).body
    await call(r.url, '/builds?class=rogue')
    const likes = before.items.find((b: { id: number }) => b.id === 60).likes

    expect((await post(r.url, '/builds/60/like', { userId: 4 })).body).toEqual({ liked: true, likes: likes + 1 })
    for (const listing of ['/builds', '/builds?class=rogue']) {
      const { body } = await call(r.url, listing)
      expect(body, listing).toEqual(await inDatabase(1, listing.includes('rogue') ? 'rogue' : undefined))
      expect(
        body.items.find((b: { id: number }) => b.id === 60),
        listing,
      ).toMatchObject({ likes: likes + 1 })
    }

    const created = await post(r.url, '/builds', { title: 'Quiet Lancer', class: 'rogue', authorId: 4 })
    expect(created.status).toBe(201)
    for (const listing of ['/builds', '/builds?class=rogue']) {
      const { body } = await call(r.url, listing)
      expect(body, listing).toEqual(await inDatabase(1, listing.includes('rogue') ? 'rogue' : undefined))
      expect(body.items[0], listing).toMatchObject({ id: created.body.id, title: 'Quiet Lancer' })
    }
  })
})

describe('builds example, stale-while-revalidate', () => {
  let r: Running
  beforeAll(async () => {
    r = await start('memory', { policies: { details: { ttl: 300, staleWhileRevalidate: '1h' } } })
  })
  afterAll(async () => {
    await r?.stop()
  })

  it('serves the stale detail at once after ttl, and refreshes it once in the background', async () => {
    expect((await call(r.url, '/builds/7')).body.title).not.toBe('Renamed')
    await r.db.query("UPDATE builds_builds SET title = 'Renamed' WHERE id = 7")
    await sleep(400) // past the 300 ms ttl

    r.db.resetCount()
    const stale = await call(r.url, '/builds/7')
    expect(stale.body.title).not.toBe('Renamed')
    expect(r.example.cache.metrics().categories.details?.staleHits).toBe(1)

    let fresh = stale
    for (let i = 0; i < 100 && fresh.body.title !== 'Renamed'; i++) {
      await sleep(20)
      fresh = await call(r.url, '/builds/7')
    }
    expect(fresh.body.title).toBe('Renamed')
    expect(r.db.queries).toBe(1) // one background refresh
  })
})

describe('builds example with the cache disabled', () => {
  let r: Running
  beforeAll(async () => {
    r = await start('memory', { cacheOptions: { enabled: false } })
  })
  afterAll(async () => {
    await r?.stop()
  })

  it('queries the database on every request', async () => {
    r.db.resetCount()
    for (let i = 0; i < 3; i++) expect((await call(r.url, '/builds/1')).status).toBe(200)
    expect(r.db.queries).toBe(3)
    expect(r.example.cache.metrics()).toMatchObject({ hits: 0, misses: 3, loads: 3 })
  })
})
