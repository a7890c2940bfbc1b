import { Cluster, Redis } from 'ioredis'
import { createClient, createCluster } from 'redis6'
import { inject } from 'vitest'
import { nodeRedisAdapter } from '../../src/adapters/node-redis.js'
import { defineContractSuite } from './cache-client.contract.js'
import { rawHooks } from './raw-hooks.js'

// node-redis 6 (`redis` 6, installed under the redis6 alias) with its defaults: RESP3, a 5 s command timeout,
// and a cluster that refuses commands until connect() is done. Standalone and the 3-master cluster, each adapter
// on a connection of its own, connect() started and not awaited (as in node-redis.test.ts).
const url = inject('redisUrl')
const rootNodes = inject('clusterNodes').map(({ host, port }) => ({ url: `redis://${host}:${port}` }))
const connections: { close(): Promise<unknown> }[] = []
const started = <T extends { on(event: 'error', listener: () => void): unknown; connect(): Promise<unknown> }>(
  client: T,
): T => {
  client.on('error', () => {})
  client.connect().catch(() => {})
  return client
}
const client = () => {
  const c = started(createClient({ url }))
  connections.push(c)
  return c
}
const cluster = () => {
  const c = started(createCluster({ rootNodes }))
  connections.push(c)
  return c
}
const admin = new Redis(url)
const clusterAdmin = new Cluster(inject('clusterNodes'))

defineContractSuite({
  name: 'redis-server (node-redis 6)',
  makeAdapter: () => nodeRedisAdapter(client()),
  makePeer: () => nodeRedisAdapter(client()),
  ...rawHooks(admin),
  cleanup: () => admin.quit().then(() => undefined),
})

defineContractSuite({
  name: 'redis cluster (3 masters, node-redis 6)',
  makeAdapter: () => nodeRedisAdapter(cluster()),
  makePeer: () => nodeRedisAdapter(cluster()),
  ...rawHooks(clusterAdmin),
  cleanup: async () => {
    await Promise.allSettled(connections.map((c) => c.close()))
    await clusterAdmin.quit()
  },
})
