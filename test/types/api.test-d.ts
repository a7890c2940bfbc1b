/**
 * Type-level checks of the public API, run by `tsc --noEmit` (part of npm test): the names users
 * write must keep compiling, and the wrong calls must keep failing to compile.
 */
import { Redis as Upstash } from '@upstash/redis'
import { Cluster, Redis } from 'ioredis'
import { Redis as Redis6 } from 'ioredis6'
import { expectTypeOf } from 'vitest'
import * as z from 'zod'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { memoryAdapter } from '../../src/adapters/memory.js'
import { upstashAdapter } from '../../src/adapters/upstash.js'
import { type BatchLoaderContext, type CacheClient, createCacheClient, type LoaderContext } from '../../src/index.js'

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

// A loader that takes `ctx` without annotating it still gives its return type to the call (issue 16: TypeScript
// fixed the value type to `unknown` while typing `ctx`, so the result was `unknown` and define().set took anything).
interface Room {
  id: string
  name: string
}
interface User {
  org: string
  id: number
}
declare function fetchRoom(id: string, signal: AbortSignal): Promise<Room>
declare function fetchUser(org: string, id: number, signal: AbortSignal): Promise<User>

async function inferenceWithContext() {
  const room = await cache.getOrSet('room:1', (ctx) => fetchRoom('1', ctx.signal))
  expectTypeOf(room).toEqualTypeOf<Room>()
  const tagged = await cache.getOrSet('room:2', async (ctx) => {
    ctx.setTags(['rooms'])
    ctx.setTtl('1m')
    return { id: ctx.key, name: 'two' }
  })
  expectTypeOf(tagged).toEqualTypeOf<{ id: string; name: string }>()

  // Unannotated, the stale value is unknown; annotate ctx (or pass the type) to use it.
  await cache.getOrSet('room:3', (ctx) => {
    expectTypeOf(ctx.stale).toEqualTypeOf<unknown>()
    return fetchRoom('3', ctx.signal)
  })
  const stale = await cache.getOrSet(
    'room:4',
    async (ctx: LoaderContext<Room>) => ctx.stale ?? fetchRoom('4', ctx.signal),
  )
  expectTypeOf(stale).toEqualTypeOf<Room>()
  const explicit = await cache.getOrSet<Room>('room:5', async (ctx) => ctx.stale ?? fetchRoom('5', ctx.signal))
  expectTypeOf(explicit).toEqualTypeOf<Room>()
  // A wider stale type is sound (the cached value is one the loader returned) ...
  const wider = await cache.getOrSet('room:6', async (ctx: LoaderContext<Room | null>) => fetchRoom('6', ctx.signal))
  expectTypeOf(wider).toEqualTypeOf<Room>()
  // @ts-expect-error ... a stale type the loader's value does not fit is not
  await cache.getOrSet('room:7', async (ctx: LoaderContext<number>) => fetchRoom('7', ctx.signal))
  // @ts-expect-error an explicit type checks what the loader returns
  await cache.getOrSet<Room>('room:8', (ctx) => ({ id: ctx.key }))

  const users = cache.define({
    key: (org: string, id: number) => `user:${org}:${id}`,
    load: ([org, id], ctx) => fetchUser(org, id, ctx.signal),
  })
  expectTypeOf(await users.get('acme', 1)).toEqualTypeOf<User>()
  await users.set(['acme', 1], { org: 'acme', id: 1 })
  // @ts-expect-error the value must be a User
  await users.set(['acme', 1], { nope: true })
  const rooms = cache.define({
    key: (id: string) => `room:${id}`,
    load: async ([id], ctx: LoaderContext<Room>) => ctx.stale ?? fetchRoom(id, ctx.signal),
    tags: (id) => ['rooms', `room:${id}`],
  })
  expectTypeOf(await rooms.peek('1')).toEqualTypeOf<Room | undefined>()
  const typed = cache.define<[string], Room>({
    key: (id: string) => `room:${id}`,
    load: ([id], ctx) => fetchRoom(id, ctx.signal),
  })
  expectTypeOf(await typed.get('1')).toEqualTypeOf<Room>()
}
void inferenceWithContext

declare function fetchRooms(ids: readonly string[], signal: AbortSignal): Promise<Room[]>

async function batchInference() {
  // T is inferred from what loadMany returns, with ctx unannotated.
  const rooms = await cache.getOrSetMany(['room:1', 'room:2'], (missing, ctx) => fetchRooms(missing, ctx.signal))
  expectTypeOf(rooms).toEqualTypeOf<(Room | undefined)[]>()
  const mapped = await cache.getOrSetMany(['a'], async (missing, ctx) => {
    ctx.setTags(['rooms'])
    expectTypeOf(ctx.keys).toEqualTypeOf<readonly string[]>()
    expectTypeOf(ctx.stale).toEqualTypeOf<ReadonlyMap<string, unknown>>()
    return new Map(missing.map((k) => [k, k.length]))
  })
  expectTypeOf(mapped).toEqualTypeOf<(number | undefined)[]>()
  const explicit = await cache.getOrSetMany<Room>(['room:3'], async (missing, ctx) =>
    missing.map((k) => ctx.stale.get(k) ?? { id: k, name: k }),
  )
  expectTypeOf(explicit).toEqualTypeOf<(Room | undefined)[]>()
  const stale = await cache.getOrSetMany(['room:4'], async (missing, ctx: BatchLoaderContext<Room>) =>
    missing.map((k) => ctx.stale.get(k)),
  )
  expectTypeOf(stale).toEqualTypeOf<(Room | undefined)[]>()
  // @ts-expect-error an explicit type checks what loadMany returns
  await cache.getOrSetMany<Room>(['room:5'], async (missing) => missing.map((k) => ({ id: k })))
  // @ts-expect-error keys are an array
  await cache.getOrSetMany('room:6', async () => [])
  await cache.setMany([['room:7', { id: '7', name: 'seven' }]], { ttl: '1m' })
  await cache.deleteMany(['room:7'])

  const users = cache.define({
    key: (org: string, id: number) => `user:${org}:${id}`,
    load: ([org, id], ctx) => fetchUser(org, id, ctx.signal),
    loadMany: (argsList, ctx) => Promise.all(argsList.map(([org, id]) => fetchUser(org, id, ctx.signal))),
  })
  expectTypeOf(await users.getMany([['acme', 1]])).toEqualTypeOf<(User | undefined)[]>()
  // @ts-expect-error argument lists are checked
  await users.getMany([['acme', 'one']])
}
void batchInference

// The `invalidate` event is a union on `kind`: each kind carries its own fields, present for sure once narrowed.
cache.on('invalidate', (event) => {
  expectTypeOf(event.kind).toEqualTypeOf<'delete' | 'tags' | 'pattern' | 'clear'>()
  // Before narrowing, a field is there or undefined, as it always was.
  expectTypeOf(event.tags).toEqualTypeOf<readonly string[] | undefined>()
  switch (event.kind) {
    case 'delete':
      expectTypeOf(event.key).toEqualTypeOf<string>()
      break
    case 'tags':
      expectTypeOf(event.tags).toEqualTypeOf<readonly string[]>()
      break
    case 'pattern':
      expectTypeOf(event.pattern).toEqualTypeOf<string>()
      expectTypeOf(event.count).toEqualTypeOf<number>()
      break
    case 'clear':
      expectTypeOf(event.count).toEqualTypeOf<number>()
      break
  }
})
