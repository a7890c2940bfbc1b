/**
 * The structural types of the node-redis adapter: the part of a node-redis 5 or 6 client or cluster it uses.
 * node-redis is never imported; both majors fit as they are.
 * @module
 */

// node-redis declares its methods generic over modules, RESP version and type mapping, which no single
// signature can be assigned from; `any[]` parameters accept every instantiation. Replies are narrowed where
// they are used.
/**
 * A client method taking any arguments (node-redis declares them generic over modules and RESP versions).
 * @inline
 */
// biome-ignore lint/suspicious/noExplicitAny: see above
type Method = (...args: any[]) => unknown

/** One connection to one Redis server: a `createClient()` client, or a cluster's client for one master. */
export interface NodeRedisLikeNodeClient {
  /**
   * Sends one command as an array of strings (`client.sendCommand(['GET', key])`): the adapter sends every
   * command this way, with node-redis' default reply types whatever `typeMapping` the client was built with.
   */
  // biome-ignore lint/suspicious/noExplicitAny: node-redis overloads, as above
  sendCommand(...args: any[]): Promise<unknown>
  /** A new client with the same options, not yet connected: on a cluster, the adapter's subscriber to this node. */
  duplicate?: Method
}

/**
 * The part of a node-redis 5 or 6 client (`createClient()`) or cluster (`createCluster()`) the adapter uses.
 * Both fit as they are, whatever their modules, scripts, RESP version or type mapping.
 */
export interface NodeRedisLikeClient {
  /**
   * Sends one command. On a client: `sendCommand(args, options)`. On a cluster: `sendCommand(firstKey,
   * isReadonly, args, options)`, which routes by the key's slot and follows MOVED and ASK.
   */
  // biome-ignore lint/suspicious/noExplicitAny: node-redis overloads, as above
  sendCommand(...args: any[]): Promise<unknown>
  /** A new client (or cluster) with the same options, not yet connected: the adapter's own subscriber. */
  duplicate?: Method
  /** Whether `connect()` was called and the client was not closed since. */
  readonly isOpen?: boolean
  /**
   * Whether the client is connected. Read on a cluster only, where node-redis 6 sets it once `connect()` has
   * discovered the topology (node-redis 5 clusters have no such flag).
   */
  readonly isReady?: boolean
  /** Cluster only: the master nodes, known once `connect()` has discovered the topology. */
  readonly masters?: readonly unknown[]
  /** Adds an event listener: on a cluster, the adapter follows failovers (see `node-reconnecting`). */
  on?: Method
  /** Cluster only: the shard serving each hash slot (`{ master }`), as far as the cluster knows. */
  readonly slots?: readonly (
    | {
        /** The master node serving the slot (compared by identity, to group a batch's keys by node). */
        readonly master?: unknown
      }
    | undefined
  )[]
  /** Cluster only: the connection to one node of {@link NodeRedisLikeClient.masters}, opened on first use. */
  // biome-ignore lint/suspicious/noExplicitAny: the node type is node-redis' own
  nodeClient?: (node: any) => NodeRedisLikeNodeClient | Promise<NodeRedisLikeNodeClient>
}
