import { Cluster, Redis } from 'ioredis'
import { inject } from 'vitest'
import type { NodeRedisLikeClient } from '../../src/adapters/node-redis.js'
import { nodeRedisAdapter } from '../../src/adapters/node-redis.js'
import { defineContractSuite } from './cache-client.contract.js'
import { rawHooks } from './raw-hooks.js'

/** What a node-redis package (any version the peer range allows) gives: its two client factories. */
interface NodeRedisPackage {
  createClient(options: { url: string }): NodeRedisLikeClient & Connectable
  createCluster(options: { rootNodes: { url: string }[] }): NodeRedisLikeClient & Connectable
}

interface Connectable {
  on(event: 'error', listener: () => void): unknown
  connect(): Promise<unknown>
  close(): Promise<unknown>
}

/**
 * The contract on redis-server and on the 3-master cluster through one node-redis version (`label` names it in the
 * suite names), with its defaults: each adapter on a connection of its own, connect() started and not awaited (as
 * in node-redis.test.ts).
 */
export function defineNodeRedisSuites(label: string, redis: NodeRedisPackage): void {
  const url = inject('redisUrl')
  const rootNodes = inject('clusterNodes').map(({ host, port }) => ({ url: `redis://${host}:${port}` }))
  const connections: Connectable[] = []
  const started = <T extends Connectable>(client: T): T => {
    client.on('error', () => {})
    client.connect().catch(() => {})
    connections.push(client)
    return client
  }
  const admin = new Redis(url)
  const clusterAdmin = new Cluster(inject('clusterNodes'))

  defineContractSuite({
    name: `redis-server (${label})`,
    makeAdapter: () => nodeRedisAdapter(started(redis.createClient({ url }))),
    makePeer: () => nodeRedisAdapter(started(redis.createClient({ url }))),
    ...rawHooks(admin),
    cleanup: () => admin.quit().then(() => undefined),
  })

  defineContractSuite({
    name: `redis cluster (3 masters, ${label})`,
    makeAdapter: () => nodeRedisAdapter(started(redis.createCluster({ rootNodes }))),
    makePeer: () => nodeRedisAdapter(started(redis.createCluster({ rootNodes }))),
    ...rawHooks(clusterAdmin),
    cleanup: async () => {
      await Promise.allSettled(connections.map((c) => c.close()))
      await clusterAdmin.quit()
    },
  })
}
