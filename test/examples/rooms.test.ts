/**
 * The rooms example end to end over real HTTP: cache-first reads, tag invalidation on POST, the
 * server-rendered page, warming, reconciliation and environment TTLs, on memory and on real Redis.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { type AppOptions, createApp, type ExampleApp, type Logger } from '../../examples/rooms/app.js'
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

const ns = keygen('rooms')
const cleanup = cleanupAfterEach()

type Running = Served<ExampleApp>

async function start(options: AppOptions = {}): Promise<Running> {
  const example = await createApp({ env: 'production', ...options })
  return serveForTest(example, cleanup, example.settings.cacheEnabled)
}

describe.each(['memory', 'redis'] as const)('rooms on %s', (kind) => {
  let backend: Backend
  beforeAll(async () => {
    backend = await openBackend(backendEnv(kind))
  })
  afterAll(async () => backend.close())

  it('serves warmed rooms without the database, and reloads the list once after POST /rooms', async () => {
    const rooms = await start({ backend, cacheOptions: { namespace: ns() } })
    rooms.delta()

    // Warming loaded everything: the first requests are hits.
    const all = await request(`${rooms.url}/rooms`)
    expect(all.status).toBe(200)
    expect(all.body).toHaveLength(5)
    expect(await request(`${rooms.url}/rooms/2`)).toEqual({
      status: 200,
      body: { id: 2, name: 'Blue room', capacity: 8, floor: 1 },
    })
    expect(rooms.delta()).toEqual({ queries: 0, hits: 2, misses: 0, loads: 0 })

    const created = await sendJson(`${rooms.url}/rooms`, { name: 'Studio', capacity: 4 })
    expect(created).toEqual({ status: 201, body: { id: 6, name: 'Studio', capacity: 4, floor: 0 } })
    expect(rooms.delta().queries).toBe(1) // the INSERT

    const after = await request(`${rooms.url}/rooms`)
    expect(after.body.map((r: { name: string }) => r.name)).toContain('Studio')
    expect(rooms.delta()).toEqual({ queries: 1, hits: 0, misses: 1, loads: 1 })
    await request(`${rooms.url}/rooms`)
    expect(rooms.delta()).toEqual({ queries: 0, hits: 1, misses: 0, loads: 0 })

    // Only the list was invalidated: room 2 is still a hit; the new room loads once.
    await request(`${rooms.url}/rooms/2`)
    expect(rooms.delta()).toMatchObject({ queries: 0, hits: 1 })
    expect((await request(`${rooms.url}/rooms/6`)).body.name).toBe('Studio')
    expect(rooms.delta()).toMatchObject({ queries: 1, loads: 1 })
    await request(`${rooms.url}/rooms/6`)
    expect(rooms.delta()).toMatchObject({ queries: 0, hits: 1 })

    // An unknown id is not cached: it may be created next.
    expect((await request(`${rooms.url}/rooms/999`)).status).toBe(404)
    expect((await request(`${rooms.url}/rooms/999`)).status).toBe(404)
    expect(rooms.delta().queries).toBe(2)
  })

  it('reconcile() finds rows changed behind the cache, fixes them and reports them', async () => {
    const warnings: object[] = []
    const logger: Logger = { info() {}, warn: (details) => void warnings.push(details) }
    const rooms = await start({ backend, logger, reconcileEveryMs: 0, cacheOptions: { namespace: ns() } })

    await rooms.db.query("UPDATE rooms_rooms SET name = 'Blue room (renovated)' WHERE id = 2")
    await rooms.db.query('DELETE FROM rooms_rooms WHERE id = 5')
    // The cache does not know yet.
    expect((await request(`${rooms.url}/rooms/2`)).body.name).toBe('Blue room')
    expect(await request(`${rooms.url}/admin/sync`)).toEqual({
      status: 200,
      body: { lastSyncAt: null, checked: 0, fixed: 0 },
    })

    const report = await rooms.reconcile()
    expect(report.fixedKeys.sort()).toEqual(['room:2', 'room:5', 'rooms:all'])
    expect(report.checked).toBe(6) // the list and five rooms
    expect(warnings).toEqual([{ checked: 6, fixed: 3, keys: report.fixedKeys }])
    const sync = await request(`${rooms.url}/admin/sync`)
    expect(sync.body).toEqual({ lastSyncAt: report.lastSyncAt, checked: 6, fixed: 3 })
    expect(Date.parse(sync.body.lastSyncAt)).not.toBeNaN()

    // Fixed entries were refreshed by the job: the requests after it hit the cache and see the truth.
    rooms.delta()
    expect((await request(`${rooms.url}/rooms/2`)).body.name).toBe('Blue room (renovated)')
    expect((await request(`${rooms.url}/rooms`)).body.map((r: { id: number }) => r.id)).toEqual([1, 2, 3, 4])
    expect(rooms.delta()).toMatchObject({ queries: 0, hits: 2 })
    expect((await request(`${rooms.url}/rooms/5`)).status).toBe(404)

    expect(await rooms.reconcile()).toMatchObject({ fixed: 0, fixedKeys: [] })
  })
})

describe('rooms', () => {
  it('runs reconciliation on its timer (and stops it on close)', async () => {
    const rooms = await start({ reconcileEveryMs: 20 })
    await rooms.db.query('UPDATE rooms_rooms SET capacity = 99 WHERE id = 1')
    await vi.waitFor(
      async () => {
        expect((await request(`${rooms.url}/rooms/1`)).body.capacity).toBe(99)
      },
      { timeout: 10_000, interval: 50 },
    )
    expect((await request(`${rooms.url}/admin/sync`)).body.lastSyncAt).not.toBeNull()
  })

  it('embeds the initial rooms in the page, escaped so a name cannot close the script element', async () => {
    const rooms = await start()
    const hostile = '</script><script>alert(1)</script> & "quotes"'
    expect((await sendJson(`${rooms.url}/rooms`, { name: hostile, capacity: 2 })).status).toBe(201)
    const response = await fetch(`${rooms.url}/`)
    expect(response.headers.get('content-type')).toMatch(/^text\/html/)
    const html = await response.text()
    expect(html).not.toContain('<script>alert(1)')
    const embedded = html.match(/<script type="application\/json" id="initial-rooms">(.*?)<\/script>/s)?.[1]
    expect(embedded).toBeDefined()
    expect(embedded).not.toContain('<')
    const data = JSON.parse(embedded as string) as Array<{ name: string }>
    expect(data.map((r) => r.name)).toEqual(['Atrium', 'Blue room', 'Green room', 'Library', 'Boardroom', hostile])
    expect(html).toContain(
      '<strong>&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;</strong>',
    )
  })

  it('answers malformed ids and bodies with 4xx JSON errors, without touching the database or the cache', async () => {
    const rooms = await start()
    rooms.delta()
    for (const id of ['abc', '-1', '0', '1.5', '1e3', '007', '99999999999', '2147483648', '%20']) {
      const response = await request(`${rooms.url}/rooms/${id}`)
      expect(response, id).toEqual({ status: 400, body: apiError('invalid_param') })
      expect(response.body.error.message, id).toMatch(/^id: /)
    }
    const bodies: Array<[string, string]> = [
      ['{not json', 'invalid_json'],
      ['', 'invalid_json'],
      ['null', 'invalid_body'],
      ['[]', 'invalid_body'],
      ['{}', 'invalid_body'],
      ['{"name":"A"}', 'invalid_body'],
      ['{"name":"","capacity":3}', 'invalid_body'],
      ['{"name":"A","capacity":"3"}', 'invalid_body'],
      ['{"name":"A","capacity":1.5}', 'invalid_body'],
      ['{"name":"A","capacity":-1}', 'invalid_body'],
      ['{"name":"A","capacity":3,"floor":"x"}', 'invalid_body'],
      ['{"name":"A","capacity":3,"admin":true}', 'invalid_body'],
      [`{"name":"${'x'.repeat(101)}","capacity":3}`, 'invalid_body'],
    ]
    for (const [body, code] of bodies) {
      expect(await sendJson(`${rooms.url}/rooms`, body), body).toEqual({ status: 400, body: apiError(code) })
    }
    const huge = await sendJson(`${rooms.url}/rooms`, { name: 'x'.repeat(20_000), capacity: 1 })
    expect(huge).toEqual({ status: 413, body: apiError('body_too_large') })
    expect(rooms.delta()).toEqual({ queries: 0, hits: 0, misses: 0, loads: 0 })
    // The cache still serves the same, untouched list.
    expect((await request(`${rooms.url}/rooms`)).body).toHaveLength(5)
    expect(rooms.delta()).toEqual({ queries: 0, hits: 1, misses: 0, loads: 0 })
    // Not found, whether a room or a route, has the same shape.
    expect(await request(`${rooms.url}/rooms/999`)).toEqual({ status: 404, body: apiError('not_found') })
    expect(await request(`${rooms.url}/nope`)).toEqual({ status: 404, body: apiError('not_found') })
  })

  it('refuses a 5 MB body with a 413 before parsing it, announced or streamed', async () => {
    const rooms = await start()
    rooms.delta()
    for (const reply of await sendOversized(`${rooms.url}/rooms`)) {
      expect(reply).toEqual({ status: 413, body: apiError('body_too_large') })
    }
    expect(rooms.delta()).toEqual({ queries: 0, hits: 0, misses: 0, loads: 0 })
    // A body within the limit still goes through.
    expect((await sendJson(`${rooms.url}/rooms`, { name: 'Studio', capacity: 4 })).status).toBe(201)
  })

  it('test environment: caching is off (no warming, every request reaches the database)', async () => {
    const rooms = await start({ env: 'test' })
    expect(rooms.settings).toMatchObject({ env: 'test', cacheEnabled: false })
    rooms.delta()
    await request(`${rooms.url}/rooms`)
    await request(`${rooms.url}/rooms`)
    await request(`${rooms.url}/rooms/1`)
    expect(rooms.delta()).toMatchObject({ queries: 3, hits: 0, loads: 3 })
  })

  it('development environment: TTLs are a tenth of production, and they reach the backend', async () => {
    const backend = await openBackend(backendEnv('redis'))
    cleanup(() => backend.close())
    const namespace = ns()
    const dev = await start({ env: 'development', backend, cacheOptions: { namespace } })
    expect(dev.settings).toEqual({ env: 'development', cacheEnabled: true, ttlMs: { list: 30_000, room: 60_000 } })
    const pttl = await backend.redis?.pttl(`${namespace}:rooms:all`)
    expect(pttl).toBeGreaterThan(20_000)
    expect(pttl).toBeLessThanOrEqual(30_000)
    dev.delta()
    await request(`${dev.url}/rooms`)
    expect(dev.delta()).toMatchObject({ queries: 0, hits: 1 })
  })

  it('production environment: full TTLs', async () => {
    const backend = await openBackend(backendEnv('redis'))
    cleanup(() => backend.close())
    const namespace = ns()
    const prod = await start({ env: 'production', backend, cacheOptions: { namespace } })
    expect(prod.settings).toEqual({ env: 'production', cacheEnabled: true, ttlMs: { list: 300_000, room: 600_000 } })
    const pttl = await backend.redis?.pttl(`${namespace}:room:1`)
    expect(pttl).toBeGreaterThan(500_000)
    expect(pttl).toBeLessThanOrEqual(600_000)
  })

  it('takes its environment from NODE_ENV when none is given', async () => {
    const rooms = await createApp({ reconcileEveryMs: 0 })
    cleanup(() => rooms.close())
    expect(rooms.settings.env).toBe('test') // vitest sets NODE_ENV=test
    expect(rooms.settings.cacheEnabled).toBe(false)
  })
})
