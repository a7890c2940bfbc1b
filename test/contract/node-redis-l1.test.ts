import { createClient, createCluster } from '@redis/client'
import { Cluster, Redis } from 'ioredis'
import { inject } from 'vitest'
import { nodeRedisAdapter } from '../../src/adapters/node-redis.js'
import { defineContractSuite } from './cache-client.contract.js'
import { rawHooks } from './raw-hooks.js'

// The whole contract with the in-process tier on, through node-redis: real redis-server and the real 3-master
// cluster. The tier lives on the adapter's own subscriber (a duplicate of the client, or a client of one master).
const url = inject('redisUrl')
const rootNodes = inject('clusterNodes').map(({ host, port }) => ({ url: `redis://${host}:${port}` }))
const connections: { close(): Promise<unknown> }[] = []
const standalone = () => {
  const client = createClient({ url })
  client.on('error', () => {})
  void client.connect()
  connections.push(client)
  return client
}
const cluster = () => {
  const client = createCluster({ rootNodes })
  client.on('error', () => {})
  void client.connect()
  connections.push(client)
  return client
}
const admin = new Redis(url)
const clusterAdmin = new Cluster(inject('clusterNodes'))

defineContractSuite({
  name: 'redis-server with l1 (node-redis)',
  makeAdapter: () => nodeRedisAdapter(standalone()),
  makePeer: () => nodeRedisAdapter(standalone()),
  ...rawHooks(admin),
  clientOptions: { l1: true },
})

defineContractSuite({
  name: 'redis cluster with l1 (node-redis)',
  makeAdapter: () => nodeRedisAdapter(cluster()),
  makePeer: () => nodeRedisAdapter(cluster()),
  ...rawHooks(clusterAdmin),
  clientOptions: { l1: true },
  cleanup: async () => {
    await Promise.allSettled(connections.map((c) => c.close()))
    await Promise.all([admin.quit(), clusterAdmin.quit()])
  },
})
