/**
 * The meetings example end to end over real HTTP: lists, details and profiles cached; POST, PATCH and
 * DELETE invalidate exactly the entries they changed; /health reports a backend that is down.
 */
import { ioredisAdapter } from 'cacheward/ioredis'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AppOptions, createApp, type ExampleApp } from '../../examples/meetings/app.js'
import { type Backend, openBackend } from '../../examples/shared/backend.js'
import { keygen } from '../support/keygen.js'
import {
  apiError,
  backendEnv,
  cleanupAfterEach,
  request,
  type Served,
  sendJson,
  sendOversized,
  serveForTest,
} from './support.js'

const ns = keygen('meetings')
const cleanup = cleanupAfterEach()

type Running = Served<ExampleApp>

async function start(options: AppOptions = {}, clear = true): Promise<Running> {
  const example = await createApp(options)
  return serveForTest(example, cleanup, clear)
}

const titles = (list: Array<{ title: string }>) => list.map((m) => m.title)

describe.each(['memory', 'redis'] as const)('meetings on %s', (kind) => {
  let backend: Backend
  beforeAll(async () => {
    backend = await openBackend(backendEnv(kind))
  })
  afterAll(async () => backend.close())

  it('caches lists, details and profiles, and each write reloads exactly what it changed', async () => {
    const m = await start({ backend, cacheOptions: { namespace: ns() } })
    const u = m.url
    m.delta()

    // Cold reads load once; repeated reads hit.
    const list1 = await request(`${u}/users/1/meetings`)
    expect(list1.status).toBe(200)
    expect(titles(list1.body)).toEqual(['Meeting 1', 'Meeting 6', 'Meeting 8', 'Meeting 9'])
    const list3 = await request(`${u}/users/3/meetings`)
    const details = await request(`${u}/meetings/1`)
    expect(details.body).toMatchObject({ id: 1, organizerId: 1, participants: [{ id: 2 }, { id: 4 }] })
    expect((await request(`${u}/users/2`)).body).toEqual({ id: 2, name: 'Grace', email: 'grace@example.com' })
    expect(m.delta()).toEqual({ queries: 4, hits: 0, misses: 4, loads: 4 })
    for (const path of ['/users/1/meetings', '/users/3/meetings', '/meetings/1', '/users/2']) await request(u + path)
    expect(m.delta()).toEqual({ queries: 0, hits: 4, misses: 0, loads: 0 })

    // POST: the organizer's and the participants' lists are invalidated; user 3's list is not.
    const created = await sendJson(`${u}/meetings`, {
      title: 'Planning',
      organizerId: 1,
      startsAt: '2030-01-01T08:00:00Z',
      durationMinutes: 45,
      participantIds: [2],
    })
    expect(created.status).toBe(201)
    expect(created.body.invalidated).toEqual([`meeting:${created.body.id}`, 'meetings:user:1', 'meetings:user:2'])
    m.delta()
    expect(titles((await request(`${u}/users/1/meetings`)).body)[0]).toBe('Planning')
    expect(m.delta()).toMatchObject({ queries: 1, loads: 1 })
    expect(titles((await request(`${u}/users/2/meetings`)).body)).toContain('Planning')
    expect(m.delta()).toMatchObject({ queries: 1, loads: 1 })
    expect((await request(`${u}/users/3/meetings`)).body).toEqual(list3.body)
    expect(m.delta()).toMatchObject({ queries: 0, hits: 1 })

    // PATCH meeting 1: new title and participants [3] (2 and 4 leave): details and the lists of 1, 2, 3, 4.
    const patched = await sendJson(`${u}/meetings/1`, { title: 'Kick-off', participantIds: [3] }, 'PATCH')
    expect(patched.status).toBe(200)
    expect(patched.body.invalidated.sort()).toEqual([
      'meeting:1',
      'meetings:user:1',
      'meetings:user:2',
      'meetings:user:3',
      'meetings:user:4',
    ])
    m.delta()
    expect((await request(`${u}/meetings/1`)).body).toMatchObject({
      title: 'Kick-off',
      participants: [{ id: 3, name: 'Linus' }],
    })
    expect(titles((await request(`${u}/users/2/meetings`)).body)).not.toContain('Kick-off')
    expect(titles((await request(`${u}/users/3/meetings`)).body)).toContain('Kick-off')
    expect(titles((await request(`${u}/users/4/meetings`)).body)).not.toContain('Meeting 1')
    expect(m.delta()).toMatchObject({ queries: 4, loads: 4 })
    // Users the meeting never concerned keep their cached lists.
    await request(`${u}/users/5/meetings`)
    await request(`${u}/users/5/meetings`)
    expect(m.delta()).toMatchObject({ queries: 1, hits: 1 })

    // DELETE: details gone, attendees' lists reloaded without it.
    const deleted = await request(`${u}/meetings/1`, { method: 'DELETE' })
    expect(deleted.body.invalidated.sort()).toEqual(['meeting:1', 'meetings:user:1', 'meetings:user:3'])
    expect((await request(`${u}/meetings/1`)).status).toBe(404)
    expect(titles((await request(`${u}/users/1/meetings`)).body)).not.toContain('Kick-off')
    expect(titles((await request(`${u}/users/3/meetings`)).body)).not.toContain('Kick-off')

    // Profiles are not touched by meeting writes.
    m.delta()
    await request(`${u}/users/2`)
    expect(m.delta()).toMatchObject({ queries: 0, hits: 1 })
  })

  it('GET /health is 200 with the backend kind and latencies', async () => {
    const m = await start({ backend, cacheOptions: { namespace: ns() } })
    const health = await request(`${m.url}/health`)
    expect(health.status).toBe(200)
    expect(health.body).toMatchObject({
      ok: true,
      cache: { ok: true, backend: backend.kind, adapter: backend.kind === 'redis' ? 'ioredis' : 'memory' },
      database: { ok: true, kind: 'pglite' },
    })
    expect(health.body.cache.latencyMs).toBeGreaterThanOrEqual(0)
    expect(health.body.database.latencyMs).toBeGreaterThanOrEqual(0)
  })
})

