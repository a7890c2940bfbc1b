/**
 * Whether a client is closed, and why: what an AbortController would tell, without being one.
 * @module
 */

/** Read like an `AbortController` (`signal.aborted`, `signal.reason`, `abort()`), so code can use either. */
export interface Lifetime {
  readonly signal: { readonly aborted: boolean; readonly reason: unknown }
  abort(reason: unknown): void
}

/**
 * A client's lifetime: open until `close()`. Not an AbortController on purpose: in Cloudflare Workers an
 * AbortController is an I/O object. workerd refuses to create one while a module is evaluated (where a client
 * built at module scope is built), and one created during a request belongs to that request: touching it from the
 * next request throws "Cannot perform I/O on behalf of a different request". A client outlives its requests.
 */
export function createLifetime(): Lifetime {
  const signal = { aborted: false, reason: undefined as unknown }
  return {
    signal,
    abort(reason) {
      if (signal.aborted) return
      signal.aborted = true
      signal.reason = reason
    },
  }
}
