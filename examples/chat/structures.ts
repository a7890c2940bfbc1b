/**
 * The Redis data structures a chat app needs beyond cache-aside, behind one interface:
 *
 * - presence: `SET presence:<user> 1 EX <ttl>` on every heartbeat; a user is online while the key lives;
 * - unread counters: `HINCRBY unread:<user> <session> 1`, `HDEL` when the session is read;
 * - deleted conversations: `SADD deleted:<user> <session>`, `SISMEMBER`, `SMEMBERS`;
 * - the latest messages of a session: `ZADD latest:<session> <id> <json>` then
 *   `ZREMRANGEBYRANK … 0 -(keep+1)` in one MULTI, so it never holds more than `keep`; `ZRANGE` reads them.
 *
 * Three implementations: ioredis (TCP), @upstash/redis (HTTP; works with `automaticDeserialization` on
 * or off) and an in-process one for running without a server. These keys are the app's own data, not
 * cache entries, so they live under their own prefix, outside the cache's namespace: the cache's
 * `clear()` or `invalidatePattern()` can never reach them.
 *
 * On a Redis Cluster, `online()` (one MGET) needs every presence key in one slot: put a hash tag in the
 * prefix, e.g. `{chat-live}`.
 */
import type { Redis as Upstash } from '@upstash/redis'
import type { Redis } from 'ioredis'

/** One message as kept in the latest-messages set. */
export interface LatestMessage {
  id: number
  sessionId: number
  userId: number
  text: string
  createdAt: string
}

export interface ChatStructures {
  readonly kind: 'memory' | 'ioredis' | 'upstash'
  /** Marks the user online for `ttlSeconds`; the next heartbeat starts the period again. */
  heartbeat(userId: number, ttlSeconds: number): Promise<void>
  /** Which of these users are online (their last heartbeat has not expired), in the order given. */
  online(userIds: readonly number[]): Promise<number[]>
  /** Adds to the user's unread count for a session; resolves the new count. */
  addUnread(userId: number, sessionId: number, by?: number): Promise<number>
  /** The user's unread counts by session id (sessions with none are absent). */
  unread(userId: number): Promise<Record<string, number>>
  /** Resets the user's unread count for a session. */
  markRead(userId: number, sessionId: number): Promise<void>
  /** Remembers that the user deleted a session. */
  markDeleted(userId: number, sessionId: number): Promise<void>
  isDeleted(userId: number, sessionId: number): Promise<boolean>
  /** The sessions the user deleted, ascending. */
  deleted(userId: number): Promise<number[]>
  /** Adds messages to the session's latest set and trims it to the newest `keep` (by message id). */
  pushMessages(sessionId: number, messages: readonly LatestMessage[]): Promise<void>
  /** The session's latest messages, oldest first. */
  latest(sessionId: number): Promise<LatestMessage[]>
  /** How many messages the session's latest set holds (0 when it was never filled, or was lost). */
  size(sessionId: number): Promise<number>
}

export interface StructuresOptions {
  /** Key prefix, e.g. `'chat-live'`. Keep it outside the cache's namespace. */
  prefix: string
  /** How many messages the latest set keeps. @default 100 */
  keep?: number
}

function keysFor(prefix: string) {
  return {
    presence: (userId: number) => `${prefix}:presence:${userId}`,
    unread: (userId: number) => `${prefix}:unread:${userId}`,
    deleted: (userId: number) => `${prefix}:deleted:${userId}`,
    latest: (sessionId: number) => `${prefix}:latest:${sessionId}`,
  }
}

/** A member of the latest set: the message as JSON (an object when a client already parsed it). */
function decodeMessage(member: unknown): LatestMessage {
  return (typeof member === 'string' ? JSON.parse(member) : member) as LatestMessage
}

const byNumber = (a: number, b: number) => a - b

/**
 * HGETALL's reply as `{ session: count }`. ioredis and @upstash/redis (deserialising) give an object;
 * @upstash/redis with `automaticDeserialization: false` gives Redis's flat `[field, value, …]` array.
 */
function counts(hash: Record<string, unknown> | unknown[] | null): Record<string, number> {
  const result: Record<string, number> = {}
  if (Array.isArray(hash)) {
    for (let i = 0; i + 1 < hash.length; i += 2) result[String(hash[i])] = Number(hash[i + 1])
  } else {
    for (const [field, value] of Object.entries(hash ?? {})) result[field] = Number(value)
  }
  return result
}

