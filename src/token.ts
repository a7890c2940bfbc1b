/**
 * Random tokens: lock tokens and generations, 128 bits each, from Web Crypto (edge-safe).
 * @module
 */

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))
let pool: Uint8Array | undefined
let offset = 0

/**
 * A random token with 128 bits of entropy, as 32 hex characters. Bytes are drawn 4 KB at a time (one
 * getRandomValues call per token cost more than the rest of a hit), and only once a token is first
 * needed: Cloudflare Workers forbid generating random values at a module's top level.
 */
export function randomToken(): string {
  if (pool === undefined || offset + 16 > pool.length) {
    pool ??= new Uint8Array(4096)
    crypto.getRandomValues(pool)
    offset = 0
  }
  let out = ''
  for (let i = offset; i < offset + 16; i++) out += HEX[pool[i] as number]
  offset += 16
  return out
}
