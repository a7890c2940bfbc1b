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
import { backendEnv, cleanupAfterEach, request, type Served, sendJson, serveForTest } from './support.js'

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
    const down: Backend = {
      kind: 'redis',
      adapter: ioredisAdapter(redis),
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
        expect(response.status, path).toBe(400)
        expect(response.body.error, path).toMatch(/positive whole number/)
      }
      expect((await sendJson(`${u}/meetings/${id}`, '{"title":"x"}', 'PATCH')).status).toBe(400)
      expect((await request(`${u}/meetings/${id}`, { method: 'DELETE' })).status).toBe(400)
    }
    const valid = { title: 'T', organizerId: 1, startsAt: '2030-01-01T08:00:00Z', durationMinutes: 30 }
    const badPosts = [
      '{oops',
      '',
      'null',
      '[]',
      '{}',
      JSON.stringify({ ...valid, title: '' }),
      JSON.stringify({ ...valid, organizerId: '1' }),
      JSON.stringify({ ...valid, organizerId: -1 }),
      JSON.stringify({ ...valid, organizerId: 2 ** 40 }),
      JSON.stringify({ ...valid, startsAt: 'tomorrow' }),
      JSON.stringify({ ...valid, durationMinutes: 0 }),
      JSON.stringify({ ...valid, participantIds: 'all' }),
      JSON.stringify({ ...valid, participantIds: [1.5] }),
      JSON.stringify({ ...valid, extra: true }),
    ]
    for (const body of badPosts) {
      const response = await sendJson(`${u}/meetings`, body)
      expect(response.status, body).toBe(400)
      expect(typeof response.body.error, body).toBe('string')
    }
    for (const body of ['{oops', '{}', '{"title":5}', '{"participantIds":[0]}', '{"organizerId":2}']) {
      const response = await sendJson(`${u}/meetings/1`, body, 'PATCH')
      expect(response.status, body).toBe(400)
    }
    expect(m.delta()).toEqual({ queries: 0, hits: 0, misses: 0, loads: 0 })

    // Well-formed but wrong: unknown users and meetings are 422 and 404, checked against the database only.
    const unknown = await sendJson(`${u}/meetings`, { ...valid, participantIds: [2, 999] })
    expect(unknown).toEqual({ status: 422, body: { error: 'unknown users', userIds: [999] } })
    expect((await sendJson(`${u}/meetings/999`, '{"title":"x"}', 'PATCH')).status).toBe(404)
    expect((await request(`${u}/meetings/999`, { method: 'DELETE' })).status).toBe(404)
    expect((await request(`${u}/users/999`)).status).toBe(404)
    expect((await request(`${u}/users/999/meetings`)).status).toBe(404)
    expect(m.delta()).toMatchObject({ loads: 2, hits: 0 })

    // The cached list is untouched.
    expect((await request(`${u}/users/1/meetings`)).body).toHaveLength(4)
    expect(m.delta()).toEqual({ queries: 0, hits: 1, misses: 0, loads: 0 })
  })
})
