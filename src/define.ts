/**
 * Typed key definitions: one place that says how a kind of entry is keyed, loaded, tagged and
 * invalidated, so routes stop rebuilding `meetings:user:${id}` by hand and invalidation globs cannot
 * drift from the keys that were written.
 * @module
 */
import type { Loader, LoaderContext } from './core.js'
import type { Duration } from './duration.js'
import { CacheKeyError } from './errors.js'
import { assertKeyList, escapeGlob } from './keys.js'
import type { BatchLoaderContext, LoadMany, LoadManyResult } from './load-many.js'
import type { GetOptions, GetOrSetOptions, SetOptions } from './options.js'
import type { StandardSchemaV1 } from './standard-schema.js'

/** Key arguments: strings or numbers, embedded in the key as text. */
export type KeyArgs = readonly (string | number)[]

/** What `define()` takes. `S` types `ctx.stale` in `load` (any type the value fits; `T` by default). */
export interface CacheDefinitionOptions<A extends KeyArgs, T extends S, S = T> {
  /**
   * Builds the logical key from the arguments. Embed every argument as text (a template literal),
   * so the definition can derive the matching glob for `invalidateAll()`.
   * @example key: (userId: string, page: number) => `sessions:${userId}:page:${page}`
   */
  key: (...args: A) => string
  /**
   * Loads the value on a miss, from the key arguments (as one tuple, so `T` is inferred from what it
   * returns) and the loader context.
   * @example load: ([userId, page], ctx) => db.sessions.page(userId, page)
   */
  load: (args: A, ctx: LoaderContext<S>) => T | Promise<T>
  /**
   * Loads many missing entries in one call, for `getMany()`: the key arguments of each (in the order given), and
   * a context like `getOrSetMany`'s (its keys are the logical keys, in the same order). Returns one value per
   * entry in that order (`undefined`: none, not stored), or a `Map` from logical key to value. Without it,
   * `getMany()` gets each entry as `get()` does.
   * @example loadMany: (argsList) => db.users.findMany(argsList.map(([id]) => id))
   */
  loadMany?: (argsList: A[], ctx: BatchLoaderContext<S>) => LoadManyResult<T> | Promise<LoadManyResult<T>>
  /** Fresh period for these entries (overrides the client's). */
  ttl?: Duration
  /** Stale-while-revalidate window for these entries (overrides the client's). */
  staleWhileRevalidate?: Duration
  /** Stale-if-error window for these entries (overrides the client's). */
  staleIfError?: Duration
  /** Tags the entries carry: a list, or a function of the key arguments. */
  tags?: readonly string[] | ((...args: A) => readonly string[])
  /** Standard Schema the value must satisfy, on read and on load. */
  schema?: StandardSchemaV1<unknown, T>
  /** Metrics category. */
  category?: string
}

/** A kind of entry, keyed by `A`, holding `T`. Created by `cache.define()`. */
export interface CacheDefinition<A extends KeyArgs, T> {
  /** The logical key for these arguments. */
  key(...args: A): string
  /** The value: cached, or loaded once and cached. */
  get(...args: A): Promise<T>
  /**
   * The values for many argument lists, in order: cached ones read in one batch, the missing ones loaded with one
   * `loadMany` call (per distinct tag list, where `tags` is a function). `undefined` where `loadMany` found none.
   */
  getMany(argsList: readonly A[]): Promise<(T | undefined)[]>
  /** The cached value if fresh, without loading. */
  peek(...args: A): Promise<T | undefined>
  /** Stores a value you already have (for example right after writing it to the database). */
  set(args: A, value: T): Promise<void>
  /** Removes the entry for these arguments; a load already running cannot write it back. */
  invalidate(...args: A): Promise<void>
  /**
   * Removes every entry of this definition whose leading key arguments are the given ones
   * (all of them when none are given), through the glob from {@link pattern}. Resolves the count.
   */
  invalidateAll(...leading: Partial<A>): Promise<number>
  /** The glob matching every key of this definition that starts with the given arguments; ids are escaped. */
  pattern(...leading: Partial<A>): string
}

// Private-use characters: never produced by an app's ids, so they mark where each argument lands.
const slot = (i: number) => `\uE000${i}\uE001`
const SLOT = /\uE000(\d+)\uE001/
/** Past this many parameters with defaults beyond `key.length`, key() is taken to have rest parameters. */
const MAX_DEFAULTED = 16

/**
 * The client methods a definition calls: the client passes itself. Declared here, not imported, so
 * nothing below the client depends on it.
 */
interface DefinitionHost {
  getOrSet<T>(key: string, loader: Loader<T>, options?: GetOrSetOptions<T>): Promise<T>
  getOrSetMany<T>(
    keys: readonly string[],
    loadMany: LoadMany<T>,
    options?: GetOrSetOptions<T>,
  ): Promise<(T | undefined)[]>
  get<T>(key: string, options?: GetOptions<T>): Promise<T | undefined>
  set<T>(key: string, value: T, options?: SetOptions): Promise<void>
  delete(key: string): Promise<void>
  invalidatePattern(pattern: string): Promise<number>
}

