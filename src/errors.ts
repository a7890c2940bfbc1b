/**
 * Typed errors. Every error cacheward throws is a {@link CachewardError} with a literal `code`;
 * guards compare the code so they work across bundles and realms. Loader errors are the user's
 * and are rethrown unchanged, never wrapped.
 * @module
 */

/** Every code a cacheward error can carry. */
export type CachewardErrorCode =
  | 'CACHEWARD_OPTIONS'
  | 'CACHEWARD_KEY'
  | 'CACHEWARD_SCHEMA'
  | 'CACHEWARD_BACKEND'
  | 'CACHEWARD_TIMEOUT'
  | 'CACHEWARD_UNSUPPORTED'
  | 'CACHEWARD_CLOSED'
  | 'CACHEWARD_VALUE'
  | 'CACHEWARD_LOAD_TIMEOUT'

/** Base class of every error cacheward throws. */
export class CachewardError extends Error {
  /** The class name, e.g. `'CacheBackendError'`; survives bundling, unlike `constructor.name`. */
  override name = 'CachewardError'
  /** What kind of error this is; compare it rather than the class to work across bundles. */
  readonly code: CachewardErrorCode

  constructor(code: CachewardErrorCode, message: string, options?: { cause?: unknown }) {
    super(`[cacheward] ${redact(message)}`, options)
    this.code = code
  }
}

/** One problem found in an options object. */
export interface OptionIssue {
  /** Dotted path of the option, e.g. `staleIfError`. */
  path: string
  /** What was wrong and, for most options, the value that was given. */
  message: string
}

/** An option passed to `createCacheClient`, `namespace()` or a call is invalid. */
export class CacheOptionsError extends CachewardError {
  override name = 'CacheOptionsError'
  /** Every problem found, one per option. */
  readonly issues: readonly OptionIssue[]

  constructor(issues: OptionIssue[]) {
    const first = issues[0]
    const head = first ? `invalid option "${first.path}": ${first.message}` : 'invalid options'
    const more =
      issues.length > 1
        ? ` (and ${issues.length - 1} more: ${issues
            .slice(1)
            .map((i) => i.path)
            .join(', ')})`
        : ''
    super('CACHEWARD_OPTIONS', head + more)
    this.issues = Object.freeze(issues.slice())
  }
}

/** A key is empty, too long, not a string, or a pattern is malformed. */
export class CacheKeyError extends CachewardError {
  override name = 'CacheKeyError'
  constructor(message: string) {
    super('CACHEWARD_KEY', message)
  }
}

/** A loaded value failed the `schema` option; it was not stored. */
export class CacheSchemaError extends CachewardError {
  override name = 'CacheSchemaError'
  /** The logical key whose loaded value failed. */
  readonly key: string
  /** The schema's issues, with their messages and, where the schema gave one, the path inside the value. */
  readonly issues: readonly {
    /** What the schema reported. */
    message: string
    /** Where in the value, e.g. `['rooms', 0, 'name']`. */
    path?: readonly unknown[]
  }[]

  constructor(key: string, issues: readonly { message: string; path?: readonly unknown[] | undefined }[]) {
    const first = issues[0]?.message ?? 'invalid value'
    super('CACHEWARD_SCHEMA', `value loaded for key "${truncate(key)}" failed its schema: ${first}; it was not cached`)
    this.key = key
    this.issues = Object.freeze(
      issues.map((i) => (i.path ? { message: i.message, path: i.path } : { message: i.message })),
    )
  }
}

/** The backend failed on a write-path call (`set`, `delete`, `clear`, ...) or a read that cannot degrade. */
export class CacheBackendError extends CachewardError {
  override name = 'CacheBackendError'
  /** The adapter operation that failed, e.g. `write`, `invalidate`. */
  readonly operation: string
  /** Name of the adapter that failed, e.g. `'ioredis'`; never a URL. */
  readonly adapter: string

  constructor(adapter: string, operation: string, cause: unknown) {
    super('CACHEWARD_BACKEND', `${adapter} backend failed during ${operation}: ${describeCause(cause)}`, {
      cause: sanitizeCause(cause),
    })
    this.operation = operation
    this.adapter = adapter
  }
}

/** The circuit breaker is open: the backend is skipped for a while after repeated failures. */
export class CacheCircuitOpenError extends CacheBackendError {
  override name = 'CacheCircuitOpenError'
  constructor(adapter: string, operation: string) {
    super(
      adapter,
      operation,
      new Error('circuit open after repeated failures; the backend is skipped until a probe succeeds'),
    )
  }
}

/** A loader ran past `hardTimeout`; it was aborted through `ctx.signal`. */
export class CacheLoadTimeoutError extends CachewardError {
  override name = 'CacheLoadTimeoutError'
  /** The logical key whose loader timed out. */
  readonly key: string
  /** The `hardTimeout` that passed, in milliseconds. */
  readonly timeoutMs: number
  constructor(key: string, timeoutMs: number) {
    super(
      'CACHEWARD_LOAD_TIMEOUT',
      `loader for key "${truncate(key)}" did not finish within ${timeoutMs} ms (option "hardTimeout")`,
    )
    this.key = key
    this.timeoutMs = timeoutMs
  }
}

/** A backend operation took longer than the `timeout` option. */
export class CacheTimeoutError extends CachewardError {
  override name = 'CacheTimeoutError'
  /** The backend operation that did not answer, e.g. `write`. */
  readonly operation: string
  /** The `timeout` that passed, in milliseconds. */
  readonly timeoutMs: number

