/**
 * What the runtime allows a client to share between the requests it serves.
 * @module
 */

/**
 * True in Cloudflare Workers (workerd). There one isolate serves many requests at once, and every timer, fetch and
 * promise continuation belongs to the request that started it: when that request ends (its response is sent, its
 * caller gave up, its client went away) workerd cancels what it left pending, which then never settles. So in
 * Workers no request may wait on a promise or a timer that another request created. Read once, at load: workerd
 * sets `navigator.userAgent` before any module runs, and reading it is allowed at global scope.
 */
export const requestBoundIo: boolean =
  (globalThis as { navigator?: { userAgent?: unknown } }).navigator?.userAgent === 'Cloudflare-Workers'
