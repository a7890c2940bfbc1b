/**
 * One process of the cross-process batch test (test/integration/batch-processes.test.ts): a client on a real
 * backend runs `getOrSetMany` over its keys at an agreed moment, with a loader that records which keys it loaded and
 * takes `loaderMs`, then prints `{ loaded, values, metrics }` as JSON on stdout.
 *
 *   node --import tsx test/support/batch-worker.ts <json settings>
 */
import { Cluster, Redis } from 'ioredis'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { createCacheClient } from '../../src/index.js'

export interface BatchWorkerSettings {
  backend: 'redis' | 'cluster'
  redisUrl: string
  clusterNodes: { host: string; port: number }[]
  namespace: string
  keys: string[]
  /** Epoch ms at which to start the batch, so the processes overlap. */
  startAt: number
  loaderMs: number
}

export interface BatchWorkerReport {
  loaded: string[]
  values: unknown[]
  metrics: { hits: number; misses: number; loads: number; errors: number }
}

const settings = JSON.parse(process.argv[2] ?? '{}') as BatchWorkerSettings
const client = settings.backend === 'cluster' ? new Cluster(settings.clusterNodes) : new Redis(settings.redisUrl)
const cache = createCacheClient({ adapter: ioredisAdapter(client), namespace: settings.namespace })
const loaded: string[] = []

await client.ping()
await new Promise((resolve) => setTimeout(resolve, Math.max(0, settings.startAt - Date.now())))
const values = await cache.getOrSetMany(settings.keys, async (missing) => {
  loaded.push(...missing)
  await new Promise((resolve) => setTimeout(resolve, settings.loaderMs))
  return missing.map((key) => `value of ${key}`)
})
const { hits, misses, loads, errors } = cache.metrics()
const report: BatchWorkerReport = { loaded, values, metrics: { hits, misses, loads, errors } }
process.stdout.write(JSON.stringify(report))
await cache.close()
await client.quit()
