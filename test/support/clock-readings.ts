/**
 * How many times `run` read the monotonic clock (`performance.now()`), which cacheward reads for freshness and
 * latency: a test's way to see how many readings a hit costs, without timing anything.
 */
export async function clockReadings(run: () => Promise<void>): Promise<number> {
  const clock = performance.now
  let readings = 0
  performance.now = () => {
    readings++
    return clock.call(performance)
  }
  try {
    await run()
  } finally {
    performance.now = clock
  }
  return readings
}
