import { randomBytes } from 'node:crypto'

/**
 * Unique key or namespace names for one test file: `t3fa9c01b:1`, `t3fa9c01b:2`, …
 * The random part keeps parallel files and reruns against a shared server apart.
 */
export function keygen(prefix = 't'): () => string {
  const run = `${prefix}${randomBytes(4).toString('hex')}`
  let counter = 0
  return () => `${run}:${++counter}`
}
