/**
 * The webhook log in Redis, shared by every node of a cluster and durable across their restarts.
 * Per partition p: a stream `<prefix>events:webhook:<p>` of undelivered events (field `e`), the
 * id of the last delivered one in `…:<p>:cursor`, and the lease `…:<p>:lease` (the owner's name,
 * PX expiry). Delivery is recorded and the stream trimmed (XTRIM MINID) in one script that checks
 * the lease first, so a node that lost its partition cannot move the cursor of the new owner.
 * Dead letters go to `<prefix>events:webhook:dead` (XADD MAXLEN ~).
 *
 * The stream is not capped: undelivered events stay in Redis for as long as the backend is down
 * (README "Events to your backend" says how to watch for that).
 */
import type { Redis } from 'ioredis'
import { DEAD_LETTERS_KEPT, EVENT_LOG_PARTITIONS, type DeadLetter, type EventLog, type EventStreamWriter, type LogEntry } from './index.ts'
import { connect, DEFAULT_PREFIX, redisFailure, Script, type Connection, type RedisAdapterOptions } from '../redis.ts'

// KEYS: lease · ARGV: owner, ttlMs → 1 when `owner` holds the lease now
const takeLease = new Script(`
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not cur then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0
`)

// KEYS: lease · ARGV: owner
const dropLease = new Script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`)

// KEYS: lease, cursor, stream · ARGV: owner, throughId, the first id to keep → 1 when recorded
const recordDelivered = new Script(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('XTRIM', KEYS[3], 'MINID', ARGV[3])
return 1
`)

export class RedisEventLog implements EventLog {
  readonly partitions = EVENT_LOG_PARTITIONS
  readonly durable = true
  private readonly conn: Connection
  private readonly prefix: string

  constructor(opts: RedisAdapterOptions) {
    this.conn = connect(opts)
    this.prefix = `${opts.prefix ?? DEFAULT_PREFIX}events:webhook:`
  }

  private get redis(): Redis {
    return this.conn.client
  }

  async append(partition: number, entries: readonly string[]): Promise<number> {
    if (entries.length === 0) return 0
    // MULTI: all or none, so a retry after a failure never puts a source's events out of order.
    const tx = this.redis.multi()
    const key = `${this.prefix}${partition}`
    for (const e of entries) tx.xadd(key, '*', 'e', e)
    const replies = await tx.exec().catch(redisFailure)
    const failed = replies?.find(([err]) => err)
    if (!replies || failed) redisFailure(failed?.[0] ?? new Error('transaction aborted'))
    return entries.length
  }

  async cursor(partition: number): Promise<string> {
    return (await this.redis.get(`${this.prefix}${partition}:cursor`).catch(redisFailure)) ?? '0-0'
  }

  async read(partition: number, after: string, count: number): Promise<{ entries: LogEntry[]; depth: number }> {
    const key = `${this.prefix}${partition}`
    const replies = await this.redis.pipeline().xrange(key, `(${after}`, '+', 'COUNT', count).xlen(key).exec().catch(redisFailure)
    const [[rangeErr, range], [lenErr, len]] = replies as Array<[Error | null, unknown]> as [[Error | null, Array<[string, string[]]>], [Error | null, number]]
    if (rangeErr || lenErr) redisFailure(rangeErr ?? lenErr)
    return { entries: range.map(([id, fields]) => ({ id, data: fields[1]! })), depth: len }
  }

  async acquire(partition: number, owner: string, ttlMs: number): Promise<boolean> {
    return (await takeLease.run(this.redis, [`${this.prefix}${partition}:lease`], [owner, Math.ceil(ttlMs)])) === 1
  }

  async release(partition: number, owner: string): Promise<void> {
    await dropLease.run(this.redis, [`${this.prefix}${partition}:lease`], [owner])
  }

  async ack(partition: number, owner: string, throughId: string): Promise<boolean> {
    const key = `${this.prefix}${partition}`
    const done = await recordDelivered.run(this.redis, [`${key}:lease`, `${key}:cursor`, key], [owner, throughId, nextId(throughId)])
    return done === 1
  }

  async deadLetter(entries: readonly string[], reason: string): Promise<void> {
    if (entries.length === 0) return
    const p = this.redis.pipeline()
    const at = String(Date.now())
    for (const e of entries) p.xadd(`${this.prefix}dead`, 'MAXLEN', '~', DEAD_LETTERS_KEPT, '*', 'e', e, 'reason', reason, 'at', at)
    await p.exec().catch(redisFailure)
  }

  async readDeadLetters(count: number): Promise<DeadLetter[]> {
    const rows = await this.redis.xrevrange(`${this.prefix}dead`, '+', '-', 'COUNT', count).catch(redisFailure)
    return rows.map(([, f]) => {
      const fields = fieldsOf(f)
      return { data: fields.e ?? '', reason: fields.reason ?? '', at: Number(fields.at ?? 0) }
    })
  }

  close(): Promise<void> {
    return this.conn.release()
  }
}

/**
 * The Redis stream a backend consumes (the `eventStream` setting): XADD with MAXLEN ~, all
 * entries of one call in one pipeline.
 */
export class RedisEventStream implements EventStreamWriter {
  private readonly conn: Connection

  constructor(opts: RedisAdapterOptions) {
    this.conn = connect(opts)
  }

  async append(key: string, maxLen: number, entries: ReadonlyArray<readonly string[]>): Promise<void> {
    if (entries.length === 0) return
    const p = this.conn.client.pipeline()
    for (const fields of entries) p.xadd(key, 'MAXLEN', '~', maxLen, '*', ...fields)
    const replies = await p.exec().catch(redisFailure)
    const failed = replies?.find(([err]) => err)
    if (failed) redisFailure(failed[0])
  }

  close(): Promise<void> {
    return this.conn.release()
  }
}

/** The smallest stream id after `id` (XTRIM MINID keeps ids at or above it). */
function nextId(id: string): string {
  const dash = id.indexOf('-')
  return `${id.slice(0, dash)}-${Number(id.slice(dash + 1)) + 1}`
}

function fieldsOf(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!
  return out
}
