import { Cluster } from 'ioredis'
import { inject } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { defineContractSuite } from './cache-client.contract.js'
import { rawHooks } from './raw-hooks.js'

// The whole contract with the in-process tier on, over the real 3-master cluster.
const nodes = inject('clusterNodes')
const connections: Cluster[] = []
const connect = () => {
  const cluster = new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: 1 } })
  connections.push(cluster)
  return cluster
}
const admin = connect()

defineContractSuite({
  name: 'redis cluster with l1',
  makeAdapter: () => ioredisAdapter(connect()),
  makePeer: () => ioredisAdapter(connect()),
  ...rawHooks(admin),
  clientOptions: { l1: true },
  cleanup: async () => {
    await Promise.all(connections.map((c) => c.quit()))
  },
})
