/**
 * meetings: per-user meeting lists, meeting details and user profiles, cached with different TTLs;
 * every write invalidates exactly the entries it changed, in one round trip, through tags.
 */
import { type CacheClient, type CacheClientOptions, createCacheClient } from 'cacheward'
import { Hono } from 'hono'
import * as z from 'zod'
import { type Backend, openBackend } from '../shared/backend.js'
import { type Database, openDatabase } from '../shared/db.js'
import { ApiError, body, Id, installErrorHandlers, limitBodies, param } from '../shared/http.js'

export const User = z.object({ id: z.number().int(), name: z.string(), email: z.string() })
export type User = z.infer<typeof User>
export const MeetingSummary = z.object({
  id: z.number().int(),
  title: z.string(),
  startsAt: z.string(),
  durationMinutes: z.number().int(),
  organizerId: z.number().int(),
})
export type MeetingSummary = z.infer<typeof MeetingSummary>
export const Meeting = MeetingSummary.extend({ participants: z.array(User.pick({ id: true, name: true })) })
export type Meeting = z.infer<typeof Meeting>
const MeetingList = z.array(MeetingSummary)

const id = z.number().int().min(1).max(2_147_483_647)
const participantIds = z.array(id).max(50)
const NewMeeting = z.strictObject({
  title: z.string().trim().min(1).max(200),
  organizerId: id,
  startsAt: z.iso.datetime({ offset: true }),
  durationMinutes: z.number().int().min(5).max(480),
  participantIds: participantIds.default([]),
})
const MeetingChanges = z
  .strictObject({
    title: z.string().trim().min(1).max(200),
    startsAt: z.iso.datetime({ offset: true }),
    durationMinutes: z.number().int().min(5).max(480),
    participantIds,
  })
  .partial()
  .refine((o) => Object.keys(o).length > 0, { message: 'give at least one field to change' })

export interface AppOptions {
  db?: Database
  backend?: Backend
  /** Merged into createCacheClient(...) last. */
  cacheOptions?: Partial<CacheClientOptions>
}

export interface ExampleApp {
  app: Hono
  db: Database
  cache: CacheClient
  close(): Promise<void>
}

