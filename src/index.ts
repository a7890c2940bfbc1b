/**
 * cacheward: cache-aside for Redis, Redis Cluster, Upstash and memory.
 *
 * @example
 * import { createCacheClient } from 'cacheward'
 *
 * const cache = createCacheClient({ namespace: 'app', ttl: '5m' })
 * const rooms = await cache.getOrSet('rooms:all', () => db.rooms.findMany())
 * await cache.delete('rooms:all')
 *
 * Adapters are separate entry points so a user of one never installs another's client:
 * `cacheward/memory` (the default), `cacheward/ioredis`, `cacheward/upstash`.
 * @module
 */
export type {
  Announcement,
  AnnouncementListener,
  CacheAdapter,
  Fence,
  FreshSlot,
  LockRequest,
  LockRequests,
  PeekManyReply,
  ReadReply,
  Slot,
  Step,
  TagReply,
  TagWrite,
  WriteRequest,
  WriteResult,
} from './adapters/adapter.js'
export type { CacheClient, HealthReport } from './client.js'
export { createCacheClient } from './client.js'
export type { Clock } from './clock.js'
export type { Loader, LoaderContext } from './core.js'
export type { CacheDefinition, CacheDefinitionOptions, KeyArgs } from './define.js'
export type { Duration, DurationUnit } from './duration.js'
export type { CachewardErrorCode, OptionIssue } from './errors.js'
export {
  CacheBackendError,
  CacheCircuitOpenError,
  CacheClosedError,
  CacheKeyError,
  CacheLoadTimeoutError,
  CacheOptionsError,
  CacheSchemaError,
  CacheTimeoutError,
  CacheUnsupportedError,
  CacheValueError,
  CacheValueTooLargeError,
  CachewardError,
  isCacheBackendError,
  isCacheKeyError,
  isCacheOptionsError,
  isCacheSchemaError,
  isCacheTimeoutError,
  isCachewardError,
} from './errors.js'
export type {
  CacheEventListener,
  CacheEventMap,
  CacheEventName,
  EventSite,
  InvalidateEvent,
  RefreshReason,
} from './events.js'
export { escapeGlob } from './keys.js'
export type { BatchLoaderContext, LoadMany, LoadManyResult } from './load-many.js'
export type {
  CategoryMetrics,
  CircuitState,
  Counters,
  L1Snapshot,
  Latency,
  LatencySummary,
  MetricsSnapshot,
} from './metrics.js'
export type {
  CacheClientOptions,
  CompressOptions,
  FreshnessOptions,
  GetOptions,
  GetOrSetOptions,
  L1Options,
  NamespaceOptions,
  SetOptions,
  WaitForReplicasOptions,
} from './options.js'
export type { Serializer } from './serializer.js'
export type { StandardSchemaV1 } from './standard-schema.js'
export type { Logger } from './telemetry.js'
