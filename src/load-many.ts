/**
 * One `loadMany` call for many keys: each key's load runs through `load.ts` as a single key's would (its
 * context, timeouts, schema, stale-if-error, fenced write), with a per-key loader that joins a group; once
 * every key of the group has asked, the group calls `loadMany` once with all of them and hands each key
 * its value.
 * @module
 */
import type { Loader, LoaderContext } from './core.js'
import { CacheOptionsError } from './errors.js'

/** What `loadMany` receives beside the keys it must load. */
export interface BatchLoaderContext<T = unknown> {
  /** The keys being loaded, in the order of the `keys` argument. */
  readonly keys: readonly string[]
  /** Aborted when the load of one of the keys passes `hardTimeout`, or the client is closed. */
  readonly signal: AbortSignal
  /** Stale values of the keys being loaded, where one exists (a refresh, or a load that may fall back to it). */
  readonly stale: ReadonlyMap<string, T>
  /** Overrides `ttl` for every value of this call. */
  setTtl(ttl: number | string): void
  /** Replaces the tags every value of this call is stored with. */
  setTags(tags: readonly string[]): void
  /** Returns the values to callers without storing them. */
  skipCache(): void
}

/**
 * Loads the values of `keys` (the keys this caller must load: never keys held by another caller's lock).
 * Returns one value per key in the order of `keys`, or a `Map` from key to value; `undefined` (or a key missing
 * from the Map) means there is none: returned as `undefined`, never stored.
 */
export type LoadMany<T extends S, S = T> = (
  keys: string[],
  ctx: BatchLoaderContext<S>,
) => LoadManyResult<T> | Promise<LoadManyResult<T>>

/** What {@link LoadMany} returns. */
export type LoadManyResult<T> = readonly (T | undefined)[] | ReadonlyMap<string, T | undefined>

interface Member {
  key: string
  ctx: LoaderContext<unknown>
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
}

/** Calls `loadMany` once for `expected` keys, when each key's load has asked for its value. */
export class LoadGroup {
  readonly #loadMany: LoadMany<unknown>
  readonly #expected: number
  readonly #members: Member[] = []

  constructor(loadMany: LoadMany<unknown>, expected: number) {
    this.#loadMany = loadMany
    this.#expected = expected
  }

  /** The loader one key's load calls: it resolves with that key's share of the group's single `loadMany` call. */
  loaderFor(key: string): Loader<unknown> {
    return (ctx) =>
      new Promise((resolve, reject) => {
        this.#members.push({ key, ctx, resolve, reject })
        if (this.#members.length === this.#expected) this.#run()
      })
  }

  #run(): void {
    const members = this.#members
    const keys = members.map((m) => m.key)
    const fail = (error: unknown) => {
      for (const m of members) m.reject(error)
    }
    let result: LoadManyResult<unknown> | Promise<LoadManyResult<unknown>>
    try {
      result = this.#loadMany(keys, batchContext(members))
    } catch (error) {
      fail(error)
      return
    }
    Promise.resolve(result).then((values) => {
      if (values instanceof Map) {
        for (const m of members) m.resolve(values.get(m.key))
      } else if (Array.isArray(values) && values.length === keys.length) {
        members.forEach((m, i) => {
          m.resolve(values[i])
        })
      } else {
        const got = Array.isArray(values) ? `${values.length} values` : typeof values
        fail(
          new CacheOptionsError([
            {
              path: 'loadMany',
              message: `returned ${got} for ${keys.length} keys: return one value per key, in the order of the keys, or a Map`,
            },
          ]),
        )
      }
    }, fail)
  }
}

/** The context `loadMany` gets: each choice applies to every key's load, the signal aborts with any of theirs. */
function batchContext(members: readonly Member[]): BatchLoaderContext<unknown> {
  let controller: AbortController | undefined
  let stale: Map<string, unknown> | undefined
  return {
    keys: members.map((m) => m.key),
    get signal() {
      if (controller === undefined) {
        const batch = new AbortController()
        controller = batch
        for (const m of members) {
          const signal = m.ctx.signal
          if (signal.aborted) batch.abort(signal.reason)
          else signal.addEventListener('abort', () => batch.abort(signal.reason), { once: true })
        }
      }
      return controller.signal
    },
    get stale() {
      if (stale === undefined) {
        stale = new Map()
        for (const m of members) if (m.ctx.stale !== undefined) stale.set(m.key, m.ctx.stale)
      }
      return stale
    },
    setTtl(ttl) {
      for (const m of members) m.ctx.setTtl(ttl)
    },
    setTags(tags) {
      for (const m of members) m.ctx.setTags(tags)
    },
    skipCache() {
      for (const m of members) m.ctx.skipCache()
    },
  }
}
