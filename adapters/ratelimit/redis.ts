/**
 * Rate counters in Redis (`<prefix>rate:<key>`, an integer with a PX expiry = the window), shared
 * by every route node: INCR, and on the first hit of a window PEXPIRE, in one script.
 */
import type { RateCount, RateCounter } from './index.ts'
import { connect, DEFAULT_PREFIX, Script, type Connection, type RedisAdapterOptions } from '../redis.ts'

// KEYS: key · ARGV: windowMs → {count, ms left}
const hit = new Script(`
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`)

export class RedisRateCounter implements RateCounter {
  private readonly conn: Connection
  private readonly prefix: string

  constructor(opts: RedisAdapterOptions) {
    this.conn = connect(opts)
    this.prefix = `${opts.prefix ?? DEFAULT_PREFIX}rate:`
  }

  async hit(key: string, windowMs: number): Promise<RateCount> {
    const [count, ttlMs] = await hit.run(this.conn.client, [this.prefix + key], [Math.max(1, Math.ceil(windowMs))]) as [number, number]
    return { count, ttlMs }
  }

  close(): Promise<void> {
    return this.conn.release()
  }
}
