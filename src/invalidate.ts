/**
 * Invalidation: `delete` (a tombstone with a new generation), `invalidateTags` (one stamp per tag),
 * `invalidatePattern` and `clear` (tombstones for every match, through the adapter's scan). Each
 * rejects with a typed error when the backend fails: stale data left behind silently is worse.
 * @module
 */
import { type Core, FENCE_WINDOW_MS, reportBackendError, type Scope } from './core.js'
import { CacheOptionsError, CacheUnsupportedError } from './errors.js'
import { assertPattern, escapeGlob, isTagList } from './keys.js'
import { TAG_TTL_MS } from './tags.js'
import { randomToken } from './token.js'

/**
 * With `waitForReplicas`: resolves once that many replicas of every master holding `keys` (`null`: every master)
 * acknowledged what this client wrote there; rejects with a `CacheBackendError` (operation `waitForReplicas`) when
 * fewer did within its timeout. Without the option, resolves at once.
 */
export async function replicated(core: Core, scope: Scope, keys: readonly string[] | null, key?: string) {
  const wait = core.waitForReplicas
  if (wait === undefined) return
  let acked: number
  try {
    acked = await core.backend.replicated(keys, wait.replicas, wait.timeout)
  } catch (error) {
    throw reportBackendError(core, scope, 'waitForReplicas', key, error)
  }
  if (acked >= wait.replicas) return
  const cause = new Error(
    `${acked} of ${wait.replicas} replicas acknowledged within ${wait.timeout} ms; the change is on the master only`,
  )
  throw reportBackendError(core, scope, 'waitForReplicas', key, cause)
}

/** Replaces the key with a tombstone of a new generation: a load under way cannot write its value back. */
export function tombstone(core: Core, scope: Scope, key: string): Promise<void> {
  const full = scope.prefix + key
  core.present.delete(full)
  const gen = randomToken()
  core.l1?.own(gen)
  // This process drops its copy before the call resolves (read your own writes), whatever the outcome: a
  // tombstone that failed may still have landed.
  return core.backend
    .invalidate([full], gen, FENCE_WINDOW_MS)
    .catch((error) => {
      throw reportBackendError(core, scope, 'invalidate', key, error)
    })
    .finally(() => core.l1?.drop([full]))
    .then(() => replicated(core, scope, [full], key))
}

/** `delete(key)`. */
export async function deleteKey(core: Core, scope: Scope, key: string, enabled: boolean): Promise<void> {
  if (!enabled) return
  await tombstone(core, scope, key)
  core.telemetry.invalidated({ kind: 'delete', namespace: scope.namespace, key })
}

/** `deleteMany(keys)`: one tombstone per key (one generation for the call), sent together. */
export async function deleteKeys(core: Core, scope: Scope, keys: readonly string[], enabled: boolean): Promise<void> {
  if (!enabled || keys.length === 0) return
  const fulls = keys.map((key) => scope.prefix + key)
  for (const full of fulls) core.present.delete(full)
  const gen = randomToken()
  core.l1?.own(gen)
  await core.backend
    .invalidate(fulls, gen, FENCE_WINDOW_MS)
    .catch((error) => {
      throw reportBackendError(core, scope, 'invalidate', keys.length === 1 ? keys[0] : undefined, error)
    })
    .finally(() => core.l1?.drop(fulls))
  await replicated(core, scope, fulls, keys.length === 1 ? keys[0] : undefined)
  for (const key of keys) core.telemetry.invalidated({ kind: 'delete', namespace: scope.namespace, key })
}

/** `invalidateTags(tags)`: one stamp per tag, whatever the number of entries carrying it. */
export async function invalidateTags(core: Core, scope: Scope, tags: unknown, enabled: boolean): Promise<void> {
  if (!isTagList(tags)) {
    throw new CacheOptionsError([
      { path: 'tags', message: 'expected an array of non-empty strings (at most 256 characters, no lone surrogate)' },
    ])
  }
  if (!enabled || tags.length === 0) return
  const keys = [...new Set(tags)].map((tag) => scope.tagPrefix + tag)
  await core.backend
    .invalidateTags(keys, TAG_TTL_MS)
    .catch((error) => {
      throw reportBackendError(core, scope, 'invalidateTags', undefined, error)
    })
    .finally(() => core.l1?.dropTags(keys))
  await replicated(core, scope, keys)
  core.telemetry.invalidated({ kind: 'tags', namespace: scope.namespace, tags: [...tags] })
}

/** `invalidatePattern(pattern)`: a glob over the logical keys of this namespace. */
export async function invalidatePattern(core: Core, scope: Scope, pattern: unknown, enabled: boolean): Promise<number> {
  assertPattern(pattern)
  requireNamespace(scope, 'invalidatePattern()')
  if (!enabled) return 0
  const count = await invalidateMatching(core, scope, escapeGlob(scope.prefix) + pattern)
  core.telemetry.invalidated({ kind: 'pattern', namespace: scope.namespace, pattern, count })
  return count
}

/** `clear()`: every key of this namespace and its children. */
export async function clear(core: Core, scope: Scope, enabled: boolean): Promise<number> {
  requireNamespace(scope, 'clear()')
  if (!enabled) return 0
  const count = await invalidateMatching(core, scope, `${escapeGlob(scope.prefix)}*`)
  core.telemetry.invalidated({ kind: 'clear', namespace: scope.namespace, count })
  return count
}

/** Scans stay inside a namespace: without one they would reach every key of the database. */
function requireNamespace(scope: Scope, what: string): void {
  if (scope.prefix === '') {
    throw new CacheOptionsError([
      { path: 'namespace', message: `${what} needs a namespace, so it never touches keys that are not the cache’s` },
    ])
  }
}

async function invalidateMatching(core: Core, scope: Scope, glob: string): Promise<number> {
  core.present.clear()
  const scan = core.backend.invalidateMatching
  if (!scan) {
    throw new CacheUnsupportedError(
      `the ${core.backend.name} adapter cannot scan keys, so it cannot clear or invalidate by pattern`,
    )
  }
  // Each page and batch is bounded by `timeout` and the circuit breaker, not the whole walk: a large
  // namespace legitimately takes longer than one operation, a hung backend fails it within one.
  const gen = randomToken()
  core.l1?.own(gen)
  let count: number
  try {
    count = await scan(glob, gen, FENCE_WINDOW_MS)
  } catch (error) {
    throw reportBackendError(core, scope, 'invalidatePattern', undefined, error)
  } finally {
    core.l1?.dropMatching(glob)
  }
  await replicated(core, scope, null)
  return count
}