/** Builds a definition over `cache`; see {@link CacheDefinitionOptions}. */
export function defineEntry<A extends KeyArgs, T extends S, S = T>(
  cache: DefinitionHost,
  options: CacheDefinitionOptions<A, T, S>,
  maxBatchKeys: number,
): CacheDefinition<A, T> {
  const { key, load, tags } = options
  if (typeof key !== 'function' || typeof load !== 'function') {
    throw new CacheKeyError('define() needs key: (...args) => string and load: (args, ctx) => value functions')
  }
  const callOptions = (args: A): GetOrSetOptions<T> => {
    const o: GetOrSetOptions<T> = {}
    if (options.ttl !== undefined) o.ttl = options.ttl
    if (options.staleWhileRevalidate !== undefined) o.staleWhileRevalidate = options.staleWhileRevalidate
    if (options.staleIfError !== undefined) o.staleIfError = options.staleIfError
    if (options.schema) o.schema = options.schema
    if (options.category !== undefined) o.category = options.category
    if (tags) o.tags = typeof tags === 'function' ? tags(...args) : tags
    return o
  }

  const build = (leading: Partial<A>, count: number): string => {
    const args = Array.from({ length: count }, (_, i) =>
      i < leading.length && leading[i] !== undefined ? leading[i] : slot(i),
    )
    return (key as unknown as (...a: unknown[]) => string)(...args)
  }
  const pattern = (...leading: Partial<A>): string => {
    const arity = key.length
    // One slot past the given arguments and the declared ones (rest parameters: `key.length` says 0).
    const least = Math.max(arity, leading.length) + 1
    let count = least
    let built = build(leading, count)
    // Parameters with defaults are not in `key.length` either: a slot for each one key() embeds, or it would put its
    // default in the glob. One that embeds every slot it is given takes rest parameters: its one slot past stands.
    while (built.includes(slot(count - 1)) && count < least + MAX_DEFAULTED) {
      const wider = build(leading, count + 1)
      if (!wider.includes(slot(count))) break
      count++
      built = wider
    }
    if (count === least + MAX_DEFAULTED) built = build(leading, least)
    for (let i = leading.length; i < arity; i++) {
      if (!built.includes(slot(i))) {
        throw new CacheKeyError(
          `define(): key() does not embed argument ${i + 1} as text, so no glob can match it; use invalidate() per key`,
        )
      }
    }
    // Literal text is escaped and each free argument, wherever key() puts it, becomes '*'.
    return built
      .split(SLOT)
      .map((part, i) => (i % 2 === 0 ? escapeGlob(part) : '*'))
      .join('')
  }

  const getMany = async (argsList: readonly A[]): Promise<(T | undefined)[]> => {
    if (!Array.isArray(argsList)) throw new CacheKeyError('getMany(argsList): expected an array of argument lists')
    argsList.forEach((args, i) => {
      if (!Array.isArray(args)) {
        throw new CacheKeyError(
          `getMany(argsList): argsList[${i}] must be an array of key arguments, got ${typeof args}`,
        )
      }
    })
    // The whole list is checked before any read or load: split by tag list below, or into single calls without
    // loadMany, no part of a list over the limit may start.
    const keys = argsList.map((args) => key(...args))
    assertKeyList(keys, maxBatchKeys, 'getMany(argsList) keys')
    const loadMany = options.loadMany
    if (!loadMany) {
      return Promise.all(
        argsList.map((args, i) =>
          cache.getOrSet<T>(keys[i] as string, (ctx) => load(args, ctx as LoaderContext<S>), callOptions(args)),
        ),
      )
    }
    const argsOf = new Map<string, A>()
    keys.forEach((k, i) => {
      if (!argsOf.has(k)) argsOf.set(k, argsList[i] as A)
    })
    // Entries carry tags from their arguments: one batch per distinct tag list, so each is stored with its own.
    const groups = new Map<string, number[]>()
    argsList.forEach((args, i) => {
      const signature = typeof tags === 'function' ? JSON.stringify(tags(...args)) : ''
      const group = groups.get(signature)
      if (group) group.push(i)
      else groups.set(signature, [i])
    })
    const out: (T | undefined)[] = new Array(argsList.length)
    const batchLoad: LoadMany<T> = (missing, ctx) =>
      loadMany(
        missing.map((k) => argsOf.get(k) as A),
        ctx as BatchLoaderContext<S>,
      )
    await Promise.all(
      [...groups.values()].map(async (indexes) => {
        const values = await cache.getOrSetMany<T>(
          indexes.map((i) => keys[i] as string),
          batchLoad,
          callOptions(argsList[indexes[0] as number] as A),
        )
        indexes.forEach((index, i) => {
          out[index] = values[i]
        })
      }),
    )
    return out
  }

  return {
    key: (...args) => key(...args),
    getMany,
    get: (...args) => cache.getOrSet<T>(key(...args), (ctx) => load(args, ctx as LoaderContext<S>), callOptions(args)),
    peek: (...args) => {
      const o: GetOptions<T> = {}
      if (options.schema) o.schema = options.schema
      if (options.category !== undefined) o.category = options.category
      return cache.get<T>(key(...args), o)
    },
    set: (args, value) => {
      const o = callOptions(args)
      const setOptions: SetOptions = {}
      if (o.ttl !== undefined) setOptions.ttl = o.ttl
      if (o.staleWhileRevalidate !== undefined) setOptions.staleWhileRevalidate = o.staleWhileRevalidate
      if (o.staleIfError !== undefined) setOptions.staleIfError = o.staleIfError
      if (o.tags) setOptions.tags = o.tags
      return cache.set(key(...args), value, setOptions)
    },
    invalidate: (...args) => cache.delete(key(...args)),
    invalidateAll: async (...leading) => cache.invalidatePattern(pattern(...leading)),
    pattern,
  }
}
