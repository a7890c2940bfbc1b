/**
 * How the Redis adapters split a batched read over a cluster: one script per node for the keys it serves (the
 * `allow-cross-slot-keys` script), falling back to one script per slot for a node whose script failed (a slot
 * moving, a server older than Redis 7); the tag records, which live in their own slot, are read beside them.
 * @module
 */
import type { LockRequests, ReadReply, TagRead } from './adapter.js'
import { clusterSlot, parseReadManyReply, parseTagReply, readManyArgs, type Script, scripts } from './redis-wire.js'

/** Runs a script with these keys and args; the cluster client routes it by the first key. */
export type RunScript = (s: Script, keys: readonly string[], args: readonly string[]) => Promise<unknown>

/**
 * Reads `keys` on a cluster in one script per node (`nodeOf(slot)` names the node serving a slot, as far as the
 * client knows; `undefined` groups by slot instead), in parallel, answering in the order of `keys`.
 */
export async function readManyOnCluster(
  keys: readonly string[],
  locks: LockRequests | undefined,
  tags: TagRead | undefined,
  run: RunScript,
  nodeOf: (slot: number) => unknown,
): Promise<ReadReply[]> {
  const slots = keys.map(clusterSlot)
  const groups = new Map<unknown, number[]>()
  slots.forEach((slot, i) => {
    const node = nodeOf(slot) ?? `slot:${slot}`
    const group = groups.get(node)
    if (group) group.push(i)
    else groups.set(node, [i])
  })
  const replies: ReadReply[] = new Array(keys.length)
  const stamps = tags && tags.keys.length > 0 ? run(scripts.readTags, tags.keys, [String(tags.ttl)]) : undefined
  await Promise.all([
    ...[...groups.values()].map(async (group) => {
      const read = await readGroup(group, keys, slots, locks, run)
      group.forEach((index, i) => {
        replies[index] = read[i] as ReadReply
      })
    }),
    stamps,
  ])
  if (stamps && tags) {
    // Tag records live in another slot: the load counts from the tag node's time, the clock that stamps them.
    const tagReply = parseTagReply(await stamps, tags.keys.length)
    for (const reply of replies) {
      reply.tagStamps = tagReply.stamps
      reply.tagNow = tagReply.now
    }
  }
  return replies
}

const pick = <T>(items: readonly T[], indexes: readonly number[]): T[] => indexes.map((i) => items[i] as T)

async function readGroup(
  group: readonly number[],
  keys: readonly string[],
  slots: readonly number[],
  locks: LockRequests | undefined,
  run: RunScript,
): Promise<ReadReply[]> {
  const groupKeys = pick(keys, group)
  const groupLocks = locks && { ...locks, tokens: pick(locks.tokens, group) }
  const args = readManyArgs(group.length, groupLocks, 0)
  const sameSlot = group.every((i) => slots[i] === slots[group[0] as number])
  if (sameSlot) return parseReadManyReply(await run(scripts.readMany, groupKeys, args), group.length)
  try {
    const raw = await run(scripts.readManyLocal, [groupKeys[0] as string], [...args, ...groupKeys])
    return parseReadManyReply(raw, group.length)
  } catch {
    // One slot at a time instead; keys the failed script had locked already hold this batch's tokens, which the
    // re-read finds as its own (a read is idempotent for one token).
    const bySlot = new Map<number, number[]>()
    group.forEach((index, i) => {
      const slot = slots[index] as number
      const list = bySlot.get(slot)
      if (list) list.push(i)
      else bySlot.set(slot, [i])
    })
    const out: ReadReply[] = new Array(group.length)
    await Promise.all(
      [...bySlot.values()].map(async (members) => {
        const slotLocks = groupLocks && { ...groupLocks, tokens: pick(groupLocks.tokens, members) }
        const raw = await run(scripts.readMany, pick(groupKeys, members), readManyArgs(members.length, slotLocks, 0))
        const read = parseReadManyReply(raw, members.length)
        members.forEach((m, i) => {
          out[m] = read[i] as ReadReply
        })
      }),
    )
    return out
  }
}
