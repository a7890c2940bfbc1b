import { defineConfig } from 'vitest/config'

// Four projects: `unit` needs no server and runs in about a second (npm run test:unit);
// `integration` (contract suite + real-process tests) shares one global setup that starts
// redis-server, a 3-master cluster and a local Upstash REST endpoint; `runtimes` runs the packed
// tarball in workerd, Vercel's edge-runtime, Bun and Deno; `package` checks the built tarball and runs the testing
// guides' samples against dist/.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/contract/memory.test.ts', 'test/contract/ioredis-mock.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: [
            'test/contract/redis.test.ts',
            'test/contract/*-l1.test.ts',
            'test/contract/cluster.test.ts',
            'test/contract/node-redis*.test.ts',
            'test/contract/upstash*.test.ts',
            'test/integration/**/*.test.ts',
            'test/examples/**/*.test.ts',
          ],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 20_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'runtimes',
          include: ['test/runtimes/**/*.test.ts'],
          globalSetup: ['test/runtimes/global-setup.ts'],
          // After the other projects, not beside them: workerd, Bun and Deno are processes of their own, and on a
          // small machine their CPU would shift the timings of the integration tests that measure windows in ms.
          sequence: { groupOrder: 1 },
          testTimeout: 20_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'package',
          // test/kit: the testing guides' samples, which import cacheward/testing from dist/ as users do.
          include: ['test/package/**/*.test.ts', 'test/kit/**/*.test.ts'],
          testTimeout: 120_000,
        },
      },
    ],
  },
})
