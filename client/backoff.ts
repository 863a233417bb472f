/**
 * Reconnect delays. Upstream cim's RandomBackoff waits a flat 3–9 s on every attempt; we grow the
 * delay exponentially and jitter it, so a broker that dies does not see all its clients come back
 * through the route in the same instant, and a long outage does not mean a retry storm.
 */

/** Reconnect backoff bounds. */
export interface BackoffOptions {
  /** Shortest delay before a reconnect attempt, in ms. Default 500. */
  minMs: number
  /** Longest delay between attempts, in ms. Default 30,000. */
  maxMs: number
}

export const DEFAULT_BACKOFF: BackoffOptions = { minMs: 500, maxMs: 30_000 }

/**
 * Delay before reconnect attempt number `attempt` (0 = the first after a disconnect).
 * The ceiling doubles per attempt (`minMs · 2^(attempt+1)`, capped at `maxMs`) and the delay is
 * drawn uniformly from the upper half of it ("equal jitter"), never below `minMs`:
 * attempt 0 → [500, 1000), attempt 1 → [1000, 2000), … at the cap → [15000, 30000).
 */
export function backoffDelay(attempt: number, opts: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const minMs = Math.max(0, opts.minMs)
  const maxMs = Math.max(minMs, opts.maxMs)
  // 2^31 is far past any cap; clamping the exponent keeps the product finite.
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(0, attempt) + 1, 31))
  const floor = Math.max(minMs, ceiling / 2)
  return Math.round(floor + random() * (ceiling - floor))
}
