/**
 * The masters of an ioredis `Cluster` as the adapter needs them: whether a scan covers every slot, and where a
 * `WAIT` must go for `waitForReplicas` (see replicas.ts). Structural types only, as in ioredis.ts.
 * @module
 */
import { ownersOf, type WaitOn } from './replicas.js'

const SLOTS = 16_384

/** A node (or the standalone client) as far as these helpers read it. */
interface Node {
  /** The node's options: `host` and `port` name it in the cluster's slot map. */
  readonly options?: object
  // biome-ignore lint/suspicious/noExplicitAny: ioredis declares WAIT with callback overloads
  wait?: (...args: any[]) => Promise<unknown>
}

/** A cluster client as far as {@link ioredisWaits} reads it; a standalone client is only waited on. */
interface Client extends Node {
  // biome-ignore lint/suspicious/noExplicitAny: ioredis overloads
  nodes?: (...args: any[]) => Node[]
  readonly slots?: readonly (readonly string[] | undefined)[]
}

/** `host:port`, as the slot map names a master. */
function nameOf(node: Node): string {
  const { host, port } = (node.options ?? {}) as { host?: string; port?: number }
  return `${host}:${port}`
}

/**
 * Throws unless every slot's master is one of `nodes`. ioredis drops a master from `nodes('master')` as soon as
 * its connection closes, while the slot map still gives it its slots (until its replica is promoted): a scan of
 * the others would resolve without its keys, and they would be served again from the promoted replica.
 */
export function checkCoverage(slots: ReadonlyArray<readonly string[] | undefined>, nodes: readonly Node[]) {
  const scanned = new Set(nodes.map(nameOf))
  let checked: string | undefined
  for (let slot = 0; slot < SLOTS; slot++) {
    const owner = slots[slot]?.[0]
    // Slots come in long runs of one owner: each owner is looked up once per run.
    if (owner !== undefined && owner === checked) continue
    if (owner === undefined || !scanned.has(owner)) {
      throw new Error(
        `no reachable master serves slot ${slot} (a failover may be under way): nothing was invalidated; retry once the cluster has recovered`,
      )
    }
    checked = owner
  }
}

/**
 * The connections to send WAIT on after writing `keys` (`null`: every master): the client itself, or on a cluster
 * the connection the client keeps to each master holding one of them (the one the writes went through).
 */
export function ioredisWaits(client: Client, cluster: boolean, keys: readonly string[] | null): WaitOn[] {
  const waitOf = (node: Node | undefined): WaitOn => {
    const wait = node?.wait
    if (typeof wait !== 'function')
      throw new Error('no connection to the master of a key (a failover may be under way)')
    return (replicas, timeout) => wait.call(node, replicas, timeout)
  }
  if (!cluster) return [waitOf(client)]
  const masters = client.nodes?.('master') ?? []
  if (keys === null) {
    if (client.slots) checkCoverage(client.slots, masters)
    return masters.map(waitOf)
  }
  const byName = new Map(masters.map((node) => [nameOf(node), node]))
  return [...ownersOf(keys, (slot) => client.slots?.[slot]?.[0])].map((name) => waitOf(byName.get(name)))
}
