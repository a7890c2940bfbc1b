/**
 * `cacheward/ioredis`: standalone Redis and Redis Cluster through a client you built with ioredis 5 or 6.
 *
 * The adapter never imports ioredis (a structural type is enough, and it lets both majors in).
 * Every operation is one script on one key, so it is cluster-safe whatever the key; scans run on
 * every master. The client's own defaults are not relied on: the cache bounds every call with its
 * `timeout` option, and fenced writes make a command that ioredis replays late harmless.
 * @module
 */
import { CacheOptionsError } from '../errors.js'
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
import { readManyOnCluster } from './cluster-batch.js'
import { checkCoverage, ioredisWaits } from './ioredis-nodes.js'
import { WRITTEN_CHANNEL } from './redis-scripts.js'
import type { Script } from './redis-wire.js'
import {
  type AnnounceWrites,
  batches,
  checkTagInvalidation,
  checkTombstone,
  clusterSlot,
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
import { fewestReplicas } from './replicas.js'
import { tickBatched } from './tick-batch.js'

type Arg = string | number

/** The subscriber connection: an ioredis client in subscriber mode. */
interface SubscriberLike {
  // biome-ignore lint/suspicious/noExplicitAny: ioredis event listeners take event-specific arguments
  on(event: string, listener: (...args: any[]) => void): unknown
  subscribe(channel: string): Promise<unknown>
  disconnect(): void
  readonly stream?: { unref?: () => void }
}

// ioredis declares these commands with many overloads (callbacks, Buffer variants), which no single
// signature can be assigned from; `any[]` parameters accept every overload of ioredis 5 and 6 alike.
// Replies are narrowed where they are used.
/**
 * A client method taking any arguments (ioredis declares many overloads per command).
 * @inline
 */
// biome-ignore lint/suspicious/noExplicitAny: see above
type Command = (...args: any[]) => Promise<unknown>

/** The part of an ioredis `Redis` or `Cluster` instance the adapter uses (ioredis 5 and 6 both fit). */
export interface IoredisLikeClient {
  /** EVALSHA: runs a script the server has cached. @see https://redis.io/commands/evalsha */
  evalsha: Command
  /** EVAL: runs a script, sent when the server does not know it yet. @see https://redis.io/commands/eval */
  eval: Command
  /** SET: writes a tombstone with PX. @see https://redis.io/commands/set */
  set: Command
  /** SCAN: walks the keyspace for pattern invalidation. @see https://redis.io/commands/scan */
  scan: Command
  /** GET: the hit shortcut. @see https://redis.io/commands/get */
  get: Command
  /** MGET: the hit shortcut of a tagged call, entry and tag records together. @see https://redis.io/commands/mget */
  mget: Command
  /** PING: `health()`. @see https://redis.io/commands/ping */
  ping: Command
  /** PUBLISH: a pattern invalidation's announcement (skipped without it). @see https://redis.io/commands/publish */
  publish?: Command
  /** `true` on an ioredis `Cluster`. */
  readonly isCluster?: boolean
  /** Connection state (`'ready'` once connected; a cluster knows its masters only then). */
  readonly status?: string
  /** Subscribes once to a client event (`'ready'`). */
  // biome-ignore lint/suspicious/noExplicitAny: ioredis event listeners take event-specific arguments
  once?: (event: string, listener: (...args: any[]) => void) => unknown
  /** Removes an event listener. */
  // biome-ignore lint/suspicious/noExplicitAny: as above
  off?: (event: string, listener: (...args: any[]) => void) => unknown
  /** A new connection with the same options (ioredis `duplicate()`), for the subscriber the adapter owns. */
  // biome-ignore lint/suspicious/noExplicitAny: ioredis overloads, as above
  duplicate?: () => any
  /** Cluster only: the master nodes, each a standalone client. */
  // biome-ignore lint/suspicious/noExplicitAny: ioredis overloads, as above
  nodes?: (...args: any[]) => IoredisLikeClient[]
  /** Cluster only: per slot, the `host:port` of its master (then its replicas), as the client last learned them. */
  readonly slots?: readonly (readonly string[] | undefined)[]
  /** The client's options; a cluster node's `host` and `port` name it in {@link IoredisLikeClient.slots}. */
  readonly options?: object
  /** WAIT, for `waitForReplicas`. @see https://redis.io/commands/wait */
  wait?: Command
}

/**
 * Creates an adapter over an ioredis `Redis` or `Cluster` you own; `close()` of the cache never quits it.
 * @example
 * import Redis from 'ioredis'
 * const cache = createCacheClient({ adapter: ioredisAdapter(new Redis(process.env.REDIS_URL)), namespace: 'app' })
 */
export function ioredisAdapter(client: IoredisLikeClient): CacheAdapter {
  if (!client || typeof client.evalsha !== 'function' || typeof client.scan !== 'function') {
    throw new CacheOptionsError([
      {
        path: 'client',
        message: `ioredisAdapter(client): expected an ioredis Redis or Cluster instance, got ${typeof client}`,
      },
    ])
  }
  const cluster = client.isCluster === true
  // A write is announced only when someone listens on a standalone server; always on a cluster (see WRITE_SCRIPT).
  const announceWrites: AnnounceWrites = cluster ? 'always' : 'if-heard'

  // Not async: the hit path pays for every promise, so this adds only the NOSCRIPT fallback's catch.
  const run = (s: Script, keys: readonly string[], args: readonly Arg[]): Promise<unknown> =>
    client.evalsha(s.sha, keys.length, ...keys, ...args).catch((error: unknown) => {
      // First use on this node (or after SCRIPT FLUSH / a restart): send the source once.
      if (!isNoScript(error)) throw error
      return client.eval(s.source, keys.length, ...keys, ...args)
    })

  // The hit shortcut's GETs: one MGET per tick on a standalone server (see tick-batch.ts).
  const get = cluster
    ? (key: string) => client.get(key)
    : tickBatched(
        (key) => client.get(key),
        (keys) => client.mget(...keys),
      )

  const invalidatePage = async (keys: string[], stone: string, gen: string, ttl: number, step: Step) => {
    if (keys.length === 0) return 0
    if (!cluster) {
      let count = 0
      for (const batch of batches(keys)) {
        count += await step(() => run(scripts.invalidate, batch, [stone, ttl, gen]).then(parseInvalidateReply))
      }
      return count
    }
    // A script's keys must share a slot on a cluster: one call per slot, routed by the cluster client.
    const bySlot = new Map<number, string[]>()
    for (const key of keys) {
      const slot = clusterSlot(key)
      const group = bySlot.get(slot)
      if (group) group.push(key)
      else bySlot.set(slot, [key])
    }
    const counts = await Promise.all(
      [...bySlot.values()].map((group) =>
        step(() => run(scripts.invalidate, group, [stone, ttl, gen]).then(parseInvalidateReply)),
      ),
    )
    return counts.reduce<number>((sum, n) => sum + n, 0)
  }

  // A cluster client knows its masters only once connected: before that nodes('master') is empty, and a
  // scan over it would find nothing (a clear-on-deploy script runs exactly then).
  const masters = async (step: Step): Promise<IoredisLikeClient[]> => {
    if (!cluster || !client.nodes) return [client]
    if (client.status !== 'ready' && client.once) {
      const once = client.once.bind(client)
      await step(
        () =>
          new Promise<void>((resolve) => {
            if (client.status === 'ready') return resolve()
            const ready = () => resolve()
            once('ready', ready)
          }),
      )
    }
    const nodes = client.nodes('master')
    if (nodes.length === 0) throw new Error('the cluster client knows no master yet')
    if (client.slots) checkCoverage(client.slots, nodes)
    return nodes
  }

  // Every change is announced on one channel from inside the script that makes it (no extra round trip).
  // One subscriber connection this adapter owns, opened when first needed, closed in dispose() and never
  // keeping a process alive, hears them: it wakes processes waiting on another's lock and feeds `l1`.
  // On a cluster it is a plain connection to one master (classic PUBLISH reaches every node), not the
  // Cluster's own subscriber, which switches nodes silently: the tier must know when it may have missed one.
  let subscriber: SubscriberLike | undefined
  const hub = new AnnouncementHub(() => open())
  const open = (): void => {
    // Not after dispose (until the next use starts it again), and never a second one.
    if (!hub.started || subscriber !== undefined || typeof client.duplicate !== 'function') return
    let source: IoredisLikeClient = client
    if (cluster) {
      const masters = client.nodes?.('master') ?? []
      if (masters.length === 0) {
        // Still connecting: no node known yet.
        client.once?.('ready', () => open())
        return
      }
      source = masters[Math.floor(Math.random() * masters.length)] as IoredisLikeClient
      if (typeof source.duplicate !== 'function') return
    }
    const sub = (source.duplicate as () => SubscriberLike)()
    subscriber = sub
    sub.on('message', (_channel: string, message: string) => hub.receive(message))
    // A subscriber that fails only costs waiters their wake-up (they poll) and `l1` its entries (bypassed).
    sub.on('error', () => {})
    sub.on('close', () => hub.live(false))
    // Live only once the server confirms the subscription: now (which also connects a lazy cluster node's
    // duplicate), and again after every reconnect.
    const confirm = () =>
      sub.subscribe(WRITTEN_CHANNEL).then(
        () => {
          if (subscriber === sub) hub.live(true)
        },
        () => {},
      )
    sub.on('ready', () => {
      sub.stream?.unref?.()
      void confirm()
    })
    void confirm()
    // A cluster node that is gone for good: listen on another master.
    sub.on('end', () => {
      if (subscriber !== sub || !hub.started) return
      hub.live(false)
      subscriber = undefined
      if (cluster) open()
    })
  }

  return {
    name: cluster ? 'ioredis-cluster' : 'ioredis',

    waitForWrite: (key: string, ms: number) => hub.waitForWrite(key, ms),

    subscribe: (listener) => hub.subscribe(listener),

    async dispose(): Promise<void> {
      subscriber?.disconnect()
      subscriber = undefined
      hub.close()
    },

    read(key: string, lock?: LockRequest, tags?: TagRead): Promise<ReadReply> {
      const args = readArgs(lock, tags?.ttl ?? 0)
      if (!tags || tags.keys.length === 0) return run(scripts.read, [key], args).then(parseReadReply)
      if (!cluster) return run(scripts.read, [key, ...tags.keys], args).then(parseReadReply)
      // Tag records live in another slot: read them beside the entry. The load then counts from the
      // tag node's time (tagNow), the clock its invalidations are stamped with.
      const stamps = run(scripts.readTags, tags.keys, [tags.ttl])
      return Promise.all([stamps, run(scripts.read, [key], args)]).then(([t, r]) => {
        const reply = parseReadReply(r)
        const tagReply = parseTagReply(t, tags.keys.length)
        reply.tagStamps = tagReply.stamps
        reply.tagNow = tagReply.now
        return reply
      })
    },

    // One script for the whole batch on a standalone server; on a cluster one per node (see cluster-batch.ts).
    readMany(keys: readonly string[], locks?: LockRequests, tags?: TagRead): Promise<ReadReply[]> {
      if (keys.length === 0) return Promise.resolve([])
      if (cluster) {
        return readManyOnCluster(keys, locks, tags, run, (slot) => client.slots?.[slot]?.[0])
      }
      const args = readManyArgs(keys.length, locks, tags?.ttl ?? 0)
      const all = tags && tags.keys.length > 0 ? [...keys, ...tags.keys] : keys
      return run(scripts.readMany, all, args).then((raw) => parseReadManyReply(raw, keys.length))
    },

    peek(key: string): Promise<Slot | null | 'garbage'> {
      return get(key).then(parsePeek)
    },

    // On a cluster tag records live in another slot: tagged calls take the full read there.
    ...(cluster
      ? {}
      : {
          // A batch of keys recently found fresh: one MGET (standalone only: on a cluster keys span slots).
          peekMany: (keys: readonly string[], tagKeys: readonly string[]) =>
            client.mget(...keys, ...tagKeys).then((raw) => parsePeekMany(raw, keys.length, tagKeys.length)),
          peekTagged: (key: string, tagKeys: readonly string[]) =>
            client.mget(key, ...tagKeys).then((raw) => parsePeekTagged(raw, tagKeys.length)),
        }),

    async write(key: string, request: WriteRequest): Promise<WriteResult> {
      const tags = request.tags
      if (!tags || tags.keys.length === 0)
        return parseWriteReply(await run(scripts.write, [key], writeArgs(request, announceWrites)))
      if (!cluster) {
        return parseWriteReply(await run(scripts.write, [key, ...tags.keys], writeArgs(request, announceWrites)))
      }
      // The tag records live in another slot: check and keep them there first, then write the entry.
      const ready = Number(await run(scripts.commitTags, tags.keys, [String(tags.startedAt), String(tags.ttl)]))
      if (ready !== 1) return 'refused'
      return parseWriteReply(await run(scripts.write, [key], writeArgs(request, announceWrites)))
    },

    async extend(key: string, token: string, ttl: number): Promise<boolean> {
      return Number(await run(scripts.extend, [key], [token, ttl])) === 1
    },

    async release(key: string, token: string): Promise<void> {
      await run(scripts.release, [key], [token, '1'])
    },

    async invalidate(keys: readonly string[], gen: string, ttl: number): Promise<void> {
      const stone = tombstone(gen)
      // One script per key (multi-key would be CROSSSLOT on a cluster): the tombstone and its announcement in
      // one step; out of memory, the key is deleted instead (DEL still works) and the call still rejects.
      await Promise.all(keys.map((key) => run(scripts.tombstone, [key], [stone, ttl, gen]).then(checkTombstone)))
    },

    async invalidateMatching(pattern: string, gen: string, ttl: number, step: Step): Promise<number> {
      const stone = tombstone(gen)
      const nodes = await masters(step)
      const counts = await Promise.all(
        nodes.map(async (node) => {
          let cursor = '0'
          let count = 0
          do {
            const [next, keys] = (await step(() => node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT))) as [
              string,
              string[],
            ]
            cursor = String(next)
            count += await invalidatePage(keys, stone, gen, ttl, step)
          } while (cursor !== '0')
          return count
        }),
      )
      // Best effort, as the scripts' announcements (an ACL user without PUBLISH still invalidates).
      const { publish } = client
      if (publish)
        await step(() => publish.call(client, WRITTEN_CHANNEL, patternAnnouncement(pattern, gen))).catch(() => {})
      return counts.reduce((sum, n) => sum + n, 0)
    },

    async readTags(keys: readonly string[], ttl: number): Promise<TagReply> {
      return parseTagReply(await run(scripts.readTags, keys, [ttl]), keys.length)
    },

    async invalidateTags(keys: readonly string[], ttl: number): Promise<void> {
      checkTagInvalidation(await run(scripts.invalidateTags, keys, [ttl]))
    },

    // Masters' clocks may disagree: each key is judged on its own master's (the slot map as the client knows it).
    ...(cluster ? { clockOf: (key: string) => client.slots?.[clusterSlot(key)]?.[0] ?? '' } : {}),

    ...(cluster || typeof client.wait === 'function'
      ? {
          replicated: (keys: readonly string[] | null, replicas: number, timeout: number) =>
            fewestReplicas(ioredisWaits(client, cluster, keys), replicas, timeout),
        }
      : {}),

    async ping(): Promise<void> {
      await client.ping()
    },
  }
}
