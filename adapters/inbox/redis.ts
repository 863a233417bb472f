/**
 * The inbox in Redis (`<prefix>inbox:`):
 *   seq:<userId>  the user's last seq (INCR); kept after acks so seqs only ever increase
 *   q:<userId>    sorted set, member = score = seq: the order, and cumulative acks by score range
 *   m:<userId>    hash seq → the message as JSON (without its seq)
 *   due           sorted set of every stored message, member `<userId>:<seq>`, scored by expiresAt:
 *                 the expiry sweep reads it from the oldest, and `stored` is its size
 *   expired       counter of messages dropped by their TTL
 * Appends, lists, acks and sweeps are Lua scripts, so the cap is enforced atomically across nodes:
 * an append at the cap fails with CIM_INBOX_FULL and evicts nothing. Expiry is judged on the
 * appending node's clock (`ts + ttlMs`), as in the memory inbox.
 */
import { codedError } from '../../errors.ts'
import type { Inbox, InboxAppend, InboxLimits, InboxMessage, InboxStats } from './index.ts'
import { connect, DEFAULT_PREFIX, Script, type Connection, type RedisAdapterOptions } from '../redis.ts'

const SWEEP_BATCH = 200
const STATS_SWEEP_ROUNDS = 20
/** The per-user keys also carry a Redis TTL this long past their newest message's expiry, as a backstop. */
const KEY_GRACE_MS = 3_600_000

// Drops up to `batch` expired messages of any user; returns how many.
const LUA_SWEEP = `local function sweep(due, expired, prefix, now, batch)
  local gone = redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, batch)
  for _, member in ipairs(gone) do
    local u, seq = string.match(member, '^(.*):(%d+)$')
    redis.call('HDEL', prefix .. 'm:' .. u, seq)
    redis.call('ZREM', prefix .. 'q:' .. u, seq)
  end
  if #gone > 0 then
    redis.call('ZREM', due, unpack(gone))
    redis.call('INCRBY', expired, #gone)
  end
  return #gone
end
local function drop(q, m, due, u, seq)
  redis.call('HDEL', m, seq)
  redis.call('ZREM', q, seq)
  return redis.call('ZREM', due, u .. ':' .. seq)
end
`

// KEYS: seq, q, m, due, expired · ARGV: userId, cap, now, expiresAt, json, inbox prefix, keyTtlMs
// → seq, or -1 when full
const append = new Script(LUA_SWEEP + `
local now = tonumber(ARGV[3])
sweep(KEYS[4], KEYS[5], ARGV[6], now, ${SWEEP_BATCH})
local cap = tonumber(ARGV[2])
if redis.call('ZCARD', KEYS[2]) >= cap then
  -- At the cap: make sure none of this user's messages is expired but not yet swept.
  local n = 0
  for _, seq in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    local s = redis.call('ZSCORE', KEYS[4], ARGV[1] .. ':' .. seq)
    if (not s) or tonumber(s) <= now then n = n + drop(KEYS[2], KEYS[3], KEYS[4], ARGV[1], seq) end
  end
  if n > 0 then redis.call('INCRBY', KEYS[5], n) end
  if redis.call('ZCARD', KEYS[2]) >= cap then return -1 end
end
local seq = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], seq, seq)
redis.call('HSET', KEYS[3], seq, ARGV[5])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1] .. ':' .. seq)
local ttl = tonumber(ARGV[7])
for i = 2, 3 do
  if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return seq
`)

// KEYS: q, m, due, expired · ARGV: userId, afterSeq, limit (-1 = all), now, inbox prefix
// → flat { seq, json, seq, json, ... } of unexpired messages
const list = new Script(LUA_SWEEP + `
local now = tonumber(ARGV[4])
sweep(KEYS[3], KEYS[4], ARGV[5], now, ${SWEEP_BATCH})
local limit = tonumber(ARGV[3])
local after = ARGV[2]
local out = {}
local dropped = 0
while limit < 0 or #out < limit * 2 do
  local want = 500
  if limit >= 0 then want = limit - #out / 2 end
  local seqs = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. after, '+inf', 'LIMIT', 0, want)
  if #seqs == 0 then break end
  for _, seq in ipairs(seqs) do
    local s = redis.call('ZSCORE', KEYS[3], ARGV[1] .. ':' .. seq)
    local v = redis.call('HGET', KEYS[2], seq)
    if s and v and tonumber(s) > now then
      out[#out + 1] = seq
      out[#out + 1] = v
    else
      dropped = dropped + drop(KEYS[1], KEYS[2], KEYS[3], ARGV[1], seq)
    end
  end
  after = seqs[#seqs]
end
if dropped > 0 then redis.call('INCRBY', KEYS[4], dropped) end
return out
`)

