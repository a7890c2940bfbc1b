import { Cluster } from 'ioredis'
import { inject } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { defineContractSuite } from './cache-client.contract.js'
import { rawHooks } from './raw-hooks.js'

// A real 3-master cluster started by the global setup: scans must visit every master and no
// script may touch keys of two slots.
const nodes = inject('clusterNodes')
const connections: Cluster[] = []
const connect = () => {
  const cluster = new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: 1 } })
  connections.push(cluster)
  return cluster
}
const admin = connect()

defineContractSuite({
  name: 'redis cluster (3 masters) [K2, K3]',
  makeAdapter: () => ioredisAdapter(connect()),
  makePeer: () => ioredisAdapter(connect()),
  ...rawHooks(admin),
  cleanup: async () => {
    await Promise.all(connections.map((c) => c.quit()))
  },
})
