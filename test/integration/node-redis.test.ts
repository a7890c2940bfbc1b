/**
 * node-redis beside ioredis on one Redis, and what is particular to node-redis clients: both clients read
 * what the other wrote, a tombstone or tag stamp left through one fences the other's loads, a write through
 * one wakes a process waiting through the other; a client built with Buffer replies; a cluster not yet
 * connected (or still connecting); the one subscriber connection the adapter opens and closes.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { createClient, createCluster, RESP_TYPES } from '@redis/client'
import { Cluster, Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import type { CacheAdapter } from '../../src/adapters/adapter.js'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { nodeRedisAdapter } from '../../src/adapters/node-redis.js'
import type { CacheClient } from '../../src/index.js'
import { CacheOptionsError, createCacheClient } from '../../src/index.js'
import { keygen } from '../support/keygen.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const cleanup: Array<() => unknown> = []
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
})
const ns = keygen('nr')
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** A promise the test resolves by hand, to hold a loader mid-flight. */
function gate() {
  let open!: () => void
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

const url = inject('redisUrl')
const nodes = inject('clusterNodes')
const rootNodes = nodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` }))

async function nodeRedis() {
  const client = createClient({ url })
  client.on('error', () => {})
  await client.connect()
  cleanup.push(() => (client.isOpen ? client.close() : undefined))
  return client
}

async function nodeRedisCluster() {
  const cluster = createCluster({ rootNodes })
  cluster.on('error', () => {})
  await cluster.connect()
  cleanup.push(() => (cluster.isOpen ? cluster.close() : undefined))
  return cluster
}

/** The two clients, each as a separate process would build it, on standalone Redis and on the cluster. */
const pairs: Array<[string, { ioredis: () => Promise<CacheAdapter>; nodeRedis: () => Promise<CacheAdapter> }]> = [
  [
    'redis-server',
    {
      ioredis: async () => {
        const redis = new Redis(url, { maxRetriesPerRequest: 1 })
        cleanup.push(() => redis.quit())
        return ioredisAdapter(redis)
      },
      nodeRedis: async () => nodeRedisAdapter(await nodeRedis()),
    },
  ],
  [
    'redis cluster',
    {
      ioredis: async () => {
        const cluster = new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: 1 } })
        cleanup.push(() => cluster.quit())
        return ioredisAdapter(cluster)
      },
      nodeRedis: async () => nodeRedisAdapter(await nodeRedisCluster()),
    },
  ],
]

function cacheOver(adapter: CacheAdapter, namespace: string): CacheClient {
  const cache = createCacheClient({ adapter, namespace })
  cleanup.push(() => cache.close())
  return cache
}

describe.each(pairs)('node-redis and ioredis sharing one %s', (_, make) => {
  const directions = [
    ['node-redis', 'ioredis'],
    ['ioredis', 'node-redis'],
  ] as const
  const both = async (namespace: string) => {
    const [n, i] = await Promise.all([make.nodeRedis(), make.ioredis()])
    return { 'node-redis': cacheOver(n, namespace), ioredis: cacheOver(i, namespace) }
  }

  it.each(directions)('a value stored through %s is a hit through %s, tags included', async (writer, reader) => {
    const caches = await both(ns())
    let loads = 0
    const value = { id: 7, name: 'Blue room', seats: [1, 2, 3] }
    expect(await caches[writer].getOrSet('room:7', () => value, { tags: ['rooms'] })).toEqual(value)
    expect(await caches[reader].getOrSet('room:7', () => ++loads, { tags: ['rooms'] })).toEqual(value)
    expect(await caches[reader].get('room:7')).toEqual(value)
    expect(loads).toBe(0)
    expect(caches[reader].metrics()).toMatchObject({ hits: 2, misses: 0, errors: 0 })
  })

  it.each(directions)(
    'a delete() through %s fences a load in flight through %s: the old value is never written back',
    async (invalidator, loader) => {
      const caches = await both(ns())
      const dbRead = gate()
      const started = gate()
      const load = caches[loader].getOrSet('k', async () => {
        started.open()
        await dbRead.promise
        return 'old'
      })
      await started.promise
      await caches[invalidator].delete('k')
      dbRead.open()
      expect(await load).toBe('old')
      expect(await caches[loader].get('k')).toBeUndefined()
      expect(await caches[invalidator].get('k')).toBeUndefined()
      expect(await caches[loader].getOrSet('k', () => 'new')).toBe('new')
      expect(await caches[invalidator].get('k')).toBe('new')
    },
  )

  it.each(directions)(
    'invalidateTags() and invalidatePattern() through %s make entries stored through %s misses',
    async (invalidator, writer) => {
      const caches = await both(ns())
      await caches[writer].set('tagged', 't', { tags: ['rooms'] })
      await caches[writer].set('user:1:page', 'p')
      await caches[writer].set('other', 'o')
      await caches[invalidator].invalidateTags(['rooms'])
      expect(await caches[invalidator].invalidatePattern('user:*')).toBe(1)
      expect(await caches[writer].get('tagged')).toBeUndefined()
      expect(await caches[writer].get('user:1:page')).toBeUndefined()
      expect(await caches[writer].get('other')).toBe('o')
    },
  )

  it.each(directions)(
    'a process waiting through %s on a lock held through %s is woken by the holder’s write, not by a poll',
    async (waiter, holder) => {
      const namespace = ns()
      const caches = await both(namespace)
      // Counts waits that ended before their own timeout: only an announcement ends one early.
      const inner = waiter === 'node-redis' ? await make.nodeRedis() : await make.ioredis()
      const wait = inner.waitForWrite?.bind(inner)
      expect(wait).toBeDefined()
      if (!wait) return
      let early = 0
      const counting: CacheAdapter = {
        ...inner,
        waitForWrite: async (key, ms) => {
          const begun = performance.now()
          await wait(key, ms)
          if (performance.now() - begun < ms - 2) early++
        },
      }
      const waiting = cacheOver(counting, namespace)
      // The subscriber connection opens on the first wait; let it subscribe before the test's wait.
      await wait(`${namespace}:warm`, 300)
      for (let attempt = 0; early === 0 && attempt < 3; attempt++) {
        const key = `k${attempt}`
        const loaded = gate()
        const loading = caches[holder].getOrSet(key, async () => {
          await loaded.promise
          return 'v'
        })
        await sleep(20)
        const waited = waiting.getOrSet(key, () => 'unused')
        await sleep(150)
        loaded.open()
        await loading
        expect(await waited).toBe('v')
      }
      expect(early).toBeGreaterThan(0)
    },
  )
})

describe('a node-redis client whose replies are Buffers (typeMapping)', () => {
  it('still reads, writes, tags and scans: the adapter asks for default reply types', async () => {
    const client = createClient({ url, commandOptions: { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } } })
    client.on('error', () => {})
    await client.connect()
    cleanup.push(() => client.close())
    await client.set('buffer-probe', 'x')
    expect(Buffer.isBuffer(await client.get('buffer-probe'))).toBe(true)
    const cache = cacheOver(nodeRedisAdapter(client), ns())
    let loads = 0
    expect(await cache.getOrSet('k', () => ({ n: ++loads }), { tags: ['t'] })).toEqual({ n: 1 })
    expect(await cache.getOrSet('k', () => ({ n: ++loads }), { tags: ['t'] })).toEqual({ n: 1 })
    await cache.invalidateTags(['t'])
    expect(await cache.get('k')).toBeUndefined()
    await cache.set('a', 1)
    // 'k' still holds its (tag-invalidated) entry: clear() counts both.
    expect(await cache.clear()).toBe(2)
    expect(await cache.get('a')).toBeUndefined()
    expect(cache.metrics().errors).toBe(0)
  })
})

describe('what the adapter is given', () => {
  it('refuses a URL or a client of another library with CacheOptionsError naming the parameter', () => {
    for (const wrong of ['redis://127.0.0.1:6379', {}, null]) {
      expect(() => nodeRedisAdapter(wrong as never)).toThrow(CacheOptionsError)
      expect(() => nodeRedisAdapter(wrong as never)).toThrow(/nodeRedisAdapter\(client\): expected a node-redis/)
    }
  })

  it('tells a client from a cluster, and says which in errors, events and health()', async () => {
    const [client, cluster] = await Promise.all([nodeRedis(), nodeRedisCluster()])
    expect(nodeRedisAdapter(client).name).toBe('node-redis')
    expect(nodeRedisAdapter(cluster).name).toBe('node-redis-cluster')
    const cache = cacheOver(nodeRedisAdapter(cluster), ns())
    expect(await cache.health()).toMatchObject({ ok: true, adapter: 'node-redis-cluster' })
  })
})

describe('a node-redis cluster before and while it connects', () => {
  it('never connected: getOrSet answers from the loader, and the error says to call connect()', async () => {
    const cluster = createCluster({ rootNodes })
    const cache = createCacheClient({ adapter: nodeRedisAdapter(cluster), namespace: ns(), timeout: 200 })
    cleanup.push(() => cache.close())
    const errors: string[] = []
    cache.on('error', (e) => errors.push(e.error.message))
    expect(await cache.getOrSet('k', () => 'from-db')).toBe('from-db')
    expect(errors[0]).toMatch(/call and await cluster\.connect\(\)/)
    await expect(cache.clear()).rejects.toMatchObject({ code: 'CACHEWARD_BACKEND' })
    expect(await cache.health()).toMatchObject({ ok: false })
  })

  it('still connecting: commands wait for the topology, and clear() deletes every key on every master', async () => {
    const namespace = ns()
    const seed = new Cluster(nodes)
    cleanup.push(() => seed.quit())
    const seeded = 60
    await Promise.all(
      Array.from({ length: seeded }, (_, i) =>
        seed.set(`${namespace}:k${i}`, `cw1|g||0|1|1|1|1\n{"w":1,"v":${i}}`, 'PX', 60_000),
      ),
    )
    // The seeded keys are spread over all three masters.
    const perMaster = await Promise.all(seed.nodes('master').map((node) => node.keys(`${namespace}:*`)))
    expect(perMaster.every((keys) => keys.length > 0)).toBe(true)

    const fresh = createCluster({ rootNodes })
    fresh.on('error', () => {})
    const connecting = fresh.connect()
    cleanup.push(async () => {
      await connecting
      await fresh.close()
    })
    const cache = createCacheClient({ adapter: nodeRedisAdapter(fresh), namespace, timeout: 2_000 })
    cleanup.push(() => cache.close())
    expect(await cache.clear()).toBe(seeded)
    const left = await Promise.all(Array.from({ length: seeded }, (_, i) => seed.get(`${namespace}:k${i}`)))
    expect(left.filter((v) => v?.includes('"v"'))).toEqual([])

    const other = createCluster({ rootNodes })
    other.on('error', () => {})
    const connectingToo = other.connect()
    cleanup.push(async () => {
      await connectingToo
      await other.close()
    })
    const early = createCacheClient({ adapter: nodeRedisAdapter(other), namespace, timeout: 2_000 })
    cleanup.push(() => early.close())
    expect(await early.getOrSet('k', () => 'loaded')).toBe('loaded')
    expect(early.metrics().errors).toBe(0)
  })
})

describe('many short-lived caches over one long-lived cluster client', () => {
  it('add one failover listener to it in all, not one per cache left behind after close()', async () => {
    const cluster = await nodeRedisCluster()
    const before = cluster.listenerCount('node-reconnecting')
    // A cache per request or job, each closed when done: the user's cluster client outlives them all.
    for (let i = 0; i < 20; i++) {
      const cache = createCacheClient({ adapter: nodeRedisAdapter(cluster), namespace: `${ns()}-${i}` })
      expect(await cache.getOrSet('k', () => 'v')).toBe('v')
      await cache.close()
    }
    expect(cluster.listenerCount('node-reconnecting')).toBeLessThanOrEqual(before + 1)
  })
})

describe('the subscriber connection the adapter owns', () => {
  /** The names of the connections the server has. */
  async function connectionNames(admin: Redis): Promise<string[]> {
    const list = (await admin.client('LIST')) as string
    return list.split('\n').map((line) => / name=(\S*)/.exec(line)?.[1] ?? '')
  }

  it('is opened on the first wait and closed by close(), which leaves the user’s client open', async () => {
    const admin = new Redis(url)
    cleanup.push(() => admin.quit())
    const client = createClient({ url, name: `user-${Date.now()}` })
    client.on('error', () => {})
    await client.connect()
    cleanup.push(() => (client.isOpen ? client.close() : undefined))
    const name = client.options?.name as string
    const cache = createCacheClient({ adapter: nodeRedisAdapter(client), namespace: ns() })
    const owned = () => connectionNames(admin).then((names) => names.filter((n) => n === name).length)
    expect(await owned()).toBe(1)

    const adapter = nodeRedisAdapter(client)
    await adapter.waitForWrite?.('some-key', 100)
    // The duplicate carries the user's options, its name included.
    await expect.poll(owned, { timeout: 2_000 }).toBe(2)
    await adapter.dispose?.()
    await expect.poll(owned, { timeout: 2_000 }).toBe(1)

    expect(await cache.getOrSet('k', () => 'v')).toBe('v')
    await cache.close()
    expect(client.isOpen).toBe(true)
    expect(await client.ping()).toBe('PONG')
  })

  it.each([
    ['a client', `createClient({ url: ${JSON.stringify(url)} })`],
    ['a cluster', `createCluster({ rootNodes: ${JSON.stringify(rootNodes)} })`],
  ])('never keeps a process alive: %s whose user closed it exits while the cache is still open', async (_, build) => {
    const adapterModule = pathToFileURL(
      fileURLToPath(new URL('../../src/adapters/node-redis.ts', import.meta.url)),
    ).href
    const code = [
      `const { createClient, createCluster } = await import('@redis/client')`,
      `const { nodeRedisAdapter } = await import(${JSON.stringify(adapterModule)})`,
      `const client = ${build}`,
      `client.on('error', () => {})`,
      `await client.connect()`,
      `const adapter = nodeRedisAdapter(client)`,
      // The first wait opens the subscriber; the second runs once it has subscribed.
      `await adapter.waitForWrite('k', 300)`,
      `await adapter.waitForWrite('k', 10)`,
      `await client.close()`,
      `console.log('closed')`,
    ].join('\n')
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    cleanup.push(() => child.kill('SIGKILL'))
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8')
    })
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8')
    })
    const exited = new Promise<number | string>((resolve) =>
      child.once('exit', (code, signal) => resolve(code ?? `${signal}`)),
    )
    const exit = await Promise.race([exited, sleep(8_000).then(() => 'still running after 8 s')])
    expect(output).toBe('closed\n')
    expect(exit).toBe(0)
  })
})