// Each user's list carries its own tag, and each meeting's details theirs, so a write names exactly what it
// changed and invalidates all of it with one invalidateTags call. The entries themselves (keys, loaders,
// TTLs) are defined with cache.define() in createApp.
const tags = {
  userMeetings: (userId: number) => `meetings:user:${userId}`,
  meeting: (meetingId: number) => `meeting:${meetingId}`,
}
const TTL = { userMeetings: '5m', meeting: '10m', user: '30m' } as const

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meetings_users (
  id SERIAL PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meetings_meetings (
  id SERIAL PRIMARY KEY,
  title TEXT NOT NULL,
  organizer_id INTEGER NOT NULL REFERENCES meetings_users(id),
  starts_at TIMESTAMPTZ NOT NULL,
  duration_minutes INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meetings_participants (
  meeting_id INTEGER NOT NULL REFERENCES meetings_meetings(id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES meetings_users(id),
  PRIMARY KEY (meeting_id, user_id)
);`

async function seed(db: Database) {
  const [{ count } = { count: 0 }] = await db.query<{ count: number }>(
    'SELECT count(*)::int AS count FROM meetings_users',
  )
  if (count > 0) return
  const names = ['Ada', 'Grace', 'Linus', 'Margaret', 'Ken', 'Barbara', 'Dennis', 'Frances']
  for (const name of names) {
    await db.query('INSERT INTO meetings_users (name, email) VALUES ($1, $2)', [
      name,
      `${name.toLowerCase()}@example.com`,
    ])
  }
  const day = Date.UTC(2030, 0, 7, 9)
  for (let i = 0; i < 12; i++) {
    const organizer = (i % names.length) + 1
    const [row] = await db.query<{ id: number }>(
      'INSERT INTO meetings_meetings (title, organizer_id, starts_at, duration_minutes) VALUES ($1, $2, $3, $4) RETURNING id',
      [`Meeting ${i + 1}`, organizer, new Date(day + i * 3_600_000).toISOString(), 30],
    )
    const others = [((i + 1) % names.length) + 1, ((i + 3) % names.length) + 1]
    await db.query('INSERT INTO meetings_participants (meeting_id, user_id) SELECT $1, unnest($2::int[])', [
      row?.id,
      others,
    ])
  }
}

const toSummary = (row: Record<string, unknown>): MeetingSummary => ({
  id: Number(row.id),
  title: String(row.title),
  startsAt: new Date(row.starts_at as string | Date).toISOString(),
  durationMinutes: Number(row.duration_minutes),
  organizerId: Number(row.organizer_id),
})

export async function createApp(options: AppOptions = {}): Promise<ExampleApp> {
  const db = options.db ?? (await openDatabase())
  const backend = options.backend ?? (await openBackend())
  await db.exec(SCHEMA)
  await seed(db)

  const cache = createCacheClient({
    namespace: 'meetings',
    ...backend.cacheOptions,
    ...options.cacheOptions,
  })

  // Each kind of entry is defined once: key, loader, TTL, tags, schema and metrics category. Loaders return
  // null for an unknown id and skip the cache: an id that does not exist yet is not remembered.
  const userMeetings = cache.define({
    key: (userId: number) => `meetings:user:${userId}`,
    load: async ([userId], ctx) => {
      const rows = await db.query(
        `SELECT u.id AS user_id, m.id, m.title, m.starts_at, m.duration_minutes, m.organizer_id
         FROM meetings_users u
         LEFT JOIN meetings_meetings m ON m.organizer_id = u.id
           OR m.id IN (SELECT meeting_id FROM meetings_participants WHERE user_id = u.id)
         WHERE u.id = $1
         ORDER BY m.starts_at, m.id`,
        [userId],
      )
      if (rows.length === 0) {
        ctx.skipCache()
        return null
      }
      return rows.filter((row) => row.id !== null).map(toSummary)
    },
    ttl: TTL.userMeetings,
    tags: (userId) => [tags.userMeetings(userId)],
    schema: MeetingList.nullable(),
    category: 'list',
  })

  const meeting = cache.define({
    key: (meetingId: number) => `meeting:${meetingId}`,
    load: async ([meetingId], ctx): Promise<Meeting | null> => {
      const rows = await db.query(
        `SELECT m.id, m.title, m.starts_at, m.duration_minutes, m.organizer_id, u.id AS user_id, u.name AS user_name
         FROM meetings_meetings m
         LEFT JOIN meetings_participants p ON p.meeting_id = m.id
         LEFT JOIN meetings_users u ON u.id = p.user_id
         WHERE m.id = $1
         ORDER BY u.id`,
        [meetingId],
      )
      const [first] = rows
      if (!first) {
        ctx.skipCache()
        return null
      }
      const participants = rows
        .filter((row) => row.user_id !== null)
        .map((row) => ({ id: Number(row.user_id), name: String(row.user_name) }))
      return { ...toSummary(first), participants }
    },
    ttl: TTL.meeting,
    tags: (meetingId) => [tags.meeting(meetingId)],
    schema: Meeting.nullable(),
    category: 'meeting',
  })

  const user = cache.define({
    key: (userId: number) => `user:${userId}`,
    load: async ([userId], ctx): Promise<User | null> => {
      const [row] = await db.query('SELECT id, name, email FROM meetings_users WHERE id = $1', [userId])
      if (!row) {
        ctx.skipCache()
        return null
      }
      return { id: Number(row.id), name: String(row.name), email: String(row.email) }
    },
    ttl: TTL.user,
    schema: User.nullable(),
    category: 'user',
  })

  /** Organizer and participants of a meeting, read from the database (the source of truth). */
  async function attendees(meetingId: number): Promise<number[] | undefined> {
    const rows = await db.query<{ organizer_id: number; user_id: number | null }>(
      `SELECT m.organizer_id, p.user_id FROM meetings_meetings m
       LEFT JOIN meetings_participants p ON p.meeting_id = m.id WHERE m.id = $1`,
      [meetingId],
    )
    const [first] = rows
    if (!first) return undefined
    return [first.organizer_id, ...rows.flatMap((r) => (r.user_id === null ? [] : [r.user_id]))]
  }

  /** Ids (organizer and participants) that are not users; empty when all exist. */
  async function unknownUsers(ids: readonly number[]): Promise<number[]> {
    const unique = [...new Set(ids)]
    const rows = await db.query<{ id: number }>('SELECT id FROM meetings_users WHERE id = ANY($1::int[])', [unique])
    const found = new Set(rows.map((r) => r.id))
    return unique.filter((i) => !found.has(i))
  }

  /**
   * After a write: the meeting's details and the list of everyone it concerned before or concerns
   * after the write, in one call. Exact tags, not `invalidatePattern('meetings:user:*')`, which would
   * drop every user's list and scan the whole namespace to do it.
   */
  async function invalidateMeeting(meetingId: number, users: Iterable<number>): Promise<string[]> {
    const list = [tags.meeting(meetingId), ...[...new Set(users)].map(tags.userMeetings)]
    await cache.invalidateTags(list)
    return list
  }

  /** 422 when an id in a body is not a user: well-formed, but nothing to refer to. */
  async function requireUsers(ids: readonly number[]): Promise<void> {
    const missing = await unknownUsers(ids)
    if (missing.length > 0) throw new ApiError(422, 'unknown_users', `no user with id ${missing.join(', ')}`)
  }

  /** The attendees of a meeting before a write, or a 404. */
  async function attendeesOr404(meetingId: number): Promise<number[]> {
    const before = await attendees(meetingId)
    if (!before) throw new ApiError(404, 'not_found', `no meeting ${meetingId}`)
    return before
  }

  const app = new Hono()
  installErrorHandlers(app)
  limitBodies(app) // before the routes: an oversized body is refused before anything parses it

  app.get('/users/:id', async (c) => {
    const userId = param(c, 'id', Id)
    const found = await user.get(userId)
    if (!found) throw new ApiError(404, 'not_found', `no user ${userId}`)
    return c.json(found)
  })
  app.get('/users/:id/meetings', async (c) => {
    const userId = param(c, 'id', Id)
    const list = await userMeetings.get(userId)
    if (!list) throw new ApiError(404, 'not_found', `no user ${userId}`)
    return c.json(list)
  })
  app.get('/meetings/:id', async (c) => {
    const meetingId = param(c, 'id', Id)
    const found = await meeting.get(meetingId)
    if (!found) throw new ApiError(404, 'not_found', `no meeting ${meetingId}`)
    return c.json(found)
  })

  app.post('/meetings', async (c) => {
    const { title, organizerId, startsAt, durationMinutes, participantIds } = await body(c, NewMeeting)
    const participants = participantIds.filter((p) => p !== organizerId)
    await requireUsers([organizerId, ...participants])
    const [row] = await db.query<{ id: number }>(
      'INSERT INTO meetings_meetings (title, organizer_id, starts_at, duration_minutes) VALUES ($1, $2, $3, $4) RETURNING id',
      [title, organizerId, startsAt, durationMinutes],
    )
    const meetingId = Number(row?.id)
    if (participants.length > 0) {
      await db.query('INSERT INTO meetings_participants (meeting_id, user_id) SELECT $1, unnest($2::int[])', [
        meetingId,
        [...new Set(participants)],
      ])
    }
    const invalidated = await invalidateMeeting(meetingId, [organizerId, ...participants])
    return c.json({ id: meetingId, invalidated }, 201)
  })

  app.patch('/meetings/:id', async (c) => {
    const meetingId = param(c, 'id', Id)
    const changes = await body(c, MeetingChanges)
    const before = await attendeesOr404(meetingId)
    const organizerId = before[0] as number
    const { title, startsAt, durationMinutes } = changes
    const next = changes.participantIds?.filter((p) => p !== organizerId)
    if (next) await requireUsers(next)
    if (title !== undefined || startsAt !== undefined || durationMinutes !== undefined) {
      await db.query(
        `UPDATE meetings_meetings SET title = COALESCE($2, title), starts_at = COALESCE($3, starts_at),
           duration_minutes = COALESCE($4, duration_minutes) WHERE id = $1`,
        [meetingId, title ?? null, startsAt ?? null, durationMinutes ?? null],
      )
    }
    if (next) {
      await db.query('DELETE FROM meetings_participants WHERE meeting_id = $1', [meetingId])
      if (next.length > 0) {
        await db.query('INSERT INTO meetings_participants (meeting_id, user_id) SELECT $1, unnest($2::int[])', [
          meetingId,
          [...new Set(next)],
        ])
      }
    }
    // Everyone who saw the meeting before (a removed participant must stop seeing it) and everyone who sees it now.
    const invalidated = await invalidateMeeting(meetingId, [...before, ...(next ?? [])])
    return c.json({ id: meetingId, invalidated })
  })

  app.delete('/meetings/:id', async (c) => {
    const meetingId = param(c, 'id', Id)
    const before = await attendeesOr404(meetingId)
    await db.query('DELETE FROM meetings_meetings WHERE id = $1', [meetingId])
    const invalidated = await invalidateMeeting(meetingId, before)
    return c.json({ id: meetingId, invalidated })
  })

  app.get('/health', async (c) => {
    const [cacheHealth, dbHealth] = await Promise.all([cache.health(), checkDatabase(db)])
    const ok = cacheHealth.ok && dbHealth.ok
    const report = {
      ok,
      cache: { ...cacheHealth, backend: backend.kind, latencyMs: round(cacheHealth.latencyMs) },
      database: { ...dbHealth, kind: db.kind },
    }
    return c.json(report, ok ? 200 : 503)
  })
  app.get('/admin/metrics', (c) => c.json(cache.metrics()))

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

const round = (ms: number) => Math.round(ms * 100) / 100

async function checkDatabase(db: Database): Promise<{ ok: boolean; latencyMs: number; error?: string }> {
  const started = performance.now()
  try {
    await db.query('SELECT 1')
    return { ok: true, latencyMs: round(performance.now() - started) }
  } catch {
    // The driver's message may carry a host name or user; say only that it failed.
    return { ok: false, latencyMs: round(performance.now() - started), error: 'the database did not answer' }
  }
}
