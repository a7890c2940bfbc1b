/**
 * The in-process tier over redis-server (node-redis and ioredis): a read sent while the tier's subscription is down
 * and answered after the subscription is confirmed again must not fill the tier. Another client may have changed the
 * key while nobody listened; on the old code the tier then served the old value for its whole fresh window.
 */
import { randomBytes } from 'node:crypto'
import { createClient } from '@redis/client'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { nodeRedisAdapter } from '../../src/adapters/node-redis.js'
import type { CacheAdapter, CacheClient } from '../../src/index.js'
import { createCacheClient } from '../../src/index.js'
import { keygen } from '../support/keygen.js'

const cleanup: Array<() => unknown> = []
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
})
const ns = keygen('rvl1')
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

function connect(options: Record<string, unknown> = {}): Redis {
  const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1, ...options })
  redis.on('error', () => {})
  cleanup.push(() => redis.disconnect())
  return redis
}

async function until(check: () => boolean | Promise<boolean>, ms = 3_000): Promise<void> {
  const started = performance.now()
  while (!(await check())) {
    if (performance.now() - started > ms) throw new Error(`not within ${ms} ms`)
    await sleep(1)
  }
}

/** Kills the pub/sub connections named `name` (the reader's own subscriber only). */
async function killSubscriber(admin: Redis, name: string): Promise<void> {
  const call = admin.call.bind(admin) as (...args: string[]) => Promise<unknown>
  const list = (await call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string
  const ids = list
    .split('\n')
    .filter((line) => line.includes(` name=${name} `))
    .map((line) => /^id=(\d+)/.exec(line)?.[1])
    .filter((id): id is string => id !== undefined)
  expect(ids.length).toBeGreaterThan(0)
  for (const id of ids) await admin.client('KILL', 'ID', id)
}

/** Holds read replies while `hold` is set (a slow link on the command connection, not on the subscriber's). */
function holdingReads(inner: CacheAdapter) {
  let hold: Promise<void> | undefined
  let release = () => {}
  const adapter: CacheAdapter = {
    ...inner,
    read: async (key, lock, tags) => {
      const reply = await inner.read(key, lock, tags)
      if (hold) await hold
      return reply
    },
  }
  return {
    adapter,
    hold() {
      hold = new Promise((resolve) => {
        release = resolve
      })
    },
    release() {
      hold = undefined
      release()
    },
  }
}

async function scenario(
  reader: CacheClient,
  namespace: string,
  control: ReturnType<typeof holdingReads>,
  name: string,
) {
  const admin = connect()
  const writer = createCacheClient({ adapter: ioredisAdapter(connect()), namespace })
  cleanup.push(() => writer.close())
  await reader.has('__start__')
  await until(() => reader.metrics().l1?.live === true)
  await writer.set('k', 'old')

  // The reader's subscription goes down (it reconnects after a few hundred ms).
  await killSubscriber(admin, name)
  await until(() => reader.metrics().l1?.live === false)

  // A read sent now runs on the server at once and sees 'old'; its reply is slow to come back.
  control.hold()
  const read = reader.getOrSet('k', () => 'loaded')
  await sleep(30)
  // Another client changes the key while the reader hears nothing (its subscriber is reconnecting).
  await writer.set('k', 'new')
  // The reader resubscribes; only then does the old reply arrive.
  await until(() => reader.metrics().l1?.live === true, 5_000)
  control.release()
  expect(await read).toBe('old')

  // writer.set('k', 'new') resolved long ago and the reader is subscribed: it must not serve 'old'.
  const before = reader.metrics().l1Hits
  const got = await reader.getOrSet('k', () => 'unused')
  expect({ got, l1Hits: reader.metrics().l1Hits - before }).toEqual({ got: 'new', l1Hits: 0 })
}

describe('l1: a reply read while the subscription was down, arriving after it is confirmed again', () => {
  it('node-redis: does not fill the tier with a value changed while the subscription was down', async () => {
    const name = `rv${randomBytes(4).toString('hex')}`
    const client = createClient({ url: inject('redisUrl'), name, socket: { reconnectStrategy: () => 400 } })
    client.on('error', () => {})
    await client.connect()
    cleanup.push(() => client.destroy())
    const control = holdingReads(nodeRedisAdapter(client))
    const namespace = ns()
    const reader = createCacheClient({ adapter: control.adapter, namespace, l1: true })
    cleanup.push(() => reader.close())
    await scenario(reader, namespace, control, name)
  })

  it('ioredis: does not fill the tier with a value changed while the subscription was down', async () => {
    const name = `rv${randomBytes(4).toString('hex')}`
    const control = holdingReads(ioredisAdapter(connect({ connectionName: name, retryStrategy: () => 400 })))
    const namespace = ns()
    const reader = createCacheClient({ adapter: control.adapter, namespace, l1: true })
    cleanup.push(() => reader.close())
    await scenario(reader, namespace, control, name)
  })
})
