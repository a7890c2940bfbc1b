import { Redis as Upstash } from '@upstash/redis'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import {
  type ChatStructures,
  ioredisStructures,
  type LatestMessage,
  memoryStructures,
  upstashStructures,
} from '../../examples/chat/structures.js'
import { keygen } from '../support/keygen.js'

const nextPrefix = keygen('chat-live')
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const clients: Redis[] = []
afterAll(async () => {
  for (const redis of clients) {
    // Remove this run's keys (a bounded SCAN over the test prefix), then disconnect.
    const stream = redis.scanStream({ match: 'chat-live*', count: 500 })
    for await (const keys of stream as AsyncIterable<string[]>) {
      const mine = keys.filter((key) => prefixes.some((prefix) => key.startsWith(`${prefix}:`)))
      if (mine.length > 0) await redis.del(...mine)
    }
    await redis.quit()
  }
})
const prefixes: string[] = []
const prefix = () => {
  const p = nextPrefix()
  prefixes.push(p)
  return p
}

const implementations: Array<[string, () => ChatStructures]> = [
  ['in-process', () => memoryStructures()],
  [
    'ioredis',
    () => {
      const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 })
      clients.push(redis)
      return ioredisStructures(redis, { prefix: prefix() })
    },
  ],
  [
    '@upstash/redis',
    () =>
      upstashStructures(new Upstash({ url: inject('upstashUrl'), token: inject('upstashToken'), retry: false }), {
        prefix: prefix(),
      }),
  ],
  [
    '@upstash/redis without automatic deserialization',
    () =>
      upstashStructures(
        new Upstash({
          url: inject('upstashUrl'),
          token: inject('upstashToken'),
          retry: false,
          automaticDeserialization: false,
        }),
        { prefix: prefix() },
      ),
  ],
]

const message = (id: number, sessionId = 1): LatestMessage => ({
  id,
  sessionId,
  userId: (id % 3) + 1,
  text: `message ${id} with "quotes", {braces} and ünïcode`,
  createdAt: new Date(Date.UTC(2024, 0, 1, 0, 0, id)).toISOString(),
})

describe.each(implementations)('chat structures on %s', (_name, make) => {
  const s = make()

  it('keeps a user online while heartbeats arrive and forgets them when the ttl passes', async () => {
    expect(await s.online([1, 2, 3])).toEqual([])
    await s.heartbeat(1, 1)
    await s.heartbeat(3, 60)
    expect(await s.online([1, 2, 3])).toEqual([1, 3])
    expect(await s.online([3, 1])).toEqual([3, 1])
    expect(await s.online([])).toEqual([])

    // Wait until user 1's presence expires (state, not timing: poll with a generous bound).
    let online = await s.online([1, 2, 3])
    for (let i = 0; i < 60 && online.includes(1); i++) {
      await sleep(100)
      online = await s.online([1, 2, 3])
    }
    expect(online).toEqual([3])

    await s.heartbeat(1, 60) // a heartbeat brings the user back
    expect(await s.online([1, 2, 3])).toEqual([1, 3])
  })

  it('refreshes presence on every heartbeat', async () => {
    await s.heartbeat(7, 1)
    await s.heartbeat(7, 60) // a longer refresh replaces the short period
    await sleep(1_300)
    expect(await s.online([7])).toEqual([7])
  })

  it('counts unread messages per session and resets one session on read', async () => {
    expect(await s.unread(10)).toEqual({})
    expect(await s.addUnread(10, 5)).toBe(1)
    expect(await s.addUnread(10, 5)).toBe(2)
    expect(await s.addUnread(10, 6, 3)).toBe(3)
    expect(await s.addUnread(11, 5)).toBe(1)
    expect(await s.unread(10)).toEqual({ '5': 2, '6': 3 })
    await s.markRead(10, 5)
    expect(await s.unread(10)).toEqual({ '6': 3 })
    await s.markRead(10, 99) // reading a session with nothing unread is fine
    expect(await s.unread(11)).toEqual({ '5': 1 })
  })

  it('remembers deleted conversations per user', async () => {
    expect(await s.deleted(20)).toEqual([])
    expect(await s.isDeleted(20, 3)).toBe(false)
    await s.markDeleted(20, 30)
    await s.markDeleted(20, 3)
    await s.markDeleted(20, 3)
    expect(await s.isDeleted(20, 3)).toBe(true)
    expect(await s.isDeleted(21, 3)).toBe(false)
    expect(await s.deleted(20)).toEqual([3, 30])
  })

  it('keeps the latest 100 messages in order after 150 are pushed', async () => {
    expect(await s.latest(40)).toEqual([])
    expect(await s.size(40)).toBe(0)
    // One at a time for the first 120, then a batch of 30 out of order.
    for (let id = 1; id <= 120; id++) await s.pushMessages(40, [message(id, 40)])
    await s.pushMessages(
      40,
      Array.from({ length: 30 }, (_, i) => message(150 - i, 40)),
    )
    const latest = await s.latest(40)
    expect(latest).toHaveLength(100)
    expect(latest.map((m) => m.id)).toEqual(Array.from({ length: 100 }, (_, i) => i + 51))
    expect(latest[0]).toEqual(message(51, 40))
    expect(latest[99]).toEqual(message(150, 40))
    expect(await s.size(40)).toBe(100)
    expect(await s.latest(41)).toEqual([])
  })
})
