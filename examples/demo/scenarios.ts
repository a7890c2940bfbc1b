/**
 * The request mix the demo sends to each example app: mostly reads, a few writes, each write followed
 * by the read that shows what its invalidation did. Plans are built from a seeded generator and do not
 * depend on responses, so the runs with and without the cache send exactly the same requests.
 */
import type { CacheClient, CacheClientOptions } from 'cacheward'
import type { Backend } from '../shared/backend.js'
import type { Database } from '../shared/db.js'

export interface DemoRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  path: string
  body?: unknown
  /** The route, for the report (`POST /builds/:id/like`); defaults to method and path. */
  route?: string
}

export interface Step {
  request: DemoRequest
  /** For a write: the read sent right after it, to show what the invalidation made that read do. */
  next?: DemoRequest
}

/** What the demo needs from an example app (every example's `createApp` returns at least this). */
export interface DemoApp {
  app: { request(input: string, init?: RequestInit): Response | Promise<Response> }
  db: Database
  cache: CacheClient
  close(): Promise<void>
}
export type CreateApp = (options?: {
  db?: Database
  backend?: Backend
  cacheOptions?: Partial<CacheClientOptions>
  /** chat only: where its data structures live in Redis (each run gets its own). */
  structuresPrefix?: string
}) => Promise<DemoApp>

export interface Scenario {
  name: string
  /** One line on what the mix is. */
  mix: string
  load(): Promise<CreateApp>
  /** About `count` requests (a write and its follow-up read count as two). */
  plan(count: number, random: () => number): Step[]
  /** Extra createApp options, given the run's cache namespace. */
  options?: (namespace: string) => { structuresPrefix?: string }
}

/** A seeded PRNG (mulberry32): the same seed gives the same plan on every machine. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** 1..n, skewed towards small numbers: a few hot ids, a long tail, as real traffic looks. */
const skewed = (random: () => number, n: number) => 1 + Math.floor(n * random() ** 2)
const oneOf = <T>(random: () => number, items: readonly T[]) => items[Math.floor(random() * items.length)] as T
const get = (path: string, route?: string): DemoRequest => ({ method: 'GET', path, ...(route ? { route } : {}) })

function planned(count: number, next: () => Step): Step[] {
  const steps: Step[] = []
  let requests = 0
  while (requests < count) {
    const step = next()
    steps.push(step)
    requests += step.next ? 2 : 1
  }
  return steps
}

const rooms: Scenario = {
  name: 'rooms',
  mix: '30% GET /rooms, 10% GET / (HTML), 56% GET /rooms/:id, 4% POST /rooms',
  load: async () => (await import('../rooms/app.js')).createApp,
  plan(count, random) {
    let total = 5 // seeded rooms
    return planned(count, () => {
      const r = random()
      if (r < 0.04) {
        total++
        return {
          request: { method: 'POST', path: '/rooms', body: { name: `Demo room ${total}`, capacity: 2 + (total % 12) } },
          next: get('/rooms'),
        }
      }
      if (r < 0.34) return { request: get('/rooms') }
      if (r < 0.44) return { request: get('/') }
      return { request: get(`/rooms/${skewed(random, total)}`, 'GET /rooms/:id') }
    })
  },
}

const meetings: Scenario = {
  name: 'meetings',
  mix: '45% GET /users/:id/meetings, 30% GET /meetings/:id, 20% GET /users/:id, 5% POST/PATCH/DELETE /meetings',
  load: async () => (await import('../meetings/app.js')).createApp,
  plan(count, random) {
    const users = 8
    // Seeded meetings 1..12, organised by users 1..8 in turn.
    const organizer = new Map(Array.from({ length: 12 }, (_, i) => [i + 1, (i % users) + 1]))
    let lastId = 12
    let writes = 0
    const alive = () => [...organizer.keys()]
    return planned(count, () => {
      const r = random()
      if (r < 0.05) {
        const kind = writes++ % 3
        const created = alive().filter((id) => id > 12)
        if (kind === 0 || (kind === 2 && created.length === 0)) {
          const by = skewed(random, users)
          const with_ = (by % users) + 1
          organizer.set(++lastId, by)
          return {
            request: {
              method: 'POST',
              path: '/meetings',
              body: {
                title: `Demo meeting ${lastId}`,
                organizerId: by,
                startsAt: new Date(Date.UTC(2030, 1, 1, 9) + lastId * 3_600_000).toISOString(),
                durationMinutes: 30,
                participantIds: [with_],
              },
            },
            next: get(`/users/${by}/meetings`, 'GET /users/:id/meetings'),
          }
        }
        if (kind === 1) {
          const id = oneOf(random, alive())
          return {
            request: {
              method: 'PATCH',
              path: `/meetings/${id}`,
              body: { title: `Renamed ${writes}` },
              route: 'PATCH /meetings/:id',
            },
            next: get(`/meetings/${id}`, 'GET /meetings/:id'),
          }
        }
        const id = oneOf(random, created)
        const by = organizer.get(id) as number
        organizer.delete(id)
        return {
          request: { method: 'DELETE', path: `/meetings/${id}`, route: 'DELETE /meetings/:id' },
          next: get(`/users/${by}/meetings`, 'GET /users/:id/meetings'),
        }
      }
      if (r < 0.5) return { request: get(`/users/${skewed(random, users)}/meetings`, 'GET /users/:id/meetings') }
      if (r < 0.8) return { request: get(`/meetings/${oneOf(random, alive())}`, 'GET /meetings/:id') }
      return { request: get(`/users/${skewed(random, users)}`, 'GET /users/:id') }
    })
  },
}

