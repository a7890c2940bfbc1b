/**
 * Plain GETs issued in one tick, sent as one MGET. A busy process reads many keys recently found fresh at once (one
 * per concurrent caller); one command instead of many saves a socket write, a reply parse and a command dispatch per
 * key, on both sides. A lone GET goes out as it is, one tick later. Standalone servers only: on a cluster the keys of
 * one tick span slots.
 * @module
 */

type Reply = string | null

interface Waiting {
  key: string
  resolve: (reply: Reply) => void
  reject: (error: unknown) => void
}

/**
 * Flushes after every promise continuation of the current turn has run (Node's and Bun's `process.nextTick`
 * queue drains after the microtasks that scheduled it), so callers resumed by one batch of replies share the next.
 */
const later: (run: () => void) => void =
  typeof (globalThis as { process?: { nextTick?: unknown } }).process?.nextTick === 'function'
    ? (run) => process.nextTick(run)
    : queueMicrotask

/** A `get(key)` that gathers the calls of one tick into one `getMany(keys)` (or one `getOne` for a single key). */
export function tickBatched(
  getOne: (key: string) => Promise<unknown>,
  getMany: (keys: string[]) => Promise<unknown>,
): (key: string) => Promise<Reply> {
  let waiting: Waiting[] = []
  const flush = () => {
    const batch = waiting
    waiting = []
    if (batch.length === 1) {
      const only = batch[0] as Waiting
      getOne(only.key).then((reply) => only.resolve(reply as Reply), only.reject)
      return
    }
    getMany(batch.map((w) => w.key)).then(
      (replies) => {
        const list = replies as Reply[]
        for (let i = 0; i < batch.length; i++) (batch[i] as Waiting).resolve(list[i] ?? null)
      },
      (error: unknown) => {
        for (const w of batch) w.reject(error)
      },
    )
  }
  return (key) =>
    new Promise<Reply>((resolve, reject) => {
      if (waiting.length === 0) later(flush)
      waiting.push({ key, resolve, reject })
    })
}
