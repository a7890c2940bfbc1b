/**
 * Counters, per category, and their snapshot.
 * @module
 */

/** The counters kept for the whole client and for each category. */
export interface Counters {
  /** Fresh entries served. */
  hits: number
  /** Stale entries served (stale-while-revalidate or stale-if-error). */
  staleHits: number
  /** Calls answered by a load (including callers that joined another caller's load). */
  misses: number
  /** Loader calls. */
  loads: number
  /** Loader calls that threw or returned a value failing the schema. */
  loadErrors: number
  /** Backend failures (down, timing out, garbage), each also emitted as an `error` event. */
  errors: number
}

/** What `metrics()` returns. */
export interface MetricsSnapshot extends Counters {
  /** `hits + staleHits` over all served calls, from 0 to 1 (0 when nothing was served). */
  hitRate: number
  /** The same counters per `category` option; calls without one are only in the totals. */
  categories: Record<string, Counters & { hitRate: number }>
}

/** Most distinct categories tracked; later ones are folded into `'(other)'` to bound cardinality. */
export const MAX_CATEGORIES = 64

const zero = (): Counters => ({ hits: 0, staleHits: 0, misses: 0, loads: 0, loadErrors: 0, errors: 0 })

const rate = (c: Counters) => {
  const served = c.hits + c.staleHits + c.misses
  return served === 0 ? 0 : (c.hits + c.staleHits) / served
}

/** Mutable counters shared by a client and its namespaces. */
export class Metrics {
  #total = zero()
  #categories = new Map<string, Counters>()

  count(counter: keyof Counters, category?: string): void {
    this.#total[counter]++
    if (category !== undefined) this.#category(category)[counter]++
  }

  snapshot(): MetricsSnapshot {
    const categories: Record<string, Counters & { hitRate: number }> = {}
    for (const [name, c] of this.#categories) categories[name] = { ...c, hitRate: rate(c) }
    return { ...this.#total, hitRate: rate(this.#total), categories }
  }

  reset(): void {
    this.#total = zero()
    this.#categories.clear()
  }

  #category(name: string): Counters {
    let c = this.#categories.get(name)
    if (!c) {
      const key = this.#categories.size >= MAX_CATEGORIES ? '(other)' : name
      c = this.#categories.get(key) ?? zero()
      this.#categories.set(key, c)
    }
    return c
  }
}
