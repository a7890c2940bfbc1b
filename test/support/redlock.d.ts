// redlock 4 ships no type declarations; the tests use this much of it.
declare module 'redlock' {
  interface Lock {
    unlock(): Promise<void>
    extend(ttl: number): Promise<Lock>
  }
  class Redlock {
    constructor(clients: unknown[], options?: { retryCount?: number; retryDelay?: number; driftFactor?: number })
    lock(resource: string, ttl: number): Promise<Lock>
  }
  export default Redlock
}
