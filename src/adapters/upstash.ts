/**
 * `cacheward/upstash`: Upstash Redis over HTTP through a `@upstash/redis` client you built. Works
 * on edge runtimes (no Node built-ins), whether the client has `automaticDeserialization` on or off:
 * every value cacheward stores or receives from a script starts with a marker that is not JSON,
 * so the client never parses it.
 * @module
 */
import { CacheOptionsError } from '../errors.js'
import { requestBoundIo } from '../runtime.js'
import type {
  CacheAdapter,
  LockRequest,
  LockRequests,
  ReadReply,
  Slot,
  Step,
  TagRead,
  TagReply,
  WriteRequest,
  WriteResult,
} from './adapter.js'
import { AnnouncementHub, patternAnnouncement } from './announcements.js'
import { WRITTEN_CHANNEL } from './redis-scripts.js'
import type { Script } from './redis-wire.js'
import {
  batches,
  checkTagInvalidation,
  checkTombstone,
  isNoScript,
  parseInvalidateReply,
  parsePeek,
  parsePeekMany,
  parsePeekTagged,
  parseReadManyReply,
  parseReadReply,
  parseTagReply,
  parseWriteReply,
  readArgs,
  readManyArgs,
  SCAN_COUNT,
  scripts,
  tombstone,
  writeArgs,
} from './redis-wire.js'

/** The part of an `@upstash/redis` `Redis` instance the adapter uses. */
export interface UpstashLikeClient {
  /** EVALSHA: runs a script the server has cached. @see https://redis.io/commands/evalsha */
  evalsha(sha: string, keys: string[], args: unknown[]): Promise<unknown>
  /** EVAL: runs a script, sent when the server does not know it yet. @see https://redis.io/commands/eval */
  eval(script: string, keys: string[], args: unknown[]): Promise<unknown>
  /** SET: writes a tombstone with PX. @see https://redis.io/commands/set */
  set(key: string, value: string, options: { px: number }): Promise<unknown>
  /** SCAN: walks the keyspace for pattern invalidation. @see https://redis.io/commands/scan */
  scan(cursor: string | number, options: { match: string; count: number }): Promise<[string | number, unknown[]]>
  /** GET: the hit shortcut. @see https://redis.io/commands/get */
  get(key: string): Promise<unknown>
  /** MGET: the hit shortcut of a tagged call, entry and tag records together. @see https://redis.io/commands/mget */
  mget(...keys: string[]): Promise<unknown>
  /** PING: `health()`. @see https://redis.io/commands/ping */
  ping(): Promise<unknown>
  /**
   * SUBSCRIBE over server-sent events (long-lived runtimes): the backend's change announcements, for `l1`.
   * Optional: without it `l1` needs an explicit `ttl`. @see https://redis.io/commands/subscribe
   */
  subscribe?(channels: string[]): UpstashSubscriberLike
  /** PUBLISH: the heartbeat that proves a subscription still delivers. @see https://redis.io/commands/publish */
  publish?(channel: string, message: string): Promise<unknown>
}

/** What `@upstash/redis`' `subscribe()` returns, as far as the adapter uses it. */
export interface UpstashSubscriberLike {
  /** `'subscribe'` (confirmed), `'message'` (`{ channel, message }`), `'error'`. */
  // biome-ignore lint/suspicious/noExplicitAny: the client's listeners take event-specific payloads
  on(type: string, listener: (payload: any) => void): void
  /** Ends the stream. */
  unsubscribe(): Promise<void>
}

/**
 * How often a subscribed adapter publishes a heartbeat on its own channel. @upstash/redis does not report the end
 * of its event stream (its reader just stops), so a subscription counts as live only while its heartbeats come
 * back: one not back by the next beat marks it down (`l1` empties and is bypassed) and it is opened anew. This is
 * also the longest a silently dead stream can leave `l1` serving a value another process changed.
 */
const HEARTBEAT_MS = 1_000

