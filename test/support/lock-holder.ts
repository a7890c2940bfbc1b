/**
 * A process that takes the stampede lock on one key and never lets go of it, to be SIGKILLed by a
 * test: it starts `getOrSet(key)` with a loader that never settles, prints "locked" once that loader
 * runs (its lock is then held, and extended every lockTtl / 2 while it lives), and waits.
 *
 *   node --import tsx test/support/lock-holder.ts <redis url> <namespace> <key> <lockTtl ms>
 */
import { Redis } from 'ioredis'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { createCacheClient } from '../../src/index.js'

const [url, namespace, key, lockTtl] = process.argv.slice(2)
if (!url || !namespace || !key || !lockTtl) {
  process.stderr.write('usage: lock-holder.ts <redis url> <namespace> <key> <lockTtl ms>\n')
  process.exit(2)
}

const redis = new Redis(url, { maxRetriesPerRequest: 1 })
redis.on('error', (error: Error) => process.stderr.write(`redis: ${error.message}\n`))
const cache = createCacheClient({ adapter: ioredisAdapter(redis), namespace, lockTtl: Number(lockTtl) })
cache.on('error', (e) => process.stderr.write(`cache: ${e.operation}: ${e.error.message}\n`))

void cache.getOrSet(key, () => {
  process.stdout.write('locked\n')
  return new Promise<never>(() => {})
})
// The lock's heartbeat timer is unref'd; this keeps the process alive until it is killed.
setInterval(() => {}, 60_000)
