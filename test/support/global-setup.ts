import type { TestProject } from 'vitest/node'
import { assertRedisServerInstalled, startRedisCluster, startRedisServer } from './redis-server.js'
import { startUpstashRest } from './upstash-rest.js'

/**
 * Starts a standalone redis-server (or uses REDIS_URL), a 3-master cluster and a local Upstash REST
 * endpoint forwarding to the standalone server, in parallel; the returned teardown stops them all.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The cluster always needs redis-server, even when REDIS_URL points at an existing server.
  assertRedisServerInstalled()
  const envUrl = process.env.REDIS_URL
  const standalone = envUrl ? Promise.resolve(undefined) : startRedisServer()
  const redisUrl = standalone.then((s) => s?.url ?? envUrl!)
  const cluster = startRedisCluster()
  const upstash = redisUrl.then((url) => startUpstashRest({ redisUrl: url }))

  const results = await Promise.allSettled([standalone, cluster, upstash])
  const running = results.flatMap((r) => (r.status === 'fulfilled' && r.value ? [r.value] : []))
  const teardown = async () => {
    await Promise.all(running.map((r) => r.stop()))
  }
  const failed = results.find((r) => r.status === 'rejected')
  if (failed) {
    await teardown()
    throw failed.reason
  }

  // All settled above, so these awaits resolve at once.
  const endpoint = await upstash
  project.provide('redisUrl', await redisUrl)
  project.provide('clusterNodes', (await cluster).nodes)
  project.provide('upstashUrl', endpoint.url)
  project.provide('upstashToken', endpoint.token)
  return teardown
}
