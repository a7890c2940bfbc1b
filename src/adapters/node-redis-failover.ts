/**
 * A node-redis cluster that follows a failover: node-redis 5 alone keeps sending a dead master's slots to it.
 * @module
 */

/** What {@link followFailovers} reaches for inside a node-redis cluster (not part of its typed API). */
interface ClusterInternals {
  _slots?: { rediscover?: (startWith: unknown) => Promise<void> }
  masters?: readonly { client?: { isReady?: boolean } }[]
}

/** Cluster clients followed already. */
const followed = new WeakSet<object>()

/**
 * node-redis 5 re-reads a cluster's slot map only when a node answers MOVED or ASK. A master that died never
 * answers again, so after its replica is promoted, the commands for its slots still go to the dead node, for
 * good (measured: writes to them still failing 3 s after the promotion, while ioredis recovered in 2-3 s).
 * While a node is reconnecting, ask the cluster to re-read its map from a master that is up, at most once a
 * second. node-redis 6 refreshes on reconnection attempts itself; a second refresh there is harmless.
 */
export function followFailovers(client: {
  // biome-ignore lint/suspicious/noExplicitAny: node-redis event listeners take event-specific arguments
  on?: (event: string, listener: (...args: any[]) => void) => unknown
}): void {
  const internals = client as unknown as ClusterInternals
  if (typeof client.on !== 'function' || typeof internals._slots?.rediscover !== 'function') return
  // One listener per cluster client, however many adapters (short-lived caches over one long-lived client) it serves:
  // a listener per adapter was never removed, so they piled up past Node's warning.
  if (followed.has(client)) return
  followed.add(client)
  let last = 0
  client.on('node-reconnecting', () => {
    const now = Date.now()
    if (now - last < 1_000) return
    const startWith = internals.masters?.map((m) => m.client).find((c) => c?.isReady === true)
    if (startWith === undefined) return
    last = now
    internals._slots?.rediscover?.(startWith).catch(() => {
      // The next reconnection attempt tries again; commands meanwhile fail within the cache's timeout.
    })
  })
}