const builds: Scenario = {
  name: 'builds',
  mix: '40% listings, 35% GET /builds/:id, 15% user lists, 5% GET /classes, 5% likes and new builds',
  load: async () => (await import('../builds/app.js')).createApp,
  plan(count, random) {
    const classes = ['warrior', 'ranger', 'mage', 'cleric', 'rogue']
    const users = 8
    let total = 64 // seeded builds
    return planned(count, () => {
      const r = random()
      if (r < 0.035) {
        const id = skewed(random, total)
        return {
          request: {
            method: 'POST',
            path: `/builds/${id}/like`,
            body: { userId: 1 + Math.floor(random() * users) },
            route: 'POST /builds/:id/like',
          },
          next: get(`/builds/${id}`, 'GET /builds/:id'),
        }
      }
      if (r < 0.05) {
        total++
        return {
          request: {
            method: 'POST',
            path: '/builds',
            body: { title: `Demo build ${total}`, class: oneOf(random, classes), authorId: skewed(random, users) },
          },
          next: get('/builds?page=1', 'GET /builds'),
        }
      }
      if (r < 0.35) return { request: get(`/builds?page=${skewed(random, 3)}`, 'GET /builds') }
      if (r < 0.45) return { request: get(`/builds?class=${oneOf(random, classes)}`, 'GET /builds?class=') }
      if (r < 0.8) return { request: get(`/builds/${skewed(random, total)}`, 'GET /builds/:id') }
      if (r < 0.9) return { request: get(`/users/${skewed(random, users)}/builds`, 'GET /users/:id/builds') }
      if (r < 0.95) return { request: get(`/users/${skewed(random, users)}/likes`, 'GET /users/:id/likes') }
      return { request: get('/classes') }
    })
  },
}

const chat: Scenario = {
  name: 'chat',
  mix: '35% session lists, 20% latest messages, 15% credits, 10% search, 10% stats, 5% unread, 5% POST messages',
  load: async () => (await import('../chat/app.js')).createApp,
  plan(count, random) {
    // Seeded sessions 1..36: 1..25 owned by user 1, the rest by users 2..5; the peer is never the owner.
    const sessions = Array.from({ length: 36 }, (_, i) => {
      const owner = i < 25 ? 1 : 2 + (i % 4)
      return { id: i + 1, owner, peer: ((owner + 1 + (i % 4)) % 6) + 1 }
    })
    const words = ['raid', 'lisbon', 'triage', 'book', 'boxes', 'gift']
    let sent = 0
    return planned(count, () => {
      const r = random()
      const session = sessions[skewed(random, sessions.length) - 1] as (typeof sessions)[number]
      const user = skewed(random, 6)
      if (r < 0.05) {
        const from = random() < 0.5 ? session.owner : session.peer
        return {
          request: {
            method: 'POST',
            path: `/sessions/${session.id}/messages`,
            body: { userId: from, text: `demo message ${++sent}` },
            route: 'POST /sessions/:id/messages',
          },
          next: get(`/users/${from}/sessions?page=1`, 'GET /users/:id/sessions'),
        }
      }
      if (r < 0.4)
        return { request: get(`/users/${user}/sessions?page=${skewed(random, 2)}`, 'GET /users/:id/sessions') }
      if (r < 0.6) {
        const path = `/sessions/${session.id}/messages/latest?userId=${session.owner}`
        return { request: get(path, 'GET /sessions/:id/messages/latest') }
      }
      if (r < 0.75) return { request: get(`/users/${user}/credits`, 'GET /users/:id/credits') }
      if (r < 0.85) return { request: get(`/search?q=${oneOf(random, words)}`, 'GET /search') }
      if (r < 0.95) return { request: get('/stats') }
      return { request: get(`/users/${user}/unread`, 'GET /users/:id/unread') }
    })
  },
  options: (namespace) => ({ structuresPrefix: `${namespace}:live` }),
}

/** The apps the demo runs, in order. Adding an example is one entry here. */
export const scenarios: Scenario[] = [rooms, meetings, builds, chat]
