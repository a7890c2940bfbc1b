/**
 * The keys this process recently found fresh or wrote, so their next read can be a plain peek.
 * @module
 */

/**
 * A bounded set of recent keys in two generations: a key goes into the young one; when that is half the
 * bound, it becomes the old one and the previous old one is dropped whole. So between `max / 2` and `max`
 * of the latest keys are remembered, and no call ever walks the set.
 *
 * Why not one `Map` trimmed from its oldest end: V8 leaves deleted entries in place until it rehashes, and
 * `keys().next()` steps over all of them, so once the map was full every new key cost ~11 µs (measured:
 * 400,000 new keys over a bound of 10,000). Here a new key costs ~0.3 µs.
 */
export class PresentKeys {
  #young = new Set<string>()
  #old = new Set<string>()
  readonly #half: number

  constructor(max: number) {
    this.#half = Math.max(1, Math.floor(max / 2))
  }

  has(key: string): boolean {
    return this.#young.has(key) || this.#old.has(key)
  }

  add(key: string): void {
    if (this.#young.has(key)) return
    this.#old.delete(key)
    this.#young.add(key)
    if (this.#young.size >= this.#half) {
      this.#old = this.#young
      this.#young = new Set()
    }
  }

  delete(key: string): void {
    this.#young.delete(key)
    this.#old.delete(key)
  }

  clear(): void {
    this.#young.clear()
    this.#old.clear()
  }

  get size(): number {
    return this.#young.size + this.#old.size
  }
}
