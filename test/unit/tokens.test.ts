import { describe, expect, it } from 'vitest'
import { randomToken } from '../../src/token.js'

// RELIABILITY S5: lock tokens and generations are unguessable, from a cryptographic source.
describe('randomToken', () => {
  it('is 128 bits of hex, never repeats over 100,000 draws, and every bit is a coin toss [S5]', () => {
    const draws = 100_000
    const seen = new Set<string>()
    const ones = new Array<number>(128).fill(0)
    // Counted, not asserted per draw: 100,000 expect() calls take seconds on a busy machine.
    let malformed = 0
    for (let i = 0; i < draws; i++) {
      const token = randomToken()
      if (!/^[0-9a-f]{32}$/.test(token)) malformed++
      seen.add(token)
      for (let nibble = 0; nibble < 32; nibble++) {
        const value = Number.parseInt(token[nibble] as string, 16)
        for (let bit = 0; bit < 4; bit++) if (value & (1 << bit)) ones[nibble * 4 + bit]!++
      }
    }
    expect(malformed).toBe(0)
    expect(seen.size).toBe(draws)
    // Each bit is set in about half the draws: 5 standard deviations (0.79 %) either side of 50 %.
    for (const count of ones) expect(Math.abs(count / draws - 0.5)).toBeLessThan(0.008)
  })

  it('draws from Web Crypto (crypto.getRandomValues), not Math.random [S5]', () => {
    const original = Math.random
    Math.random = () => 0.5
    try {
      const tokens = new Set(Array.from({ length: 1_000 }, () => randomToken()))
      expect(tokens.size).toBe(1_000)
    } finally {
      Math.random = original
    }
  })
})
