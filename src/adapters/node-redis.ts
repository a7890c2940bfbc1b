/**
 * `cacheward/node-redis`: standalone Redis and Redis Cluster through a client you built with node-redis 5 or 6
 * (`createClient()` or `createCluster()`, from `redis` or `@redis/client`).
 *
 * The adapter never imports node-redis (a structural type is enough). It stores exactly what the ioredis
 * adapter stores, with the same scripts, so processes on either client share one Redis: a value written through
 * one is a hit through the other, and a tombstone left by one fences the other's loads. The client's own
 * defaults are not relied on: the cache bounds every call with its `timeout` option, and fenced writes make a
 * command that node-redis sends late (from its offline queue, after a reconnect) harmless.
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
import { patternAnnouncement } from './announcements.js'
import { readManyOnCluster } from './cluster-batch.js'
import { followFailovers } from './node-redis-failover.js'
import { nodeRedisAnnouncements } from './node-redis-subscriber.js'
import type { NodeRedisLikeClient, NodeRedisLikeNodeClient } from './node-redis-types.js'
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
import { fewestReplicas, ownersOf } from './replicas.js'
import { tickBatched } from './tick-batch.js'

export type { NodeRedisLikeClient, NodeRedisLikeNodeClient } from './node-redis-types.js'

/**
 * Reply types as node-redis decodes them by default (strings, numbers, arrays, `null`), even if the user's
 * client maps blob strings to Buffers: the reply parsers expect strings.
 */
const DEFAULT_REPLIES = { typeMapping: {} } as const

/**
 * Creates an adapter over a node-redis 5 or 6 client or cluster you own and have connected (`await
 * client.connect()`); `close()` of the cache never closes it.
 * @example
 * import { createClient } from 'redis'
 * const redis = await createClient({ url: process.env.REDIS_URL }).on('error', console.warn).connect()
 * const cache = createCacheClient({ adapter: nodeRedisAdapter(redis), namespace: 'app' })
 */
