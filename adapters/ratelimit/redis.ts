/**
 * Rate counters in Redis (`<prefix>rate:<key>`, an integer with a PX expiry = the window), shared
 * by every route node: INCRBY, and on the first hit of a window PEXPIRE, in one script.
 *
 * A busy key does not cost a Redis round trip per request: once a window holds HOT_FROM hits, this
 * node counts further hits locally (answering at once, without a promise) and adds them to Redis
 * every FLUSH_MS, learning the cluster-wide count back. Counts below HOT_FROM (every registration
 * limit, small per-key limits) stay exact across nodes; above it a caller can pass the limit by at
 * most what the route nodes accept in FLUSH_MS (README "Limits").
 */
import type { RateCount, RateCounter } from './index.ts'
import { connect, DEFAULT_PREFIX, Script, type Connection, type RedisAdapterOptions } from '../redis.ts'

/** Hits in a window from which a key is counted locally and flushed in batches. */
export const HOT_FROM = 1_000
/** How often local counts of busy keys are added to Redis. */
export const FLUSH_MS = 20
/** Busy keys tracked per node at most (each ~100 bytes); beyond, new busy keys stay exact. */
const MAX_HOT_KEYS = 10_000

// KEYS: key · ARGV: windowMs, increment → {count, ms left}
const hit = new Script(`
local n = redis.call('INCRBY', KEYS[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if n == tonumber(ARGV[2]) or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`)

/** A busy key's window as this node knows it: the cluster's count at the last flush plus ours since. */
interface HotWindow { windowMs: number; endsAt: number; global: number; pending: number }

export class RedisRateCounter implements RateCounter {
  private readonly conn: Connection
  private readonly prefix: string
  private readonly hot = new Map<string, HotWindow>()
  private flushTimer: NodeJS.Timeout | undefined

  constructor(opts: RedisAdapterOptions) {
    this.conn = connect(opts)
    this.prefix = `${opts.prefix ?? DEFAULT_PREFIX}rate:`
  }

  hit(key: string, windowMs: number): RateCount | Promise<RateCount> {
    const now = Date.now()
    const w = this.hot.get(key)
    if (w !== undefined && w.endsAt > now) {
      w.pending++
      this.flushTimer ??= setTimeout(() => { void this.flush() }, FLUSH_MS)
      return { count: w.global + w.pending, ttlMs: w.endsAt - now }
    }
    if (w !== undefined) this.hot.delete(key) // its window ended
    return this.exact(key, windowMs)
  }

  private async exact(key: string, windowMs: number): Promise<RateCount> {
    const [count, ttlMs] = await this.add(key, windowMs, 1)
    if (count >= HOT_FROM && !this.hot.has(key) && this.hot.size < MAX_HOT_KEYS) {
      this.hot.set(key, { windowMs, endsAt: Date.now() + ttlMs, global: count, pending: 0 })
    }
    return { count, ttlMs }
  }

  private async add(key: string, windowMs: number, n: number): Promise<[number, number]> {
    return await hit.run(this.conn.client, [this.prefix + key], [Math.max(1, Math.ceil(windowMs)), n]) as [number, number]
  }

  /** Adds every busy key's local hits to Redis (one pipelined batch) and learns the totals back. */
  private async flush(): Promise<void> {
    this.flushTimer = undefined
    const now = Date.now()
    await Promise.all([...this.hot].map(async ([key, w]) => {
      if (w.endsAt <= now) return void this.hot.delete(key)
      const n = w.pending
      if (n === 0) return
      w.pending = 0
      try {
        const [count, ttlMs] = await this.add(key, w.windowMs, n)
        // Hits counted here while this flush was in flight stay in `pending`, on top of the total.
        w.global = count
        w.endsAt = Date.now() + ttlMs
      } catch {
        w.pending += n // Redis away: keep counting locally, retry at the next flush
      }
    }))
  }

  async close(): Promise<void> {
    clearTimeout(this.flushTimer)
    this.flushTimer = undefined
    await this.flush().catch(() => {})
    await this.conn.release()
  }
}