// KEYS: seq, q, m, due, expired · ARGV: userId, now, inbox prefix → the user's floor (see Inbox.floor)
const floor = new Script(LUA_SWEEP + `
local now = tonumber(ARGV[2])
local dropped = 0
local result
-- Expired heads do not count: drop them (a bounded number per call; a lower answer is still safe).
for _ = 1, 1000 do
  local head = redis.call('ZRANGE', KEYS[2], 0, 0)
  if #head == 0 then
    result = tonumber(redis.call('GET', KEYS[1]) or '0')
    break
  end
  local s = redis.call('ZSCORE', KEYS[4], ARGV[1] .. ':' .. head[1])
  if s and tonumber(s) > now and redis.call('HEXISTS', KEYS[3], head[1]) == 1 then
    result = tonumber(head[1]) - 1
    break
  end
  dropped = dropped + drop(KEYS[2], KEYS[3], KEYS[4], ARGV[1], head[1])
end
if dropped > 0 then redis.call('INCRBY', KEYS[5], dropped) end
if result == nil then
  local head = redis.call('ZRANGE', KEYS[2], 0, 0)
  if #head == 0 then result = tonumber(redis.call('GET', KEYS[1]) or '0') else result = tonumber(head[1]) - 1 end
end
return result
`)

// KEYS: q, m, due · ARGV: userId, uptoSeq → removed count
const ack = new Script(`
local seqs = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
for i = 1, #seqs, 1000 do
  local chunk, members = {}, {}
  for j = i, math.min(i + 999, #seqs) do
    chunk[#chunk + 1] = seqs[j]
    members[#members + 1] = ARGV[1] .. ':' .. seqs[j]
  end
  redis.call('HDEL', KEYS[2], unpack(chunk))
  redis.call('ZREM', KEYS[3], unpack(members))
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
return #seqs
`)

// KEYS: due, expired · ARGV: now, inbox prefix, batch → { stored, expired, swept }
const stats = new Script(LUA_SWEEP + `
local swept = sweep(KEYS[1], KEYS[2], ARGV[2], tonumber(ARGV[1]), tonumber(ARGV[3]))
return { redis.call('ZCARD', KEYS[1]), tonumber(redis.call('GET', KEYS[2]) or '0'), swept }
`)

type StoredBody = Omit<InboxMessage, 'seq'>

export interface RedisInboxOptions extends RedisAdapterOptions, Partial<InboxLimits> {
  /** Clock used to judge expiry. Default Date.now. */
  now?: () => number
}

export class RedisInbox implements Inbox {
  private readonly conn: Connection
  private readonly prefix: string
  private readonly maxPerUser: number
  private readonly now: () => number

  constructor(opts: RedisInboxOptions) {
    this.conn = connect(opts)
    this.prefix = `${opts.prefix ?? DEFAULT_PREFIX}inbox:`
    this.maxPerUser = opts.maxPerUser ?? 1000
    this.now = opts.now ?? Date.now
  }

  private userKeys(userId: number) {
    const p = this.prefix
    return { seq: `${p}seq:${userId}`, q: `${p}q:${userId}`, m: `${p}m:${userId}`, due: `${p}due`, expired: `${p}expired` }
  }

  async append(userId: number, msg: InboxAppend): Promise<InboxMessage> {
    const k = this.userKeys(userId)
    const body: StoredBody = { msgId: msg.msgId, text: msg.text, properties: { ...msg.properties }, ts: msg.ts, expiresAt: msg.ts + msg.ttlMs }
    const now = this.now()
    const seq = await append.run(this.conn.client, [k.seq, k.q, k.m, k.due, k.expired], [
      userId, this.maxPerUser, now, body.expiresAt, JSON.stringify(body), this.prefix,
      Math.max(1, Math.ceil(body.expiresAt - now)) + KEY_GRACE_MS,
    ]) as number
    if (seq === -1) throw codedError('InboxFull', userId, this.maxPerUser)
    return { msgId: body.msgId, seq, text: body.text, properties: body.properties, ts: body.ts, expiresAt: body.expiresAt }
  }

  async list(userId: number, afterSeq = 0, limit = Infinity): Promise<InboxMessage[]> {
    const k = this.userKeys(userId)
    const flat = await list.run(this.conn.client, [k.q, k.m, k.due, k.expired], [
      userId, afterSeq, Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : -1, this.now(), this.prefix,
    ]) as string[]
    const out: InboxMessage[] = []
    for (let i = 0; i < flat.length; i += 2) {
      const b = JSON.parse(flat[i + 1]) as StoredBody
      out.push({ msgId: b.msgId, seq: Number(flat[i]), text: b.text, properties: b.properties, ts: b.ts, expiresAt: b.expiresAt })
    }
    return out
  }

  async floor(userId: number): Promise<number> {
    const k = this.userKeys(userId)
    return await floor.run(this.conn.client, [k.seq, k.q, k.m, k.due, k.expired], [userId, this.now(), this.prefix]) as number
  }

  async ack(userId: number, uptoSeq: number): Promise<number> {
    const k = this.userKeys(userId)
    return await ack.run(this.conn.client, [k.q, k.m, k.due], [userId, uptoSeq]) as number
  }

  async stats(): Promise<InboxStats> {
    const k = this.userKeys(0)
    // Sweep a bounded amount per call so a large backlog never blocks Redis in one script.
    for (let round = 0; ; round++) {
      const [stored, expired, swept] = await stats.run(this.conn.client, [k.due, k.expired], [this.now(), this.prefix, SWEEP_BATCH * 5]) as number[]
      if (swept < SWEEP_BATCH * 5 || round >= STATS_SWEEP_ROUNDS) return { stored, expired }
    }
  }

  close(): Promise<void> {
    return this.conn.release()
  }
}
