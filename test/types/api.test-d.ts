/**
 * Type-level checks of the public API, run by `tsc --noEmit` (part of npm test): the names users
 * write must keep compiling, and the wrong calls must keep failing to compile.
 */
import { Redis as Upstash } from '@upstash/redis'
import { Cluster, Redis } from 'ioredis'
import { Redis as Redis6 } from 'ioredis6'
import * as z from 'zod'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { memoryAdapter } from '../../src/adapters/memory.js'
import { upstashAdapter } from '../../src/adapters/upstash.js'
import { type CacheClient, createCacheClient, type LoaderContext } from '../../src/index.js'

declare const cache: CacheClient

// Adapters accept the clients users already have: ioredis 5 and 6, Redis and Cluster, @upstash/redis.
ioredisAdapter(new Redis({ lazyConnect: true }))
ioredisAdapter(new Redis6({ lazyConnect: true }))
ioredisAdapter(new Cluster([], { lazyConnect: true }))
upstashAdapter(new Upstash({ url: 'http://127.0.0.1:1', token: 't' }))
createCacheClient({ adapter: memoryAdapter({ maxEntries: 10 }), namespace: 'app', ttl: '5m', staleIfError: 1000 })

// @ts-expect-error durations are numbers or strings with a unit
createCacheClient({ ttl: '5 minutes' })
// @ts-expect-error unknown options do not compile
createCacheClient({ tll: '5m' })

async function inference() {
  const n: number = await cache.getOrSet('k', () => 1)
  const s: string = await cache.getOrSet('k', async (ctx: LoaderContext<string>) => ctx.stale ?? 'x')
  const Room = z.object({ id: z.number() })
  const room: { id: number } = await cache.getOrSet('room', () => ({ id: 1 }), { schema: Room })
  const maybe: number | undefined = await cache.get<number>('k')
  // @ts-expect-error get may find nothing
  const sure: number = await cache.get<number>('k')

  const sessions = cache.define({
    key: (userId: string, page: number) => `s:${userId}:${page}`,
    load: ([userId, page]) => ({ userId, page }),
  })
  const v: { userId: string; page: number } = await sessions.get('u', 1)
  // @ts-expect-error key arguments are typed
  await sessions.get(1, 'u')
  sessions.pattern('u')
  return [n, s, room, maybe, sure, v]
}
void inference
