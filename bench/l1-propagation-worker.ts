/**
 * One process of the l1 propagation bench (bench/l1.ts): a client with the in-process tier over redis-server that
 * holds the keys it is told to warm, and tells its parent (over IPC) the moment an announcement dropped one of them
 * from its tier: from then on it no longer answers the old value. The moment is on the machine's clock
 * (`performance.timeOrigin + performance.now()`, which every process shares to a few microseconds), so the parent
 * times from its own call resolving to the drop itself; it also times the message's arrival, the IPC hop included.
 *
 *   node --import tsx bench/l1-propagation-worker.ts <redis url> <namespace>
 */
import { createCacheClient } from 'cacheward'
import { ioredisAdapter } from 'cacheward/ioredis'
import { Redis } from 'ioredis'

const [url, namespace] = process.argv.slice(2)
if (!url || !namespace || !process.send) {
  process.stderr.write('usage: l1-propagation-worker.ts <redis url> <namespace> (with an IPC channel)\n')
  process.exit(2)
}
const send = process.send.bind(process)
const adapter = ioredisAdapter(new Redis(url, { maxRetriesPerRequest: 1 }))
const subscribe = adapter.subscribe?.bind(adapter)
const prefix = `${namespace}:`
const tagPrefix = `{${namespace}:tags}:`
if (subscribe) {
  adapter.subscribe = (listener) =>
    subscribe({
      live: (up) => listener.live(up),
      message: (announcement) => {
        listener.message(announcement)
        // After the tier dropped it: the moment it stops answering the old value.
        const at = performance.timeOrigin + performance.now()
        for (const key of announcement.keys) {
          if (announcement.kind === 'keys' && key.startsWith(prefix)) send({ dropped: key.slice(prefix.length), at })
          if (announcement.kind === 'tags' && key.startsWith(tagPrefix))
            send({ dropped: key.slice(tagPrefix.length), at })
        }
      },
    })
}
const cache = createCacheClient({ adapter, namespace, l1: true })

process.on('message', (message: { warm?: string[]; stop?: true }) => {
  if (message.stop) {
    void cache.close().then(() => process.exit(0))
    return
  }
  if (!message.warm) return
  void (async () => {
    await cache.has('__start__')
    while (cache.metrics().l1?.live !== true) await new Promise((r) => setTimeout(r, 5))
    for (const key of message.warm ?? []) {
      // A miss, a backend hit that fills the tier, a hit from the tier.
      for (let i = 0; i < 3; i++) await cache.getOrSet(key, () => 'v1', { tags: [key] })
    }
    send({ warmed: message.warm?.length, l1Hits: cache.metrics().l1Hits })
  })()
})
send({ ready: true })
