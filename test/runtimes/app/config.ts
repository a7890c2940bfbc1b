// The harness (../harness.ts) overwrites this file in each runtime's copy of the app with the endpoints the
// test started; the values checked in here only keep the app type-checking in the repository.
export const config = {
  /** Key prefix of every client of this copy of the app, unique per runtime and run. */
  namespace: 'runtime-app',
  /** The local Upstash REST endpoint (test/support/upstash-rest.ts), forwarding to the test's redis-server. */
  upstashUrl: 'http://127.0.0.1:1',
  upstashToken: 'token',
  /** A loopback port nothing listens on: every request to it is refused. */
  refusedUrl: 'http://127.0.0.1:1',
  /** Accepts connections and never answers. */
  hangingUrl: 'http://127.0.0.1:1',
}
