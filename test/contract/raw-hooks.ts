/**
 * The raw hooks a contract target over Redis needs (see ContractTarget): plant a string, lose a key behind
 * the cache's back, read an expiry. One set of them, through any admin client that speaks SET, DEL and PTTL.
 */
import type { ContractTarget } from './cache-client.contract.js'

interface Admin {
  set(key: string, value: string): Promise<unknown>
  del(key: string): Promise<unknown>
  pttl(key: string): Promise<number>
}

export function rawHooks(admin: Admin): Required<Pick<ContractTarget, 'writeRaw' | 'deleteRaw' | 'pttl'>> {
  return {
    writeRaw: async (key, value) => {
      await admin.set(key, value)
    },
    deleteRaw: async (key) => {
      await admin.del(key)
    },
    pttl: (key) => admin.pttl(key),
  }
}
