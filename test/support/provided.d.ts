// Values test/support/global-setup.ts provides to the integration project; makes inject('redisUrl') typed.
declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string
    clusterNodes: Array<{ host: string; port: number }>
    upstashUrl: string
    upstashToken: string
    /** test/runtimes: a directory with the packed cacheward installed in its node_modules. */
    runtimeInstall: string
  }
}

// A module, so the block above augments vitest's interface instead of replacing the module.
export {}
