/**
 * Idempotency records in Redis (`<prefix>idem:<key>`, JSON string with a PX expiry): the claim is
 * SET NX PX, the compare-and-set steps are Lua scripts, so two route nodes never both claim a key.
 */
import type { DoneRecord, Idempotency, IdempotencyRecord, PendingRecord } from './index.ts'
import { connect, DEFAULT_PREFIX, redisFailure, Script, type Connection, type RedisAdapterOptions } from '../redis.ts'

// KEYS: key · ARGV: pending json, ttlMs → nil when claimed, else the record found
const claim = new Script(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
return redis.call('GET', KEYS[1])
`)

// KEYS: key · ARGV: token, next json → 1 when replaced
const takeOver = new Script(`
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local r = cjson.decode(cur)
if r.state ~= 'pending' or r.token ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
`)

// KEYS: key · ARGV: done json → the record now stored, or nil
const complete = new Script(`
local cur = redis.call('GET', KEYS[1])
if not cur then return false end
if cjson.decode(cur).state ~= 'pending' then return cur end
redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
return ARGV[1]
`)

export class RedisIdempotency implements Idempotency {
  private readonly conn: Connection
  private readonly prefix: string

  constructor(opts: RedisAdapterOptions) {
    this.conn = connect(opts)
    this.prefix = `${opts.prefix ?? DEFAULT_PREFIX}idem:`
  }

  async claim(key: string, pending: PendingRecord, ttlMs: number): Promise<IdempotencyRecord | undefined> {
    const found = await claim.run(this.conn.client, [this.prefix + key], [JSON.stringify(pending), Math.max(1, Math.ceil(ttlMs))]) as string | null
    return found === null ? undefined : JSON.parse(found) as IdempotencyRecord
  }

  async get(key: string): Promise<IdempotencyRecord | undefined> {
    const v = await this.conn.client.get(this.prefix + key).catch(redisFailure)
    return v === null ? undefined : JSON.parse(v) as IdempotencyRecord
  }

  async takeOver(key: string, token: string, next: PendingRecord): Promise<boolean> {
    return (await takeOver.run(this.conn.client, [this.prefix + key], [token, JSON.stringify(next)])) === 1
  }

  async complete(key: string, done: DoneRecord): Promise<IdempotencyRecord | undefined> {
    const v = await complete.run(this.conn.client, [this.prefix + key], [JSON.stringify(done)]) as string | null
    return v === null ? undefined : JSON.parse(v) as IdempotencyRecord
  }

  close(): Promise<void> {
    return this.conn.release()
  }
}
