import net from 'node:net'

/**
 * `forward`: bytes pass both ways. `drop-replies`: requests still reach the server, its replies are
 * thrown away (a reply lost on the wire: the command ran, the client never hears of it). `hold`:
 * requests are kept in the proxy and reach the server only when the mode changes back (a stalled
 * link or a congested middlebox: the client has sent the command, the server runs it late).
 */
export type ProxyMode = 'forward' | 'drop-replies' | 'hold'

export interface TcpProxy {
  port: number
  url: string
  /** Changing it from `hold` delivers every held request, in order. */
  mode: ProxyMode
  /** Resets every open connection (RST to the client), as a dying middlebox would. */
  reset(): void
  stop(): Promise<void>
}

/** A loopback TCP proxy in front of `127.0.0.1:targetPort`, for network faults a server cannot produce itself. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket; held: Buffer[] }>()
  let mode: ProxyMode = 'forward'
  const proxy: TcpProxy = {
    port: 0,
    url: '',
    get mode() {
      return mode
    },
    set mode(next: ProxyMode) {
      mode = next
      if (next === 'hold') return
      for (const pair of pairs) for (const chunk of pair.held.splice(0)) pair.upstream.write(chunk)
    },
    reset() {
      for (const { client, upstream } of pairs) {
        client.resetAndDestroy()
        upstream.destroy()
      }
      pairs.clear()
    },
    stop: () =>
      new Promise<void>((resolve) => {
        proxy.reset()
        server.close(() => resolve())
      }),
  }
  const server = net.createServer((client) => {
    const upstream = net.connect({ port: targetPort, host: '127.0.0.1' })
    const pair = { client, upstream, held: [] as Buffer[] }
    pairs.add(pair)
    const close = () => {
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    client.on('data', (chunk: Buffer) => {
      if (mode === 'hold') pair.held.push(chunk)
      else upstream.write(chunk)
    })
    upstream.on('data', (chunk) => {
      if (mode !== 'drop-replies') client.write(chunk)
    })
    client.on('error', close).on('close', close)
    upstream.on('error', close).on('close', close)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  proxy.port = (server.address() as net.AddressInfo).port
  proxy.url = `redis://127.0.0.1:${proxy.port}`
  return proxy
}