describe('meetings', () => {
  it('GET /health is 503 when the cache backend is down, while reads still answer from the database', async () => {
    // Nothing listens on port 1; no offline queue and no retries, so every command fails at once.
    const redis = new Redis({
      host: '127.0.0.1',
      port: 1,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    })
    redis.on('error', () => {})
    const adapter = ioredisAdapter(redis)
    const down: Backend = {
      kind: 'redis',
      adapter,
      cacheOptions: { adapter, l1: true },
      redis,
      upstash: undefined,
      close: async () => redis.disconnect(),
    }
    cleanup(() => down.close())
    const m = await start({ backend: down, cacheOptions: { namespace: ns() } }, false)

    const health = await request(`${m.url}/health`)
    expect(health.status).toBe(503)
    expect(health.body).toMatchObject({
      ok: false,
      cache: { ok: false, backend: 'redis', adapter: 'ioredis' },
      database: { ok: true },
    })
    expect(typeof health.body.cache.error).toBe('string')
    expect(JSON.stringify(health.body)).not.toMatch(/127\.0\.0\.1:1\b/)

    m.delta()
    const list = await request(`${m.url}/users/1/meetings`)
    expect(list.status).toBe(200)
    expect(list.body).toHaveLength(4)
    expect(m.delta()).toMatchObject({ queries: 1, loads: 1 })
    expect(m.cache.metrics().errors).toBeGreaterThan(0)
  })

  it('answers malformed ids and bodies with 4xx JSON, without touching the database or the cache', async () => {
    const m = await start({ cacheOptions: { namespace: ns() } })
    const u = m.url
    await request(`${u}/users/1/meetings`)
    m.delta()
    const ids = ['abc', '-1', '0', '1.5', '1e3', '99999999999', '2147483648']
    for (const id of ids) {
      for (const path of [`/users/${id}`, `/users/${id}/meetings`, `/meetings/${id}`]) {
        const response = await request(u + path)
        expect(response, path).toEqual({ status: 400, body: apiError('invalid_param') })
        expect(response.body.error.message, path).toMatch(/^id: /)
      }
      const invalidId = { status: 400, body: apiError('invalid_param') }
      expect(await sendJson(`${u}/meetings/${id}`, '{"title":"x"}', 'PATCH')).toEqual(invalidId)
      expect(await request(`${u}/meetings/${id}`, { method: 'DELETE' })).toEqual(invalidId)
    }
    const valid = { title: 'T', organizerId: 1, startsAt: '2030-01-01T08:00:00Z', durationMinutes: 30 }
    const badPosts: Array<[string, string]> = [
      ['{oops', 'invalid_json'],
      ['', 'invalid_json'],
      ['null', 'invalid_body'],
      ['[]', 'invalid_body'],
      ['{}', 'invalid_body'],
      [JSON.stringify({ ...valid, title: '' }), 'invalid_body'],
      [JSON.stringify({ ...valid, organizerId: '1' }), 'invalid_body'],
      [JSON.stringify({ ...valid, organizerId: -1 }), 'invalid_body'],
      [JSON.stringify({ ...valid, organizerId: 2 ** 40 }), 'invalid_body'],
      [JSON.stringify({ ...valid, startsAt: 'tomorrow' }), 'invalid_body'],
      [JSON.stringify({ ...valid, durationMinutes: 0 }), 'invalid_body'],
      [JSON.stringify({ ...valid, participantIds: 'all' }), 'invalid_body'],
      [JSON.stringify({ ...valid, participantIds: [1.5] }), 'invalid_body'],
      [JSON.stringify({ ...valid, extra: true }), 'invalid_body'],
    ]
    for (const [body, code] of badPosts) {
      expect(await sendJson(`${u}/meetings`, body), body).toEqual({ status: 400, body: apiError(code) })
    }
    const badPatches: Array<[string, string]> = [
      ['{oops', 'invalid_json'],
      ['{}', 'invalid_body'],
      ['{"title":5}', 'invalid_body'],
      ['{"participantIds":[0]}', 'invalid_body'],
      ['{"organizerId":2}', 'invalid_body'],
    ]
    for (const [body, code] of badPatches) {
      expect(await sendJson(`${u}/meetings/1`, body, 'PATCH'), body).toEqual({ status: 400, body: apiError(code) })
    }
    expect(m.delta()).toEqual({ queries: 0, hits: 0, misses: 0, loads: 0 })

    // Well-formed but wrong: unknown users and meetings are 422 and 404, checked against the database only.
    const unknown = await sendJson(`${u}/meetings`, { ...valid, participantIds: [2, 999] })
    expect(unknown).toEqual({ status: 422, body: apiError('unknown_users') })
    expect(unknown.body.error.message).toMatch(/\b999\b/)
    const notFound = { status: 404, body: apiError('not_found') }
    expect(await sendJson(`${u}/meetings/999`, '{"title":"x"}', 'PATCH')).toEqual(notFound)
    expect(await request(`${u}/meetings/999`, { method: 'DELETE' })).toEqual(notFound)
    expect(await request(`${u}/users/999`)).toEqual(notFound)
    expect(await request(`${u}/users/999/meetings`)).toEqual(notFound)
    expect(await request(`${u}/nope`)).toEqual(notFound)
    expect(m.delta()).toMatchObject({ loads: 2, hits: 0 })

    // The cached list is untouched.
    expect((await request(`${u}/users/1/meetings`)).body).toHaveLength(4)
    expect(m.delta()).toEqual({ queries: 0, hits: 1, misses: 0, loads: 0 })
  })

  it('refuses a 5 MB body with a 413 before parsing it, announced or streamed, on POST and PATCH', async () => {
    const m = await start({ cacheOptions: { namespace: ns() } })
    m.delta()
    for (const [path, method] of [
      ['/meetings', 'POST'],
      ['/meetings/1', 'PATCH'],
    ] as const) {
      for (const reply of await sendOversized(m.url + path, method)) {
        expect(reply, `${method} ${path}`).toEqual({ status: 413, body: apiError('body_too_large') })
      }
    }
    expect(m.delta()).toEqual({ queries: 0, hits: 0, misses: 0, loads: 0 })
    // A body within the limit still goes through.
    expect((await sendJson(`${m.url}/meetings/1`, { title: 'Renamed' }, 'PATCH')).status).toBe(200)
  })
})
