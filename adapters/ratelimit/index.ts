/**
 * Request counters for the route's rate limits (route/plugins/ratelimit.ts, docs/security.md):
 * a fixed window per key, started by its first hit. Memory for one route node; Redis in a cluster,
 * so a caller spreading its requests over route nodes meets one limit, not one per node. The route
 * reaches Redis only through this interface (it never imports a client library).
 */

export interface RateCount {
  /** Hits in the current window, this one included. */
  count: number
  /** Milliseconds until the window ends and the count starts again. */
  ttlMs: number
}

export interface RateCounter {
  /**
   * Counts one hit on `key`, whose window is `windowMs` long. The memory counter answers at once
   * (no promise: it runs on every REST request), Redis with a promise.
   */
  hit(key: string, windowMs: number): RateCount | Promise<RateCount>
  close(): Promise<void>
}
