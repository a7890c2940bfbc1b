import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { type AppOptions, createApp, type ExampleApp, normaliseQuery } from '../../examples/chat/app.js'
import { store } from '../../examples/chat/store.js'
import type { Backend } from '../../examples/shared/backend.js'
import { keygen } from '../support/keygen.js'
import { apiError, request, type Started, sendJson, sendOversized, startExample } from './support.js'

const nextKey = keygen('chat')

type Running = Started<ExampleApp>

/** Starts the app over real HTTP on a free port; `stop` closes the server, the app, the db and the backend. */
function start(kind: Backend['kind'], extra: AppOptions = {}): Promise<Running> {
  const id = nextKey().replace(':', '-')
  const namespace = `chat-${id}`
  return startExample(kind, namespace, (db, backend) =>
    createApp({
      db,
      backend,
      structuresPrefix: `chat-live-${id}`,
      ...extra,
      cacheOptions: { namespace, ...extra.cacheOptions },
    }),
  )
}

const call = (base: string, path: string, init?: RequestInit) => request(base + path, init)
const post = (base: string, path: string, json: unknown) => sendJson(base + path, json)

describe.each(['memory', 'redis', 'upstash'] as const)('chat example on the %s backend', (kind) => {
  let r: Running
  beforeAll(async () => {
    r = await start(kind)
  })
  afterAll(async () => {
    await r?.stop()
  })

  it('caches session lists per page and invalidates both participants’ pages by pattern on a message', async () => {
    const pages = await Promise.all([1, 2, 3].map((page) => call(r.url, `/users/1/sessions?page=${page}`)))
    expect(pages.map((p) => p.body.items.length)).toEqual([10, 10, 5])
    expect(pages[0]!.body).toMatchObject({ page: 1, total: 25, pages: 3 })
    const peerPage = await call(r.url, '/users/5/sessions')
    const bystander = await call(r.url, '/users/2/sessions')
    if (kind === 'redis') {
      expect(await r.backend.redis!.exists(`${r.namespace}:sessions:user:1:page:2`)).toBe(1)
    }

    r.db.resetCount()
    for (const page of [1, 2, 3]) await call(r.url, `/users/1/sessions?page=${page}`)
    expect(r.db.queries).toBe(0)

    // Session 3 is between user 1 (owner) and user 5.
    const sent = await post(r.url, '/sessions/3/messages', { userId: 1, text: 'see you at 8' })
    expect(sent.status).toBe(201)
    expect(sent.body.message).toMatchObject({ sessionId: 3, userId: 1, text: 'see you at 8' })

    r.db.resetCount()
    const first = await call(r.url, '/users/1/sessions')
    expect(first.body.items[0]).toMatchObject({ id: 3, messageCount: 4 })
    expect((await call(r.url, '/users/5/sessions')).body.items[0]).toMatchObject({ id: 3, messageCount: 4 })
    // Both pages of ids, and session 3 once (its entry was invalidated; user 5's page found it cached again).
    expect(r.db.queries).toBe(3)
    expect(peerPage.body.items[0]?.id).not.toBe(3)
    // Another user's list was not touched.
    expect((await call(r.url, '/users/2/sessions')).body).toEqual(bystander.body)
    expect(r.db.queries).toBe(3)
  })

  it('caches credits and refreshes them when a message spends one', async () => {
    const before = await call(r.url, '/users/1/credits')
    expect(before.body).toEqual({ userId: 1, credits: 49 })
    r.db.resetCount()
    await call(r.url, '/users/1/credits')
    expect(r.db.queries).toBe(0)

    await post(r.url, '/sessions/3/messages', { userId: 1, text: 'one more' })
    expect((await call(r.url, '/users/1/credits')).body).toEqual({ userId: 1, credits: 48 })
  })

  it('refuses a message without credits, and charges nothing', async () => {
    await r.db.query('UPDATE chat_users SET credits = 0 WHERE id = 4')
    // Any live session user 4 takes part in.
    const sessions = await call(r.url, '/users/4/sessions')
    const sessionId = sessions.body.items[0].id
    const reply = await post(r.url, `/sessions/${sessionId}/messages`, { userId: 4, text: 'hello?' })
    expect(reply).toMatchObject({ status: 402, body: { error: { code: 'no_credits' } } })
    const [row] = await r.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM chat_messages WHERE session_id = $1 AND body = $2',
      [sessionId, 'hello?'],
    )
    expect(row!.n).toBe(0)
  })

  it('counts unread messages for the peer, serves the latest messages and resets unread on read', async () => {
    const unread = await call(r.url, '/users/5/unread')
    expect(unread.body).toEqual({ userId: 5, total: 2, sessions: { '3': 2 } })
    expect((await call(r.url, '/users/1/unread')).body.total).toBe(0)

    const latest = await call(r.url, '/sessions/3/messages/latest?userId=5')
    expect(latest.status).toBe(200)
    expect(latest.body.messages.map((m: { text: string }) => m.text).slice(-2)).toEqual(['see you at 8', 'one more'])
    expect(latest.body.messages).toHaveLength(5)
    const ids = latest.body.messages.map((m: { id: number }) => m.id)
    expect(ids).toEqual([...ids].sort((a, b) => a - b))
    expect((await call(r.url, '/users/5/unread')).body).toEqual({ userId: 5, total: 0, sessions: {} })

    // Once filled, the latest messages come from the sorted set, not the database.
    r.db.resetCount()
    expect((await call(r.url, '/sessions/3/messages/latest?userId=1')).body).toEqual(latest.body)
    expect(r.db.queries).toBe(0)

    // A session with no cached messages yet is filled from the database on first read.
    const cold = await call(r.url, '/sessions/1/messages/latest?userId=1')
    expect(cold.body.messages).toHaveLength(3)
    // Not a participant: 404.
    expect((await call(r.url, '/sessions/3/messages/latest?userId=2')).status).toBe(404)
  })

  it('deletes a session for both participants: sets, lists and new messages', async () => {
    // Session 4 (i = 3) is between user 1 and user 6.
    const before = await call(r.url, '/users/1/sessions')
    const deleted = await call(r.url, '/sessions/4?userId=1', { method: 'DELETE' })
    expect(deleted).toEqual({ status: 200, body: { deleted: 4 } })
    expect((await call(r.url, '/users/1/deleted')).body).toEqual({ userId: 1, sessions: [4] })
    expect((await call(r.url, '/users/6/deleted')).body).toEqual({ userId: 6, sessions: [4] })
    const after = await call(r.url, '/users/1/sessions')
    expect(after.body.total).toBe(before.body.total - 1)
    expect(after.body.items.some((s: { id: number }) => s.id === 4)).toBe(false)

    r.db.resetCount()
    const refused = await post(r.url, '/sessions/4/messages', { userId: 6, text: 'still there?' })
    expect(refused).toMatchObject({ status: 410, body: { error: { code: 'gone' } } })
    expect(r.db.queries).toBe(0) // answered from the deleted set
    expect((await call(r.url, '/sessions/4/messages/latest?userId=1')).status).toBe(404)
    expect((await call(r.url, '/sessions/4?userId=1', { method: 'DELETE' })).status).toBe(404)
  })

  it('caches stats for a short time and search per normalised query', async () => {
    r.db.resetCount()
    const stats = await call(r.url, '/stats')
    expect(stats.body).toMatchObject({ users: 6, sessions: 35 })
    await call(r.url, '/stats')
    expect(r.db.queries).toBe(1)

    const a = await call(r.url, '/search?q=Lisbon')
    const b = await call(r.url, `/search?q=${encodeURIComponent('  LISBON ')}`)
    expect(a.body.q).toBe('lisbon')
    expect(a.body.hits.length).toBeGreaterThan(0)
    expect(b.body).toEqual(a.body)
    expect(r.db.queries).toBe(2)
    expect(r.example.cache.metrics().categories.search).toMatchObject({ loads: 1, hits: 1 })

    // LIKE wildcards in the query are literal text.
    expect((await call(r.url, '/search?q=%25%25')).body.hits).toEqual([])
    const long = 'x'.repeat(200)
    expect((await call(r.url, `/search?q=${long}`)).body.hits).toEqual([])
  })

  it('tracks presence through heartbeats', async () => {
    expect((await call(r.url, '/presence')).body).toEqual({ online: [] })
    expect((await post(r.url, '/presence/heartbeat', { userId: 2 })).status).toBe(200)
    expect((await post(r.url, '/presence/heartbeat', { userId: 5 })).status).toBe(200)
    expect((await call(r.url, '/presence')).body.online.map((u: { id: number }) => u.id)).toEqual([2, 5])
  })

  it('answers bad input with a 4xx JSON error without touching the database or the cache', async () => {
    await call(r.url, '/users/1/sessions')
    const listing = await call(r.url, '/users/1/sessions')
    r.db.resetCount()
    r.example.cache.resetMetrics()
    const json = (body: string) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body })
    const bad: Array<[string, RequestInit | undefined, number, string]> = [
      ['/users/abc/sessions', undefined, 400, 'invalid_param'],
      ['/users/-1/sessions', undefined, 400, 'invalid_param'],
      ['/users/99999999999999999999/credits', undefined, 400, 'invalid_param'],
      ['/users/1/sessions?page=-1', undefined, 400, 'invalid_query'],
      ['/users/1/sessions?page=abc', undefined, 400, 'invalid_query'],
      ['/users/1/sessions?page=1001', undefined, 400, 'invalid_query'],
      ['/search', undefined, 400, 'invalid_query'],
      ['/search?q=', undefined, 400, 'invalid_query'],
      ['/search?q=%20%20%20a%20', undefined, 400, 'invalid_query'],
      [`/search?q=${'y'.repeat(5000)}`, undefined, 400, 'invalid_query'],
      ['/sessions/3/messages/latest', undefined, 400, 'invalid_query'],
      ['/sessions/3/messages/latest?userId=x', undefined, 400, 'invalid_query'],
      ['/sessions/x/messages/latest?userId=1', undefined, 400, 'invalid_param'],
      ['/sessions/3', { method: 'DELETE' }, 400, 'invalid_query'],
      ['/sessions/0?userId=1', { method: 'DELETE' }, 400, 'invalid_param'],
      ['/sessions/3/messages', json('{"userId": 1, "text": '), 400, 'invalid_json'],
      ['/sessions/3/messages', json(''), 400, 'invalid_json'],
      ['/sessions/3/messages', json('{"userId": 1}'), 400, 'invalid_body'],
      ['/sessions/3/messages', json('{"userId": "1", "text": "hi"}'), 400, 'invalid_body'],
      ['/sessions/3/messages', json('{"userId": 1, "text": "   "}'), 400, 'invalid_body'],
      ['/sessions/3/messages', json('{"userId": 1.5, "text": "hi"}'), 400, 'invalid_body'],
      ['/sessions/-3/messages', json('{"userId": 1, "text": "hi"}'), 400, 'invalid_param'],
      ['/presence/heartbeat', json('{"userId": null}'), 400, 'invalid_body'],
      ['/presence/heartbeat', json('nope'), 400, 'invalid_json'],
    ]
    for (const [path, init, status, code] of bad) {
      const reply = await call(r.url, path, init)
      expect({ path, status: reply.status, code: reply.body?.error?.code }).toEqual({ path, status, code })
    }
    expect(r.db.queries).toBe(0)
    const m = r.example.cache.metrics()
    expect(m.hits + m.misses + m.staleHits + m.loads).toBe(0)

    // Well-formed but unknown: 404, and no per-user entry is created for them.
    expect((await call(r.url, '/users/999/sessions')).status).toBe(404)
    expect((await call(r.url, '/users/999/credits')).status).toBe(404)
    expect((await post(r.url, '/presence/heartbeat', { userId: 999 })).status).toBe(404)
    expect((await post(r.url, '/sessions/999/messages', { userId: 1, text: 'hi' })).status).toBe(404)
    const { sessionPage, credits } = r.example.entries
    expect(await r.example.cache.has(sessionPage.key(999, 1))).toBe(false)
    expect(await r.example.cache.has(credits.key(999))).toBe(false)
    expect((await call(r.url, '/users/1/sessions')).body).toEqual(listing.body)
  })

  it('reports metrics and health', async () => {
    const { body } = await call(r.url, '/metrics')
    expect(body.health).toMatchObject({ ok: true })
    expect(body.backend).toBe(kind)
    expect(body.hitRate).toBeGreaterThan(0)
  })

  it('refuses a 5 MB body with a 413 before parsing it, announced or streamed, and accepts the largest valid one', async () => {
    r.db.resetCount()
    r.example.cache.resetMetrics()
    for (const path of ['/sessions/3/messages', '/presence/heartbeat']) {
      for (const reply of await sendOversized(r.url + path)) {
        expect(reply, path).toEqual({ status: 413, body: apiError('body_too_large') })
      }
    }
    expect(r.db.queries).toBe(0)
    const m = r.example.cache.metrics()
    expect(m.hits + m.misses + m.staleHits + m.loads).toBe(0)

    // The longest message (2,000 characters), each written as a \u escape: 12,000 bytes, under the limit.
    const escaped = '\\u00e9'.repeat(2000)
    const sent = await post(r.url, '/sessions/3/messages', `{"userId":1,"text":"${escaped}"}`)
    expect(sent.status).toBe(201)
    expect(sent.body.message.text).toBe('é'.repeat(2000))
  })
})

