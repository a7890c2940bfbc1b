import net from 'node:net'

/**
 * `forward`: bytes pass both ways. `drop-replies`: requests still reach the server, its replies are
 * thrown away (a reply lost on the wire: the command ran, the client never hears of it).
 */
export type ProxyMode = 'forward' | 'drop-replies'

export interface TcpProxy {
  port: number
  url: string
  mode: ProxyMode
  /** Resets every open connection (RST to the client), as a dying middlebox would. */
  reset(): void
  stop(): Promise<void>
}

/** A loopback TCP proxy in front of `127.0.0.1:targetPort`, for network faults a server cannot produce itself. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>()
  const proxy: TcpProxy = {
    port: 0,
    url: '',
    mode: 'forward',
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
    const pair = { client, upstream }
    pairs.add(pair)
    const close = () => {
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    client.on('data', (chunk) => upstream.write(chunk))
    upstream.on('data', (chunk) => {
      if (proxy.mode === 'forward') client.write(chunk)
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
