import { Cluster, Redis } from 'ioredis'
import { createClient, createCluster } from 'redis-client-5-0'
import { inject } from 'vitest'
import { nodeRedisAdapter } from '../../src/adapters/node-redis.js'
import { defineContractSuite } from './cache-client.contract.js'
import { rawHooks } from './raw-hooks.js'

// The peer range's floor: @redis/client 5.0.0 (under the redis-client-5-0 alias), whose cluster emits no event
// when it knows its topology and whose nodeClient() returns a connected node's client as it is. Standalone and
// the 3-master cluster, connect() started and not awaited (as in node-redis.test.ts).
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
  name: 'redis-server (node-redis 5.0.0)',
  makeAdapter: () => nodeRedisAdapter(client()),
  makePeer: () => nodeRedisAdapter(client()),
  ...rawHooks(admin),
  cleanup: () => admin.quit().then(() => undefined),
})

defineContractSuite({
  name: 'redis cluster (3 masters, node-redis 5.0.0)',
  makeAdapter: () => nodeRedisAdapter(cluster()),
  makePeer: () => nodeRedisAdapter(cluster()),
  ...rawHooks(clusterAdmin),
  cleanup: async () => {
    await Promise.allSettled(connections.map((c) => c.close()))
    await clusterAdmin.quit()
  },
})