/**
 * Creates an adapter over an `@upstash/redis` client. For a cache, build the client with
 * `retry: false` (or few retries): its default retry ladder waits about 4 s before failing, which
 * the cache's `timeout` hides from callers but not from the backend.
 * @example
 * import { Redis } from '@upstash/redis'
 * const cache = createCacheClient({ adapter: upstashAdapter(Redis.fromEnv()), namespace: 'app' })
 */
export function upstashAdapter(client: UpstashLikeClient): CacheAdapter {
  if (!client || typeof client.evalsha !== 'function' || typeof client.scan !== 'function') {
    throw new CacheOptionsError([
      {
        path: 'client',
        message: `upstashAdapter(client): expected an @upstash/redis Redis instance, got ${typeof client}`,
      },
    ])
  }

  const run = (s: Script, keys: string[], args: unknown[]): Promise<unknown> =>
    client.evalsha(s.sha, keys, args).catch((error: unknown) => {
      if (!isNoScript(error)) throw error
      return client.eval(s.source, keys, args)
    })

  // Announcements, where the client can subscribe: opened when first needed (never at construction, so a client
  // built at module scope in an edge runtime does no I/O), closed in dispose().
  let subscriber: UpstashSubscriberLike | undefined
  let heartbeat: ReturnType<typeof setInterval> | undefined
  let awaited: string | undefined
  let beats = 0
  // Drawn when the subscription opens, not here: Workers forbid random values at a module's top level.
  let prefix = ''
  const hub = new AnnouncementHub(() => open())
  const isBeat = (message: unknown): string | undefined => {
    const parsed = typeof message === 'string' && message.startsWith('["p",') ? JSON.parse(message) : message
    return Array.isArray(parsed) && parsed[0] === 'p' ? String(parsed[1]) : undefined
  }
  const open = () => {
    const { subscribe, publish } = client
    // Not after dispose (until the next use starts it again), and never a second one.
    if (!hub.started || subscriber !== undefined || !subscribe || !publish) return
    prefix ||= Math.random().toString(36).slice(2)
    const sub = subscribe.call(client, [WRITTEN_CHANNEL])
    subscriber = sub
    sub.on('subscribe', () => {
      if (subscriber === sub) hub.live(true)
    })
    sub.on('message', ({ message }: { message: unknown }) => {
      if (subscriber !== sub) return
      const beat = isBeat(message)
      if (beat === undefined) hub.receive(message)
      else if (beat === awaited) awaited = undefined
    })
    sub.on('error', () => {
      if (subscriber === sub) reopen()
    })
    if (heartbeat === undefined) {
      heartbeat = setInterval(() => {
        if (awaited !== undefined) return reopen()
        awaited = `${prefix}${++beats}`
        publish.call(client, WRITTEN_CHANNEL, JSON.stringify(['p', awaited])).catch(() => {})
      }, HEARTBEAT_MS)
      ;(heartbeat as { unref?: () => void }).unref?.()
    }
  }
  const reopen = () => {
    hub.live(false)
    awaited = undefined
    subscriber?.unsubscribe().catch(() => {})
    subscriber = undefined
    open()
  }
  // In Cloudflare Workers a stream belongs to the request that opened it: no subscription there (l1 then needs a ttl).
  const announcements: Pick<CacheAdapter, 'subscribe' | 'waitForWrite' | 'dispose'> =
    typeof client.subscribe === 'function' && typeof client.publish === 'function' && !requestBoundIo
      ? {
          subscribe: (listener) => hub.subscribe(listener),
          // Only over a subscription `l1` opened: a lock wait alone polls, as it always has, rather than open a stream.
          waitForWrite: (key, ms) =>
            subscriber ? hub.waitForWrite(key, ms) : new Promise<void>((resolve) => setTimeout(resolve, ms)),
          async dispose() {
            clearInterval(heartbeat)
            heartbeat = undefined
            await subscriber?.unsubscribe().catch(() => {})
            subscriber = undefined
            hub.close()
          },
        }
      : {}

  return {
    name: 'upstash',
    ...announcements,

    read(key: string, lock?: LockRequest, tags?: TagRead): Promise<ReadReply> {
      const keys = tags && tags.keys.length > 0 ? [key, ...tags.keys] : [key]
      return run(scripts.read, keys, readArgs(lock, tags?.ttl ?? 0)).then(parseReadReply)
    },

    // One script, one HTTP request for the whole batch (Upstash is one keyspace, never a cluster).
    readMany(keys: readonly string[], locks?: LockRequests, tags?: TagRead): Promise<ReadReply[]> {
      if (keys.length === 0) return Promise.resolve([])
      const all = tags && tags.keys.length > 0 ? [...keys, ...tags.keys] : [...keys]
      return run(scripts.readMany, all, readManyArgs(keys.length, locks, tags?.ttl ?? 0)).then((raw) =>
        parseReadManyReply(raw, keys.length),
      )
    },

    peek(key: string): Promise<Slot | null | 'garbage'> {
      return client.get(key).then(parsePeek)
    },

    peekMany(keys: readonly string[], tagKeys: readonly string[]) {
      return client.mget(...keys, ...tagKeys).then((raw) => parsePeekMany(raw, keys.length, tagKeys.length))
    },

    peekTagged(key: string, tagKeys: readonly string[]) {
      return client.mget(key, ...tagKeys).then((raw) => parsePeekTagged(raw, tagKeys.length))
    },

    async write(key: string, request: WriteRequest): Promise<WriteResult> {
      // One database, no slots: the tag records travel with the entry into one script. Always announced: the
      // subscribers of a REST endpoint may sit on servers a PUBSUB count there does not see.
      const keys = request.tags ? [key, ...request.tags.keys] : [key]
      return parseWriteReply(await run(scripts.write, keys, writeArgs(request, 'always')))
    },

    async extend(key: string, token: string, ttl: number): Promise<boolean> {
      return Number(await run(scripts.extend, [key], [token, String(ttl)])) === 1
    },

    async release(key: string, token: string): Promise<void> {
      await run(scripts.release, [key], [token, '1'])
    },

    async invalidate(keys: readonly string[], gen: string, ttl: number): Promise<void> {
      const stone = tombstone(gen)
      // The tombstone and its announcement in one step; out of memory, the key is deleted instead and it rejects.
      await Promise.all(
        keys.map((key) => run(scripts.tombstone, [key], [stone, String(ttl), gen]).then(checkTombstone)),
      )
    },

    async invalidateMatching(pattern: string, gen: string, ttl: number, step: Step): Promise<number> {
      const stone = tombstone(gen)
      let cursor = '0'
      let count = 0
      do {
        const [next, found] = await step(() => client.scan(cursor, { match: pattern, count: SCAN_COUNT }))
        cursor = String(next)
        // With automaticDeserialization on, a key like "123" comes back as a number.
        const keys = found.map(String)
        for (const batch of batches(keys)) {
          count += await step(() =>
            run(scripts.invalidate, batch, [stone, String(ttl), gen]).then(parseInvalidateReply),
          )
        }
      } while (cursor !== '0')
      // Best effort, as the scripts' announcements; a client without publish() has no subscribers to tell either.
      const { publish } = client
      if (publish)
        await step(() => publish.call(client, WRITTEN_CHANNEL, patternAnnouncement(pattern, gen))).catch(() => {})
      return count
    },

    async readTags(keys: readonly string[], ttl: number): Promise<TagReply> {
      return parseTagReply(await run(scripts.readTags, [...keys], [String(ttl)]), keys.length)
    },

    async invalidateTags(keys: readonly string[], ttl: number): Promise<void> {
      checkTagInvalidation(await run(scripts.invalidateTags, [...keys], [String(ttl)]))
    },

    async ping(): Promise<void> {
      // Not just resolved: with a static `signal` that has aborted, the client resolves with the abort reason.
      if ((await client.ping()) !== 'PONG') throw new TypeError('unexpected reply to ping')
    },
  }
}