  constructor(operation: string, timeoutMs: number) {
    super('CACHEWARD_TIMEOUT', `${operation} did not answer within ${timeoutMs} ms (option "timeout")`)
    this.operation = operation
    this.timeoutMs = timeoutMs
  }
}

/** The adapter lacks a capability the call needs, e.g. key scanning for `clear()`. */
export class CacheUnsupportedError extends CachewardError {
  override name = 'CacheUnsupportedError'
  constructor(message: string) {
    super('CACHEWARD_UNSUPPORTED', message)
  }
}

/** The client was closed with `close()`. */
export class CacheClosedError extends CachewardError {
  override name = 'CacheClosedError'
  constructor() {
    super('CACHEWARD_CLOSED', 'this cache client was closed; create a new one with createCacheClient()')
  }
}

const CODES: ReadonlySet<string> = new Set<CachewardErrorCode>([
  'CACHEWARD_OPTIONS',
  'CACHEWARD_KEY',
  'CACHEWARD_SCHEMA',
  'CACHEWARD_BACKEND',
  'CACHEWARD_TIMEOUT',
  'CACHEWARD_UNSUPPORTED',
  'CACHEWARD_CLOSED',
  'CACHEWARD_VALUE',
  'CACHEWARD_LOAD_TIMEOUT',
])

function hasCode(error: unknown, code?: CachewardErrorCode): error is CachewardError {
  if (typeof error !== 'object' || error === null) return false
  const c = (error as { code?: unknown }).code
  return typeof c === 'string' && (code ? c === code : CODES.has(c))
}

/** True for any error thrown by cacheward, even from another copy of the package. */
export function isCachewardError(error: unknown): error is CachewardError {
  return hasCode(error)
}
/** True when `error` is a {@link CacheOptionsError}. */
export const isCacheOptionsError = (e: unknown): e is CacheOptionsError => hasCode(e, 'CACHEWARD_OPTIONS')
/** True when `error` is a {@link CacheKeyError}. */
export const isCacheKeyError = (e: unknown): e is CacheKeyError => hasCode(e, 'CACHEWARD_KEY')
/** True when `error` is a {@link CacheSchemaError}. */
export const isCacheSchemaError = (e: unknown): e is CacheSchemaError => hasCode(e, 'CACHEWARD_SCHEMA')
/** True when `error` is a {@link CacheBackendError}. */
export const isCacheBackendError = (e: unknown): e is CacheBackendError => hasCode(e, 'CACHEWARD_BACKEND')
/** True when `error` is a {@link CacheTimeoutError}. */
export const isCacheTimeoutError = (e: unknown): e is CacheTimeoutError => hasCode(e, 'CACHEWARD_TIMEOUT')

// Credentials in URLs (redis://user:pass@host, https://user:pass@host) and bearer-style tokens.
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)[^/\s:@]*(?::[^/\s@]*)?@/gi
const BEARER = /(bearer\s+)[^\s"',]+/gi
const TOKEN_PARAM = /((?:_token|token|password|passwd|pass|auth)["']?\s*[=:]\s*["']?)[^\s"'&,]+/gi
// @upstash/redis appends ", command was: [...]" with every argument (the cached value included).
const COMMAND_WAS = /,?\s*command was:.*$/is

/** Removes credentials and echoed commands from a message. Used by every error, event and log line. */
export function redact(text: string): string {
  return text
    .replace(COMMAND_WAS, '')
    .replace(URL_CREDENTIALS, '$1***@')
    .replace(BEARER, '$1***')
    .replace(TOKEN_PARAM, '$1***')
}

/** A safe one-line description of an unknown failure: its class and redacted message, never its payload. */
export function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    const name = cause.name && cause.name !== 'Error' ? cause.name : ''
    return [name, truncate(redact(cause.message), 300)].filter(Boolean).join(': ') || 'unknown error'
  }
  return typeof cause === 'string' ? truncate(redact(cause), 300) : 'unknown error'
}

/**
 * Client libraries attach the command to their errors (ioredis: `err.command.args`, which carries
 * AUTH passwords and full SET values). The cause we keep is a plain Error with the redacted message only.
 */
export function sanitizeCause(cause: unknown): Error {
  if (cause instanceof CachewardError) return cause
  const safe = new Error(describeCause(cause))
  if (cause instanceof Error) safe.name = cause.name
  return safe
}

function truncate(text: string, max = 100): string {
  return text.length > max ? `${text.slice(0, max)}…` : text
}

/** A value cannot be cached: `undefined`, or something the serializer cannot encode (BigInt, circular). */
export class CacheValueError extends CachewardError {
  override name = 'CacheValueError'
  /** The logical key the value was meant for. */
  readonly key: string
  constructor(key: string, reason: string) {
    super('CACHEWARD_VALUE', `value for key "${truncate(key)}" cannot be cached: ${reason}`)
    this.key = key
  }
}

/**
 * `set()` of a value whose stored form is larger than `maxValueBytes`: nothing was written (the key keeps what it
 * held). A `CacheValueError`, with the same code, so code that handles unstorable values handles this one too.
 */
export class CacheValueTooLargeError extends CacheValueError {
  override name = 'CacheValueTooLargeError'
  /** Bytes the value would have taken in the backend (after compression, when on). */
  readonly bytes: number
  /** The `maxValueBytes` in force. */
  readonly limit: number
  constructor(key: string, bytes: number, limit: number) {
    super(key, `it takes ${bytes} bytes stored, over maxValueBytes (${limit}); raise maxValueBytes or turn on compress`)
    this.bytes = bytes
    this.limit = limit
  }
}
