import { describe, expect, it } from 'vitest'
import { PresentKeys } from '../../src/present.js'

describe('PresentKeys', () => {
  it('remembers at least the latest half of its bound and never holds more than the bound', () => {
    const present = new PresentKeys(1_000)
    for (let i = 0; i < 10_000; i++) {
      present.add(`k${i}`)
      expect(present.size).toBeLessThanOrEqual(1_000)
    }
    for (let i = 10_000 - 500; i < 10_000; i++) expect(present.has(`k${i}`)).toBe(true)
    expect(present.has('k0')).toBe(false)
    expect(present.has(`k${10_000 - 1_001}`)).toBe(false)
  })

  it('a key added again is young again: it outlives the generation it was first added in', () => {
    const present = new PresentKeys(10)
    present.add('hot')
    for (let i = 0; i < 100; i++) {
      present.add('hot')
      present.add(`cold${i}`)
      expect(present.has('hot')).toBe(true)
    }
  })

  it('delete and clear forget keys in either generation', () => {
    const present = new PresentKeys(4)
    present.add('a')
    present.add('b') // 'a' and 'b' now the old generation
    present.add('c')
    present.delete('a')
    present.delete('c')
    expect([present.has('a'), present.has('b'), present.has('c')]).toEqual([false, true, false])
    present.clear()
    expect(present.has('b')).toBe(false)
    expect(present.size).toBe(0)
  })
})
