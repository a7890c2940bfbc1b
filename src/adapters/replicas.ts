/**
 * Redis `WAIT` for the `waitForReplicas` option. WAIT counts the replicas that acknowledged everything its own
 * connection wrote before it, so it goes where the writes went: the one server, or on a cluster the connection to
 * each master holding one of the keys (every master for a scan). While it waits, that connection carries nothing
 * else: a lagging replica holds the commands behind it for up to `timeout`.
 * @module
 */
import { clusterSlot } from './redis-wire.js'

/** A connection's WAIT: resolves the number of replicas that acknowledged. */
export type WaitOn = (replicas: number, timeout: number) => Promise<unknown>

/**
 * The fewest replicas any of `targets` reached (0 when a reply is not a count); `targets` are the connections
 * holding `keys` as {@link targetsOf} found them.
 */
export async function fewestReplicas(targets: readonly WaitOn[], replicas: number, timeout: number): Promise<number> {
  const counts = await Promise.all(targets.map((wait) => wait(replicas, timeout)))
  return counts.reduce<number>((least, n) => Math.min(least, typeof n === 'number' ? n : Number(n) || 0), replicas)
}

/**
 * The distinct masters holding `keys`, as `ownerOf(slot)` names them; throws when a slot has no known master (a
 * failover under way), since nothing could then say the change reached a replica.
 */
export function ownersOf<O>(keys: readonly string[], ownerOf: (slot: number) => O | undefined): Set<O> {
  const owners = new Set<O>()
  for (const key of keys) {
    const owner = ownerOf(clusterSlot(key))
    if (owner === undefined) throw new Error('no known master serves this key (a failover may be under way)')
    owners.add(owner)
  }
  return owners
}
