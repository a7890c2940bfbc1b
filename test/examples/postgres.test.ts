/**
 * The examples' DATABASE_URL path: each app over a real PostgreSQL server (its own database), through
 * the `pg` driver, with the same reads, writes and invalidations the PGlite tests make. Catches what the
 * two drivers return differently (bigint counts, timestamps as Date objects, numeric strings).
 *
 * Needs PostgreSQL installed (CI installs it). Without it, set CACHEWARD_SKIP_POSTGRES=1 to leave this file
 * out; CI never sets it, so a missing server there is a failure, not a skip.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openBackend } from '../../examples/shared/backend.js'
import { type Database, openDatabase } from '../../examples/shared/db.js'
import { findPostgresBin, type PostgresServer, startPostgres } from '../support/postgres.js'
import { type Listening, listen, request, sendJson } from './support.js'

const skip = process.env.CACHEWARD_SKIP_POSTGRES === '1'
if (!skip && !findPostgresBin()) {
  throw new Error(
    'PostgreSQL is not installed (apt-get install -y postgresql); set CACHEWARD_SKIP_POSTGRES=1 to leave out the examples’ PostgreSQL tests',
  )
}

interface Running {
  db: Database
  http: Listening
  close(): Promise<void>
}

describe.skipIf(skip)('the examples over PostgreSQL (DATABASE_URL)', () => {
  let pg: PostgresServer
  const running: Running[] = []
  beforeAll(async () => {
    pg = await startPostgres()
  }, 60_000)
  afterAll(async () => {
    for (const r of running) await r.close()
    await pg?.stop()
  })

  /** A fresh database for one app, opened the way the app opens DATABASE_URL, and the app served over HTTP. */
  async function start<A extends { app: Parameters<typeof listen>[0]; close(): Promise<void> }>(
    name: string,
    create: (options: { db: Database; backend: Awaited<ReturnType<typeof openBackend>> }) => Promise<A>,
  ): Promise<Running & { example: A }> {
    const admin = await openDatabase({ url: pg.url() })
    await admin.exec(`CREATE DATABASE ex_${name}`)
    await admin.close()
    const db = await openDatabase({ url: pg.url(`ex_${name}`) })
    expect(db.kind).toBe('postgres')
    const backend = await openBackend({})
    const example = await create({ db, backend })
    const http = await listen(example.app)
    const r = {
      db,
      http,
      example,
      async close() {
        await http.close()
        await example.close()
        await db.close()
      },
    }
    running.push(r)
    return r
  }

  /** Runs `fn` and returns how many database queries it made. */
  async function queries(db: Database, fn: () => Promise<unknown>): Promise<number> {
    return (await counted(db, fn))[1]
  }

  /** Runs `fn` and returns its result and how many database queries it made. */
  async function counted<T>(db: Database, fn: () => Promise<T>): Promise<[T, number]> {
    const before = db.queries
    const result = await fn()
    return [result, db.queries - before]
  }

  it('rooms: warmed reads, a create through RETURNING, the list reloaded once', async () => {
    const { createApp } = await import('../../examples/rooms/app.js')
    const { db, http } = await start('rooms', (o) =>
      createApp({ ...o, env: 'production', reconcileEveryMs: 0, cacheOptions: { namespace: 'pg-rooms' } }),
    )
    await request(`${http.url}/rooms`)
    const [rooms, warm] = await counted(db, () => request(`${http.url}/rooms`))
    expect(warm).toBe(0)
    expect(rooms.body.length).toBeGreaterThan(0)
    expect(typeof rooms.body[0].id).toBe('number')
    const created = await sendJson(`${http.url}/rooms`, { name: 'Studio', capacity: 4, floor: 2 })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ name: 'Studio', capacity: 4, floor: 2, id: expect.any(Number) })
    const [after, reload] = await counted(db, () => request(`${http.url}/rooms`))
    expect(reload).toBe(1)
    expect(after.body.map((r: { name: string }) => r.name)).toContain('Studio')
    expect((await request(`${http.url}/rooms/${created.body.id}`)).status).toBe(200)
  })

  it('meetings: a list cached, a meeting created with a timestamp, both users’ lists reloaded', async () => {
    const { createApp } = await import('../../examples/meetings/app.js')
    const { db, http } = await start('meetings', (o) => createApp({ ...o, cacheOptions: { namespace: 'pg-meetings' } }))
    const first = await request(`${http.url}/users/1/meetings`)
    expect(first.status).toBe(200)
    expect(await queries(db, () => request(`${http.url}/users/1/meetings`))).toBe(0)
    const created = await sendJson(`${http.url}/meetings`, {
      title: 'Postgres sync',
      organizerId: 1,
      startsAt: '2026-12-01T09:00:00Z',
      durationMinutes: 30,
      participantIds: [2],
    })
    expect(created.status).toBe(201)
    const details = await request(`${http.url}/meetings/${created.body.id}`)
    expect(details.status).toBe(200)
    expect(details.body).toMatchObject({ title: 'Postgres sync', durationMinutes: 30 })
    expect(new Date(details.body.startsAt).toISOString()).toBe('2026-12-01T09:00:00.000Z')
    const list = await request(`${http.url}/users/2/meetings`)
    expect(JSON.stringify(list.body)).toContain('Postgres sync')
    expect((await request(`${http.url}/health`)).body.database).toMatchObject({ ok: true, kind: 'postgres' })
  })

  it('builds: listings and classes cached, a new build invalidates the listings', async () => {
    const { createApp } = await import('../../examples/builds/app.js')
    const { db, http } = await start('builds', (o) => createApp({ ...o, cacheOptions: { namespace: 'pg-builds' } }))
    expect((await request(`${http.url}/classes`)).status).toBe(200)
    const listing = await request(`${http.url}/builds`)
    expect(listing.status).toBe(200)
    expect(await queries(db, () => request(`${http.url}/builds`))).toBe(0)
    const created = await sendJson(`${http.url}/builds`, { title: 'Glass cannon', class: 'mage', authorId: 1 })
    expect(created.status).toBe(201)
    expect(JSON.stringify((await request(`${http.url}/builds?class=mage`)).body)).toContain('Glass cannon')
    const detail = await request(`${http.url}/builds/${created.body.id}`)
    expect(detail.status).toBe(200)
    expect(typeof detail.body.likes === 'number' || detail.body.likes === undefined).toBe(true)
  })

  it('chat: stats and pages cached, a message spends a credit and reloads the pages', async () => {
    const { createApp } = await import('../../examples/chat/app.js')
    const { db, http } = await start('chat', (o) =>
      createApp({ ...o, structuresPrefix: 'pg-chat-live', cacheOptions: { namespace: 'pg-chat' } }),
    )
    const stats = await request(`${http.url}/stats`)
    expect(stats.status).toBe(200)
    for (const value of Object.values(stats.body)) expect(typeof value).toBe('number')
    const page = await request(`${http.url}/users/1/sessions?page=1`)
    expect(page.status).toBe(200)
    expect(await queries(db, () => request(`${http.url}/users/1/sessions?page=1`))).toBe(0)
    const credits = (await request(`${http.url}/users/1/credits`)).body
    const sessionId = page.body.items[0].id
    const sent = await sendJson(`${http.url}/sessions/${sessionId}/messages`, { userId: 1, text: 'over postgres' })
    expect(sent.status).toBeLessThan(300)
    const after = (await request(`${http.url}/users/1/credits`)).body
    expect(JSON.stringify(after)).not.toBe(JSON.stringify(credits))
    expect((await request(`${http.url}/search?q=over postgres`)).status).toBe(200)
  })
})