describe('chat example search keys', () => {
  let r: Running
  beforeAll(async () => {
    r = await start('memory')
  })
  afterAll(async () => {
    await r?.stop()
  })

  it('are bounded whatever the query, and equal for queries that normalise alike', () => {
    const { search } = r.example.entries
    const short = search.key(normaliseQuery('hi'))
    const long = search.key(normaliseQuery('z'.repeat(10_000)))
    expect(long.length).toBe(short.length)
    expect(search.key(normaliseQuery(' Ｌｉｓｂｏｎ\t'))).toBe(search.key(normaliseQuery('lisbon')))
  })
})

describe.each(['memory', 'redis', 'upstash'] as const)('chat example session lists on the %s backend', (kind) => {
  let r: Running
  beforeAll(async () => {
    r = await start(kind)
    await call(r.url, '/presence') // the cached user list, which every listing checks first
  })
  afterAll(async () => {
    await r?.stop()
  })
  afterEach(() => {
    vi.restoreAllMocks()
  })

  /** A user's live sessions as the database has them, most recently active first: what the pages must show. */
  const inDatabase = (userId: number) =>
    r.db.query(
      `SELECT id, title, owner_id AS "ownerId", peer_id AS "peerId", message_count AS "messageCount",
              to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "updatedAt"
         FROM chat_sessions WHERE (owner_id = $1 OR peer_id = $1) AND deleted_at IS NULL
        ORDER BY updated_at DESC, id DESC`,
      [userId],
    )

  /** Every page of a user's list through the API: the sessions in order, and each page's total. */
  async function listed(userId: number) {
    const first = await call(r.url, `/users/${userId}/sessions`)
    const pages = [first.body]
    for (let page = 2; page <= first.body.pages; page++) {
      pages.push((await call(r.url, `/users/${userId}/sessions?page=${page}`)).body)
    }
    return { items: pages.flatMap((p) => p.items), totals: pages.map((p) => p.total) }
  }

  it('reads the sessions of a page in one batch: one query for those not cached, none on the next request', async () => {
    const expected = await inDatabase(1)
    expect(expected).toHaveLength(25)
    const sessions = vi.spyOn(store, 'sessions')
    r.db.resetCount()

    const cold = await listed(1)
    expect(cold.items).toEqual(expected)
    expect(cold.totals).toEqual([25, 25, 25])
    // Per page: one query for its ids and one for all of its sessions, not one per session.
    expect(r.db.queries).toBe(3 * 2)
    expect(sessions.mock.calls.map(([, ids]) => ids.length)).toEqual([10, 10, 5])

    r.db.resetCount()
    expect(await listed(1)).toEqual(cold)
    expect(r.db.queries).toBe(0)
    expect(sessions).toHaveBeenCalledTimes(3)

    // User 5's list shares the entries of the sessions with user 1: only the other ones are loaded.
    const peer = await inDatabase(5)
    r.db.resetCount()
    expect((await listed(5)).items).toEqual(peer)
    const withUser1 = peer.filter((s) => s.ownerId === 1 || s.peerId === 1).length
    expect(withUser1).toBeGreaterThan(0)
    expect(sessions.mock.calls.slice(3).flatMap(([, ids]) => ids)).toHaveLength(peer.length - withUser1)
  })

  it('shows what the database holds after a message and a delete, for both participants', async () => {
    await Promise.all([listed(1), listed(5), listed(6)]) // every page cached, every session of them too

    // Session 3 is between user 1 (owner) and user 5; session 4 between user 1 and user 6.
    expect((await post(r.url, '/sessions/3/messages', { userId: 5, text: 'on my way' })).status).toBe(201)
    expect((await call(r.url, '/sessions/4?userId=6', { method: 'DELETE' })).status).toBe(200)

    for (const userId of [1, 5, 6]) {
      const expected = await inDatabase(userId)
      const { items, totals } = await listed(userId)
      expect(items, `user ${userId}`).toEqual(expected)
      expect(new Set(totals), `user ${userId}`).toEqual(new Set([expected.length]))
    }
    const mine = (await listed(1)).items
    expect(mine[0]).toMatchObject({ id: 3, messageCount: 4 })
    expect(mine.some((s: { id: number }) => s.id === 4)).toBe(false)
    expect((await listed(6)).items.some((s: { id: number }) => s.id === 4)).toBe(false)
  })
})
