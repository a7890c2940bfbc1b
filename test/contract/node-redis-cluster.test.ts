import { createCluster } from '@redis/client'
import { Cluster } from 'ioredis'
import { inject } from 'vitest'
import { nodeRedisAdapter } from '../../src/adapters/node-redis.js'
import { defineContractSuite } from './cache-client.contract.js'
import { rawHooks } from './raw-hooks.js'

// The real 3-master cluster through node-redis v5's createCluster(): scans must visit every master and no
// script may touch keys of two slots. Each adapter gets a cluster client of its own; connect() is not awaited,
// so the first commands of each wait for the topology, as an app's would right after start.
const rootNodes = inject('clusterNodes').map(({ host, port }) => ({ url: `redis://${host}:${port}` }))
const connections: { close(): Promise<unknown> }[] = []
const connect = () => {
  const cluster = createCluster({ rootNodes })
  cluster.on('error', () => {})
  void cluster.connect()
  connections.push(cluster)
  return cluster
}
const admin = new Cluster(inject('clusterNodes'))

defineContractSuite({
  name: 'redis cluster (3 masters, node-redis)',
  makeAdapter: () => nodeRedisAdapter(connect()),
  makePeer: () => nodeRedisAdapter(connect()),
  ...rawHooks(admin),
  cleanup: async () => {
    await Promise.allSettled(connections.map((c) => c.close()))
    await admin.quit()
  },
})
