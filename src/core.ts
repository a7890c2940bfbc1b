/**
 * What a client and its namespaces share (the `Core`), and the shape of one call (`Call`, its `Scope`,
 * its `Outcome`). Every module below the client works on these; none of them holds state of its own.
 * @module
 */
import type { Backend } from './backend.js'
import type { Clock } from './clock.js'
import type { Compression } from './compress.js'
import { CacheCircuitOpenError } from './errors.js'
import { backendError } from './events.js'
import type { SingleFlight } from './flight.js'
import type { L1 } from './l1.js'
import type { Lifetime } from './lifetime.js'
import type { Policy, ResolvedCall } from './options.js'
import type { PresentKeys } from './present.js'
import type { Serializer } from './serializer.js'
import type { Telemetry } from './telemetry.js'

/**
 * Tombstones, and keys a lock was taken on, live at least this long; so do tag records that a read
 * created. A write that reaches the backend this long after the read that fenced it is refused (on the
 * backend clock), since a tombstone left meanwhile might have expired.
 */
export const FENCE_WINDOW_MS = 60_000

/** What a loader receives. */
export interface LoaderContext<T = unknown> {
  /** The logical key being loaded. */
  readonly key: string
  /** Aborted when the load passes `hardTimeout` or the client is closed. */
  readonly signal: AbortSignal
  /** The stale value, when one exists (a refresh, or a load that may fall back to it). */
  readonly stale: T | undefined
  /** Overrides `ttl` for this value (e.g. from an HTTP `max-age`). */
  setTtl(ttl: number | string): void
  /** Replaces the tags this value is stored with. */
  setTags(tags: readonly string[]): void
  /** Returns the value to callers without storing it. */
  skipCache(): void
}

/**
 * A loader: returns the value (or a promise of it) for a key. `S` types `ctx.stale`: any type the value fits (the stale
 * value is one a loader returned before), `T` itself by default.
 */
export type Loader<T extends S, S = T> = (ctx: LoaderContext<S>) => T | Promise<T>

/** State shared by a client and its namespaces. */
export interface Core {
  readonly backend: Backend
  readonly serializer: Serializer
  readonly clock: Clock
  readonly telemetry: Telemetry
  readonly flight: SingleFlight<Outcome>
  readonly timeout: number
  readonly lockTtl: number
  readonly lockWait: number
  /** The most keys one batch call accepts. */
  readonly maxBatchKeys: number
  /** Background work (refreshes, lock releases) close() waits for. */
  readonly background: Set<Promise<unknown>>
  /** Ended by close(). */
  readonly lifetime: Lifetime
  /** What the first close() does, which every later close() (of any namespace) also waits for. */
  closing?: Promise<void>
  readonly waitUntil: ((promise: Promise<unknown>) => void) | undefined
  /** Keys whose loader failed recently and were answered stale: until when not to call it again. */
  readonly backoff: Map<string, number>
  /** Keys with an early refresh under way in this process. */
  readonly refreshing: Set<string>
  /** Stops each load under way (aborts its signal, ends its wait for the loader); called by close(). */
  readonly loads: Set<(reason: unknown) => void>
  /** Keys this process recently found fresh or wrote: read first with the adapter's `peek`. */
  readonly present: PresentKeys
  /** The in-process tier, when `l1` is on. */
  readonly l1: L1 | undefined
  /** `compress`, when on: bodies over its threshold are stored gzipped. */
  readonly compression: Compression | undefined
  /** `waitForReplicas`, when on: invalidations and `set()` resolve once that many replicas hold them. */
  readonly waitForReplicas: { readonly replicas: number; readonly timeout: number } | undefined
}

/** Where a call runs: its namespace prefix and merged options. */
export interface Scope {
  readonly prefix: string
  /** Prefix of tag records, shared by a root namespace and its children; one hash tag, so one cluster slot. */
  readonly tagPrefix: string
  readonly namespace: string | undefined
  readonly policy: Policy
  /** This namespace's use of the in-process tier: its ttl (undefined: the tier's own), or `false` (bypassed, or off). */
  readonly l1: { readonly ttl: number | undefined } | false
  /** Largest stored body (bytes, after compression) this namespace writes; larger values are served, not stored. */
  readonly maxValueBytes: number
  /** Full keys of this scope's recent reads, by key (see {@link fullKey}); every scope has its own. */
  readonly fullKeys: Map<string, string>
}

/** Most full keys a scope remembers for its reads; past it, it starts over. */
const MAX_FULL_KEYS = 10_000

/**
 * The full key of `key` as one string object per key: every map a read looks it up in (the tier, the memory store,
 * the keys found fresh a moment ago, the flights) then hashes a string it hashed before, where a fresh
 * `prefix + key` per read is a new string to build, flatten and hash (measured: with a namespace, a tier hit cost
 * about twice as much as without one).
 */
export function fullKey(scope: Scope, key: string): string {
  if (scope.prefix === '') return key
  const known = scope.fullKeys.get(key)
  if (known !== undefined) return known
  if (scope.fullKeys.size >= MAX_FULL_KEYS) scope.fullKeys.clear()
  const full = scope.prefix + key
  scope.fullKeys.set(key, full)
  return full
}

/** How one flight ended; every caller sharing it counts the same kind (a joined load is a miss). */
export interface Outcome {
  value: unknown
  kind: 'hit' | 'stale' | 'miss'
}

/** One call: where it runs, its key (logical and full) and its resolved options. */
export interface Call {
  core: Core
  scope: Scope
  key: string
  full: string
  call: ResolvedCall
  /** Closes the caller's flight to late joiners; called as its load starts. */
  seal?: () => void
  /** The in-process tier's ticket, taken before the call's first read (see L1.ticket). */
  ticket?: number | undefined
  /** When its flight began (monotonic ms): `softTimeout` counts from it, over a lock wait and the load after it. */
  began?: number
}

/** Runs background work the caller does not await: tracked for close(), handed to `waitUntil`. */
export function track(core: Core, task: Promise<unknown>, handOver = true): void {
  core.background.add(task)
  void task.finally(() => core.background.delete(task))
  if (handOver) core.waitUntil?.(task)
}

/** Counts a backend failure and emits it as a redacted `error` event (not for calls the open circuit skipped). */
export function reportBackendError(
  core: Core,
  scope: Scope,
  operation: string,
  key: string | undefined,
  cause: unknown,
) {
  const error = backendError(core.backend.name, operation, cause)
  if (cause instanceof CacheCircuitOpenError) return error
  core.telemetry.backendFailed(operation, key, scope.namespace, error)
  return error
}

/** Counts one served call (started at `startedAt`, from the telemetry clock) and emits its event. */
export function countServed(
  c: Pick<Call, 'core' | 'scope' | 'key' | 'call'>,
  kind: Outcome['kind'],
  startedAt: number,
) {
  c.core.telemetry.served(c.key, c.scope.namespace, c.call.category, kind, startedAt)
}

/** What telemetry labels a call with. */
export function siteOf(c: Pick<Call, 'scope' | 'key' | 'call'>) {
  return { key: c.key, namespace: c.scope.namespace, category: c.call.category }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
