/**
 * The node-redis adapter's own subscriber: one connection that hears every announcement on the channel (the
 * scripts PUBLISH each change in the same step), wakes processes waiting on another's lock and feeds `l1`.
 * @module
 */
import { AnnouncementHub } from './announcements.js'
import { WRITTEN_CHANNEL } from './redis-scripts.js'

/** The wait before a new subscriber after one failed, at first and at most (doubled per failure in between). */
const RETRY_MIN_MS = 100
const RETRY_MAX_MS = 30_000

/**
 * What the subscriber needs of the user's client (a `NodeRedisLikeClient`): its duplicate, and on a cluster its
 * masters and their own clients.
 */
interface Source {
  // biome-ignore lint/suspicious/noExplicitAny: node-redis declares these generic over its options
  duplicate?: (...args: any[]) => unknown
  readonly masters?: readonly unknown[]
  // biome-ignore lint/suspicious/noExplicitAny: the node type is node-redis' own
  nodeClient?: (node: any) => unknown
}

/** The subscriber the adapter opens: a duplicate of the user's client, or of one master's client. */
interface SubscriberLike {
  readonly isOpen: boolean
  on(event: string, listener: (...args: unknown[]) => void): unknown
  connect(): Promise<unknown>
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>
  destroy(): void
  /** Client only: the socket no longer keeps the process alive (the current one and every reconnection's). */
  unref?: () => void
}

/**
 * Opens (when first needed) and owns the subscriber of `client`. `connected` resolves once a cluster's
 * masters are known. `dispose()` closes the subscriber and ends every wait.
 */
export function nodeRedisAnnouncements(
  client: Source,
  cluster: boolean,
  connected: () => Promise<void>,
): { hub: AnnouncementHub; dispose(): void } {
  // Every change is announced on one channel from inside the script that makes it (no extra round trip).
  // One subscriber connection this adapter owns, opened when first needed, closed in dispose() and never
  // keeping a process alive, hears them: it wakes processes waiting on another's lock and feeds `l1`.
  // On a cluster it is a plain client of one master (classic PUBLISH reaches every node), not the cluster's
  // own subscriber, which moves between nodes by itself: the tier must know when it may have missed one.
  let subscriber: SubscriberLike | undefined
  // How long until the next subscriber after one failed: doubled per failure, back to the least once one is confirmed.
  // A refusal that lasts (an ACL user without channel permission: Redis 7's default for new users) then costs a
  // connection every half minute, not ten a second for the life of the process.
  let retryIn = RETRY_MIN_MS
  const hub = new AnnouncementHub(() => open())
  const open = (): void => {
    // Not after dispose (until the next use starts it again), and never a second one.
    if (!hub.started || subscriber !== undefined || typeof client.duplicate !== 'function') return
    void subscriberSource().then(
      (source) => {
        if (!hub.started || subscriber !== undefined || typeof source?.client.duplicate !== 'function') return
        listen(source.client.duplicate() as SubscriberLike, source.node)
      },
      () => {
        // A cluster not connected (yet): waiters poll and the tier stays bypassed meanwhile. Try again in a
        // second, until the adapter is disposed.
        ;(setTimeout(open, 1_000) as { unref?: () => void }).unref?.()
      },
    )
  }
  // The client itself, or one master's own client on a cluster (a random one, so processes spread out).
  const subscriberSource = async (): Promise<{ client: Source; node: unknown } | undefined> => {
    if (!cluster) return { client, node: undefined }
    await connected()
    const masters = client.masters ?? []
    const node = masters[Math.floor(Math.random() * masters.length)]
    if (node === undefined) return undefined
    const nodeClient = client.nodeClient as (n: unknown) => Source | Promise<Source>
    return { client: await nodeClient.call(client, node), node }
  }
  const listen = (sub: SubscriberLike, node: unknown): void => {
    subscriber = sub
    let confirmed = false
    const down = () => {
      if (subscriber === sub) hub.live(false)
    }
    // A subscriber that fails only costs waiters their wake-up (they poll) and `l1` its entries (bypassed).
    sub.on('error', () => {
      down()
      // A cluster node that is no longer a master (failed over, removed): listen on another one.
      if (cluster && subscriber === sub && !isMaster(node)) replace(sub)
    })
    sub.on('reconnecting', down)
    sub.on('end', down)
    // node-redis resubscribes after a reconnect before it emits 'ready': live again from then on.
    sub.on('ready', () => {
      if (confirmed && subscriber === sub) hub.live(true)
    })
    sub.unref?.()
    sub
      .connect()
      .then(() => sub.subscribe(WRITTEN_CHANNEL, (message) => hub.receive(message)))
      .then(
        () => {
          confirmed = true
          retryIn = RETRY_MIN_MS
          if (subscriber === sub) hub.live(true)
        },
        () => {
          if (subscriber === sub) replace(sub)
        },
      )
  }
  const replace = (sub: SubscriberLike): void => {
    subscriber = undefined
    hub.live(false)
    if (sub.isOpen) sub.destroy()
    ;(setTimeout(open, retryIn) as { unref?: () => void }).unref?.()
    retryIn = Math.min(retryIn * 2, RETRY_MAX_MS)
  }
  const isMaster = (node: unknown): boolean => {
    const address = (n: unknown) => {
      const { host, port } = (n ?? {}) as { host?: unknown; port?: unknown }
      return `${String(host)}:${String(port)}`
    }
    const wanted = address(node)
    return (client.masters ?? []).some((m) => address(m) === wanted)
  }

  return {
    hub,
    dispose() {
      const sub = subscriber
      subscriber = undefined
      if (sub?.isOpen) sub.destroy()
      hub.close()
    },
  }
}