export function ioredisStructures(redis: Redis, options: StructuresOptions): ChatStructures {
  const k = keysFor(options.prefix)
  const keep = options.keep ?? 100
  return {
    kind: 'ioredis',
    async heartbeat(userId, ttlSeconds) {
      await redis.set(k.presence(userId), '1', 'EX', ttlSeconds)
    },
    async online(userIds) {
      if (userIds.length === 0) return []
      const values = await redis.mget(userIds.map(k.presence))
      return userIds.filter((_, i) => values[i] !== null)
    },
    addUnread: (userId, sessionId, by = 1) => redis.hincrby(k.unread(userId), String(sessionId), by),
    async unread(userId) {
      return counts(await redis.hgetall(k.unread(userId)))
    },
    async markRead(userId, sessionId) {
      await redis.hdel(k.unread(userId), String(sessionId))
    },
    async markDeleted(userId, sessionId) {
      await redis.sadd(k.deleted(userId), String(sessionId))
    },
    async isDeleted(userId, sessionId) {
      return (await redis.sismember(k.deleted(userId), String(sessionId))) === 1
    },
    async deleted(userId) {
      return (await redis.smembers(k.deleted(userId))).map(Number).sort(byNumber)
    },
    async pushMessages(sessionId, messages) {
      if (messages.length === 0) return
      const key = k.latest(sessionId)
      const args = messages.flatMap((m) => [m.id, JSON.stringify(m)])
      // One MULTI: a reader never sees more than `keep` messages.
      await redis
        .multi()
        .zadd(key, ...args)
        .zremrangebyrank(key, 0, -(keep + 1))
        .exec()
    },
    async latest(sessionId) {
      return (await redis.zrange(k.latest(sessionId), 0, -1)).map(decodeMessage)
    },
    size: (sessionId) => redis.zcard(k.latest(sessionId)),
  }
}

export function upstashStructures(upstash: Upstash, options: StructuresOptions): ChatStructures {
  const k = keysFor(options.prefix)
  const keep = options.keep ?? 100
  return {
    kind: 'upstash',
    async heartbeat(userId, ttlSeconds) {
      await upstash.set(k.presence(userId), '1', { ex: ttlSeconds })
    },
    async online(userIds) {
      if (userIds.length === 0) return []
      const values = await upstash.mget<unknown[]>(...userIds.map(k.presence))
      return userIds.filter((_, i) => values[i] !== null && values[i] !== undefined)
    },
    addUnread: (userId, sessionId, by = 1) => upstash.hincrby(k.unread(userId), String(sessionId), by),
    async unread(userId) {
      return counts(await upstash.hgetall<Record<string, unknown>>(k.unread(userId)))
    },
    async markRead(userId, sessionId) {
      await upstash.hdel(k.unread(userId), String(sessionId))
    },
    async markDeleted(userId, sessionId) {
      await upstash.sadd(k.deleted(userId), String(sessionId))
    },
    async isDeleted(userId, sessionId) {
      return (await upstash.sismember(k.deleted(userId), String(sessionId))) === 1
    },
    async deleted(userId) {
      return (await upstash.smembers<unknown[]>(k.deleted(userId))).map(Number).sort(byNumber)
    },
    async pushMessages(sessionId, messages) {
      const [first, ...rest] = messages.map((m) => ({ score: m.id, member: JSON.stringify(m) }))
      if (!first) return
      const key = k.latest(sessionId)
      // MULTI/EXEC over REST: both commands run together, as with ioredis.
      const tx = upstash.multi()
      tx.zadd(key, first, ...rest)
      tx.zremrangebyrank(key, 0, -(keep + 1))
      await tx.exec()
    },
    async latest(sessionId) {
      return (await upstash.zrange<unknown[]>(k.latest(sessionId), 0, -1)).map(decodeMessage)
    },
    async size(sessionId) {
      return Number(await upstash.zcard(k.latest(sessionId)))
    },
  }
}

/** In-process structures for running without a server: the same behaviour, one process only. */
export function memoryStructures(options: Pick<StructuresOptions, 'keep'> = {}): ChatStructures {
  const keep = options.keep ?? 100
  const presence = new Map<number, number>() // user → expires at (ms)
  const unread = new Map<number, Map<number, number>>()
  const deleted = new Map<number, Set<number>>()
  const latest = new Map<number, Map<number, LatestMessage>>()
  return {
    kind: 'memory',
    async heartbeat(userId, ttlSeconds) {
      presence.set(userId, Date.now() + ttlSeconds * 1000)
    },
    async online(userIds) {
      const now = Date.now()
      for (const [userId, until] of presence) if (until <= now) presence.delete(userId)
      return userIds.filter((id) => presence.has(id))
    },
    async addUnread(userId, sessionId, by = 1) {
      const counts = unread.get(userId) ?? new Map<number, number>()
      unread.set(userId, counts)
      const count = (counts.get(sessionId) ?? 0) + by
      counts.set(sessionId, count)
      return count
    },
    async unread(userId) {
      return Object.fromEntries([...(unread.get(userId) ?? [])].map(([session, n]) => [String(session), n]))
    },
    async markRead(userId, sessionId) {
      unread.get(userId)?.delete(sessionId)
    },
    async markDeleted(userId, sessionId) {
      const set = deleted.get(userId) ?? new Set<number>()
      deleted.set(userId, set)
      set.add(sessionId)
    },
    async isDeleted(userId, sessionId) {
      return deleted.get(userId)?.has(sessionId) ?? false
    },
    async deleted(userId) {
      return [...(deleted.get(userId) ?? [])].sort(byNumber)
    },
    async pushMessages(sessionId, messages) {
      const set = latest.get(sessionId) ?? new Map<number, LatestMessage>()
      latest.set(sessionId, set)
      for (const m of messages) set.set(m.id, { ...m })
      const ids = [...set.keys()].sort(byNumber)
      for (const id of ids.slice(0, Math.max(0, ids.length - keep))) set.delete(id)
    },
    async latest(sessionId) {
      return [...(latest.get(sessionId)?.values() ?? [])].sort((a, b) => a.id - b.id).map((m) => ({ ...m }))
    },
    async size(sessionId) {
      return latest.get(sessionId)?.size ?? 0
    },
  }
}
