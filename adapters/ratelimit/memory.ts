/**
 * Rate counters in a Map (one route node). Bounded: at `maxKeys` expired windows are swept (at
 * most once a second, so a flood of new keys never costs a sweep per request), and if every window
 * is still live the oldest key is dropped: a flood of new keys costs others at most their count,
 * never unbounded memory (~100 bytes per key).
 */
import type { RateCount, RateCounter } from './index.ts'

interface Window { count: number; resetAt: number }

export class MemoryRateCounter implements RateCounter {
  private readonly windows = new Map<string, Window>()
  private sweptAt = -Infinity

  constructor(private readonly maxKeys = 100_000, private readonly now: () => number = Date.now) {}

  hit(key: string, windowMs: number): RateCount {
    const now = this.now()
    let w = this.windows.get(key)
    if (w === undefined || w.resetAt <= now) {
      if (w === undefined && this.windows.size >= this.maxKeys) this.makeRoom(now)
      w = { count: 0, resetAt: now + windowMs }
      this.windows.set(key, w)
    }
    w.count++
    return { count: w.count, ttlMs: w.resetAt - now }
  }

  /** Live keys (tests, metrics). */
  get size(): number {
    return this.windows.size
  }

  private makeRoom(now: number): void {
    if (now - this.sweptAt >= 1000) {
      this.sweptAt = now
      for (const [k, w] of this.windows) if (w.resetAt <= now) this.windows.delete(k)
    }
    if (this.windows.size >= this.maxKeys) this.windows.delete(this.windows.keys().next().value as string)
  }

  async close(): Promise<void> {
    this.windows.clear()
  }
}