export function nodeRedisAdapter(client: NodeRedisLikeClient): CacheAdapter {
  if (!client || typeof client.sendCommand !== 'function') {
    throw new CacheOptionsError([
      {
        path: 'client',
        message: `nodeRedisAdapter(client): expected a node-redis 5 or 6 client (createClient) or cluster (createCluster), got ${typeof client}`,
      },
    ])
  }
  // Duck-typed, as node-redis is never imported: only a cluster has masters and a client per node.
  const cluster = typeof client.nodeClient === 'function' && Array.isArray(client.masters)
  // A write is announced only when someone listens on a standalone server; always on a cluster (see WRITE_SCRIPT).
  const announceWrites: AnnounceWrites = cluster ? 'always' : 'if-heard'

  // A cluster learns its masters in connect(); until then node-redis fails every command (5: with a TypeError
  // from deep inside; 6: "The client is offline"). While it is connecting, commands wait for the topology (as a
  // client's commands wait in its offline queue, and bounded all the same by the cache's timeout); when it is not
  // even connecting, they reject with a message that says what to do.
  const notConnected = () =>
    new Error('the node-redis cluster is not connected: call and await cluster.connect() before using the cache')
  const topologyKnown = () => (client.masters?.length ?? 0) > 0 && client.isReady !== false
  let topology: Promise<void> | undefined
  const connected = (): Promise<void> => {
    if (!client.isOpen) return Promise.reject(notConnected())
    // One check every few ms however many commands wait (connect() takes tens of ms), until the masters are
    // known or connect() failed. Polled: node-redis 5.0 emits no event when its topology is known.
    topology ??= new Promise<void>((resolve, reject) => {
      const check = () => {
        if (topologyKnown()) {
          topology = undefined
          resolve()
        } else if (!client.isOpen) {
          topology = undefined
          reject(notConnected())
        } else {
          ;(setTimeout(check, 5) as { unref?: () => void }).unref?.()
        }
      }
      check()
    })
    return topology
  }

  // Every command names its key, so a cluster routes it to the key's master. `false` (not read-only) keeps
  // reads off replicas even with `useReplicas`: a replica can lag behind an invalidation.
  const send: (key: string | undefined, args: readonly string[]) => Promise<unknown> = cluster
    ? (key, args) =>
        topologyKnown()
          ? client.sendCommand(key, false, args, DEFAULT_REPLIES)
          : connected().then(() => client.sendCommand(key, false, args, DEFAULT_REPLIES))
    : (_key, args) => client.sendCommand(args, DEFAULT_REPLIES)

  // Not async: the hit path pays for every promise, so this adds only the NOSCRIPT fallback's catch.
  const run = (s: Script, keys: readonly string[], args: readonly string[]): Promise<unknown> => {
    const tail = [String(keys.length), ...keys, ...args]
    const key = keys[0] as string
    return send(key, ['EVALSHA', s.sha, ...tail]).catch((error: unknown) => {
      // First use on this node (or after SCRIPT FLUSH / a restart): send the source once.
      if (!isNoScript(error)) throw error
      return send(key, ['EVAL', s.source, ...tail])
    })
  }

  const invalidatePage = async (keys: string[], stone: string, gen: string, ttl: number, step: Step) => {
    if (keys.length === 0) return 0
    const args = [stone, String(ttl), gen]
    if (!cluster) {
      let count = 0
      for (const batch of batches(keys)) {
        count += await step(() => run(scripts.invalidate, batch, args).then(parseInvalidateReply))
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
      [...bySlot.values()].map((group) => step(() => run(scripts.invalidate, group, args).then(parseInvalidateReply))),
    )
    return counts.reduce<number>((sum, n) => sum + n, 0)
  }

  // The connections scans run on: the client itself, or one per master of a cluster. A cluster still
  // connecting knows no master yet, and a scan over none would find nothing (a clear-on-deploy script runs
  // exactly then): wait for its topology, within one step.
  const scanTargets = async (step: Step): Promise<NodeRedisLikeNodeClient[]> => {
    if (!cluster) return [client]
    if (!topologyKnown()) await step(connected)
    const masters = client.masters ?? []
    if (masters.length === 0) throw notConnected()
    const nodeClient = client.nodeClient as (
      node: unknown,
    ) => NodeRedisLikeNodeClient | Promise<NodeRedisLikeNodeClient>
    // A promise while the node connects; node-redis 5.0 returns a connected node's client as it is.
    return Promise.all(masters.map((master) => step(async () => nodeClient.call(client, master))))
  }

  // The hit shortcut's GETs: one MGET per tick on a standalone server (see tick-batch.ts).
  const get = cluster
    ? (key: string) => send(key, ['GET', key])
    : tickBatched(
        (key) => send(key, ['GET', key]),
        (keys) => send(undefined, ['MGET', ...keys]),
      )

  if (cluster) followFailovers(client)

  // The adapter's own subscriber (node-redis-subscriber.ts): wakes waiters, feeds `l1`.
  const announcements = nodeRedisAnnouncements(client, cluster, async () => {
    if (!topologyKnown()) await connected()
  })

  return {
    name: cluster ? 'node-redis-cluster' : 'node-redis',

    waitForWrite: (key: string, ms: number) => announcements.hub.waitForWrite(key, ms),

    subscribe: (listener) => announcements.hub.subscribe(listener),

    async dispose(): Promise<void> {
      announcements.dispose()
    },

    // One script for the whole batch on a standalone server; on a cluster one per node (see cluster-batch.ts).
    readMany(keys: readonly string[], locks?: LockRequests, tags?: TagRead): Promise<ReadReply[]> {
      if (keys.length === 0) return Promise.resolve([])
      if (cluster) return readManyOnCluster(keys, locks, tags, run, (slot) => client.slots?.[slot]?.master)
      const args = readManyArgs(keys.length, locks, tags?.ttl ?? 0)
      const all = tags && tags.keys.length > 0 ? [...keys, ...tags.keys] : keys
      return run(scripts.readMany, all, args).then((raw) => parseReadManyReply(raw, keys.length))
    },

    read(key: string, lock?: LockRequest, tags?: TagRead): Promise<ReadReply> {
      const args = readArgs(lock, tags?.ttl ?? 0)
      if (!tags || tags.keys.length === 0) return run(scripts.read, [key], args).then(parseReadReply)
      if (!cluster) return run(scripts.read, [key, ...tags.keys], args).then(parseReadReply)
      // Tag records live in another slot: read them beside the entry. The load then counts from the
      // tag node's time (tagNow), the clock its invalidations are stamped with.
      const stamps = run(scripts.readTags, tags.keys, [String(tags.ttl)])
      return Promise.all([stamps, run(scripts.read, [key], args)]).then(([t, r]) => {
        const reply = parseReadReply(r)
        const tagReply = parseTagReply(t, tags.keys.length)
        reply.tagStamps = tagReply.stamps
        reply.tagNow = tagReply.now
        return reply
      })
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
            send(keys[0], ['MGET', ...keys, ...tagKeys]).then((raw) => parsePeekMany(raw, keys.length, tagKeys.length)),
          peekTagged: (key: string, tagKeys: readonly string[]) =>
            send(key, ['MGET', key, ...tagKeys]).then((raw) => parsePeekTagged(raw, tagKeys.length)),
        }),

    async write(key: string, request: WriteRequest): Promise<WriteResult> {
      const tags = request.tags
      if (!tags || tags.keys.length === 0) {
        return parseWriteReply(await run(scripts.write, [key], writeArgs(request, announceWrites)))
      }
      if (!cluster)
        return parseWriteReply(await run(scripts.write, [key, ...tags.keys], writeArgs(request, announceWrites)))
      // The tag records live in another slot: check and keep them there first, then write the entry.
      const ready = Number(await run(scripts.commitTags, tags.keys, [String(tags.startedAt), String(tags.ttl)]))
      if (ready !== 1) return 'refused'
      return parseWriteReply(await run(scripts.write, [key], writeArgs(request, announceWrites)))
    },

    async extend(key: string, token: string, ttl: number): Promise<boolean> {
      return Number(await run(scripts.extend, [key], [token, String(ttl)])) === 1
    },

    async release(key: string, token: string): Promise<void> {
      await run(scripts.release, [key], [token, '1'])
    },

    async invalidate(keys: readonly string[], gen: string, ttl: number): Promise<void> {
      const stone = tombstone(gen)
      const px = String(ttl)
      // One script per key (multi-key would be CROSSSLOT on a cluster): the tombstone and its announcement in
      // one step; out of memory, the key is deleted instead (DEL still works) and the call still rejects.
      await Promise.all(keys.map((key) => run(scripts.tombstone, [key], [stone, px, gen]).then(checkTombstone)))
    },

    async invalidateMatching(pattern: string, gen: string, ttl: number, step: Step): Promise<number> {
      const stone = tombstone(gen)
      const nodes = await scanTargets(step)
      const counts = await Promise.all(
        nodes.map(async (node) => {
          let cursor = '0'
          let count = 0
          do {
            const reply = await step(() =>
              node.sendCommand(['SCAN', cursor, 'MATCH', pattern, 'COUNT', String(SCAN_COUNT)], DEFAULT_REPLIES),
            )
            if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(reply[1])) {
              throw new TypeError('unexpected reply to SCAN')
            }
            cursor = String(reply[0])
            count += await invalidatePage(reply[1] as string[], stone, gen, ttl, step)
          } while (cursor !== '0')
          return count
        }),
      )
      // Best effort, as the scripts' announcements (an ACL user without PUBLISH still invalidates).
      const announcement = ['PUBLISH', WRITTEN_CHANNEL, patternAnnouncement(pattern, gen)]
      await step(() => send(undefined, announcement)).catch(() => {})
      return counts.reduce((sum, n) => sum + n, 0)
    },

    async readTags(keys: readonly string[], ttl: number): Promise<TagReply> {
      return parseTagReply(await run(scripts.readTags, keys, [String(ttl)]), keys.length)
    },

    async invalidateTags(keys: readonly string[], ttl: number): Promise<void> {
      checkTagInvalidation(await run(scripts.invalidateTags, keys, [String(ttl)]))
    },

    // Masters' clocks may disagree: each key is judged on its own master's (the slot map as the client knows it).
    ...(cluster
      ? {
          clockOf: (key: string) => {
            const master = (
              client.slots?.[clusterSlot(key)] as { master?: { host?: string; port?: number } } | undefined
            )?.master
            return master ? `${master.host}:${master.port}` : ''
          },
        }
      : {}),

    // WAIT on the connection the writes went through: the client, or each master holding one of the keys.
    async replicated(keys: readonly string[] | null, replicas: number, timeout: number): Promise<number> {
      const args = ['WAIT', String(replicas), String(timeout)]
      if (!cluster) return fewestReplicas([() => client.sendCommand(args, DEFAULT_REPLIES)], replicas, timeout)
      const nodes = keys === null ? (client.masters ?? []) : [...ownersOf(keys, (slot) => client.slots?.[slot]?.master)]
      const nodeClient = client.nodeClient as (
        node: unknown,
      ) => NodeRedisLikeNodeClient | Promise<NodeRedisLikeNodeClient>
      const connections = await Promise.all(nodes.map(async (node) => nodeClient.call(client, node)))
      const waits = connections.map((node) => () => node.sendCommand(args, DEFAULT_REPLIES))
      return fewestReplicas(waits, replicas, timeout)
    },

    async ping(): Promise<void> {
      await send(undefined, ['PING'])
    },
  }
}
