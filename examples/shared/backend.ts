/**
 * The examples' cache backend, chosen from the environment the way an app would:
 * REDIS_URL → Redis through ioredis; UPSTASH_REDIS_REST_URL + UPSTASH_REDIS_REST_TOKEN → Upstash;
 * otherwise the in-process memory adapter (cacheward's default). On Redis and Upstash the apps also turn on
 * `l1`, the in-process tier that Redis keeps coherent (docs/16-l1.md): hot reads never leave the process. Client
 * libraries are imported only on the path that uses them, and no URL or token is ever printed.
 */
import type { Redis as Upstash } from '@upstash/redis'
import type { CacheAdapter, CacheClientOptions } from 'cacheward'
import type { Redis } from 'ioredis'

export interface Backend {
  kind: 'memory' | 'redis' | 'upstash'
  /** The cache adapter; undefined means the memory default. */
  adapter: CacheAdapter | undefined
  /** What the apps pass to `createCacheClient()` for this backend: the adapter, and `l1` over Redis and Upstash. */
  cacheOptions: Pick<CacheClientOptions, 'adapter' | 'l1'>
  /** The raw ioredis client when kind is 'redis' (for data-structure patterns beyond caching). */
  redis: Redis | undefined
  /** The raw @upstash/redis client when kind is 'upstash'. */
  upstash: Upstash | undefined
  /** Closes the clients this module created. */
  close(): Promise<void>
}

export interface BackendEnv {
  REDIS_URL?: string | undefined
  UPSTASH_REDIS_REST_URL?: string | undefined
  UPSTASH_REDIS_REST_TOKEN?: string | undefined
}

export async function openBackend(env: BackendEnv = process.env): Promise<Backend> {
  if (env.REDIS_URL) {
    const { Redis } = await import('ioredis')
    const { ioredisAdapter } = await import('cacheward/ioredis')
    // One retry and a command timeout: a cache must not queue a request for seconds (see docs/09-adapters.md).
    const redis = new Redis(env.REDIS_URL, { maxRetriesPerRequest: 1, commandTimeout: 1_000 })
    redis.on('error', () => {}) // surfaced through health() and the cache's 'error' events instead
    const adapter = ioredisAdapter(redis)
    return {
      kind: 'redis',
      adapter,
      cacheOptions: { adapter, l1: true },
      redis,
      upstash: undefined,
      close: async () => void (await redis.quit().catch(() => redis.disconnect())),
    }
  }
  if (env.UPSTASH_REDIS_REST_URL && env.UPSTASH_REDIS_REST_TOKEN) {
    const { Redis } = await import('@upstash/redis')
    const { upstashAdapter } = await import('cacheward/upstash')
    const upstash = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, retry: false })
    const adapter = upstashAdapter(upstash)
    return {
      kind: 'upstash',
      adapter,
      cacheOptions: { adapter, l1: true },
      redis: undefined,
      upstash,
      close: async () => {},
    }
  }
  return {
    kind: 'memory',
    adapter: undefined,
    cacheOptions: {},
    redis: undefined,
    upstash: undefined,
    close: async () => {},
  }
}
