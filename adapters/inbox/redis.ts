/**
 * The inbox in Redis (`<prefix>inbox:`):
 *   seq:<userId>  the user's last seq (INCR); kept after acks so seqs only ever increase
 *   epoch:<userId> the epoch of that counter: made by the append that makes the counter (seq 1), so
 *                 a counter lost with Redis's data restarts at 1 under a new epoch (InboxFloor)
 *   q:<userId>    sorted set, member = score = seq: the order, and cumulative acks by score range
 *   m:<userId>    hash seq → the message as JSON (without its seq)
 *   due           sorted set of every stored message, member `<userId>:<seq>`, scored by expiresAt:
 *                 the expiry sweep reads it from the oldest, and `stored` is its size
 *   expired       counter of messages dropped by their TTL
 *   sizes         hash `<userId>:<seq>` → the message's storedBytesOf(), removed with its `due` entry
 *                 (so the counters stay right even after the per-user keys' backstop TTL)
 *   bytes:<userId> the user's stored bytes; bytes: the stored bytes over all users
 * Appends, lists, acks and sweeps are Lua scripts, so the caps are enforced atomically across
 * nodes: an append at a per-user cap (messages or bytes) fails with CIM_INBOX_FULL, at the global
 * cap with CIM_STORAGE_FULL, before it writes anything, and evicts nothing. Every removal (ack,
 * expiry, sweep) gives the bytes back in the same script. Messages stored by a version without
 * byte counters have no `sizes` entry and count 0. Expiry is judged on the appending node's clock
 * (`ts + ttlMs`), as in the memory inbox.
 */
import { inboxRefusal, newEpoch, resolveInboxLimits, storedBytesOf } from './index.ts'
import type { Inbox, InboxAppend, InboxFloor, InboxLimits, InboxMessage, InboxPending, InboxStats } from './index.ts'
import { connect, DEFAULT_PREFIX, Script, type Connection, type RedisAdapterOptions } from '../redis.ts'

const SWEEP_BATCH = 200
const STATS_SWEEP_ROUNDS = 20
/** The per-user keys also carry a Redis TTL this long past their newest message's expiry, as a backstop. */
const KEY_GRACE_MS = 3_600_000

// Argument checks every script runs before it writes anything: a bad value (a ttl of 1e18 ms, which
// Lua would hand to PEXPIRE as "1e+18") fails the whole call with nothing stored, instead of
// failing halfway after the message was written. int(i, lo): ARGV[i] as a decimal integer in
// [lo, 2^53 − 1].
const LUA_ARGS = `local function int(i, lo)
  local v = ARGV[i]
  local n = v and string.match(v, '^%d+$') and tonumber(v)
  if not n or n < lo or n > 9007199254740991 then
    error({ err = 'CIM_INVALID_ARGUMENT inbox script argument ' .. i .. ' is not an integer in [' .. lo .. ', 2^53-1]: ' .. tostring(v) })
  end
  return n
end
`

// release: lowers a byte counter (deleted at 0). forget: gives back the bytes of one message.
// sweep: drops up to `batch` expired messages of any user; returns how many.
const LUA_SWEEP = `local function release(key, n)
  if redis.call('DECRBY', key, n) <= 0 then redis.call('DEL', key) end
end
local function forget(prefix, u, seq)
  local member = u .. ':' .. seq
  local b = tonumber(redis.call('HGET', prefix .. 'sizes', member) or '0')
  redis.call('HDEL', prefix .. 'sizes', member)
  if b > 0 then
    release(prefix .. 'bytes:' .. u, b)
    release(prefix .. 'bytes', b)
  end
end
local function sweep(due, expired, prefix, now, batch)
  local gone = redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, batch)
  for _, member in ipairs(gone) do
    local u, seq = string.match(member, '^(.*):(%d+)$')
    redis.call('HDEL', prefix .. 'm:' .. u, seq)
    redis.call('ZREM', prefix .. 'q:' .. u, seq)
    forget(prefix, u, seq)
  end
  if #gone > 0 then
    redis.call('ZREM', due, unpack(gone))
    redis.call('INCRBY', expired, #gone)
  end
  return #gone
end
local function drop(q, m, due, u, seq, prefix)
  redis.call('HDEL', m, seq)
  redis.call('ZREM', q, seq)
  forget(prefix, u, seq)
  return redis.call('ZREM', due, u .. ':' .. seq)
end
`

// KEYS: seq, q, m, due, expired, epoch · ARGV: userId, cap, now, expiresAt, json, inbox prefix,
// keyTtlMs, bytes, maxBytesPerUser, maxTotalBytes, a new epoch → { seq, epoch }, or (nothing written)
// -1 at the per-user message cap, -3 at the per-user bytes cap, -2 at the global bytes cap
const append = new Script(LUA_ARGS + LUA_SWEEP + `
int(1, 1) int(2, 0) int(3, 0) int(4, 0) int(7, 1) int(8, 0)
local now = tonumber(ARGV[3])
local prefix = ARGV[6]
local bytes, maxBytes, maxTotal = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local userBytes, totalBytes = prefix .. 'bytes:' .. ARGV[1], prefix .. 'bytes'
local function counter(key) return tonumber(redis.call('GET', key) or '0') end
sweep(KEYS[4], KEYS[5], prefix, now, ${SWEEP_BATCH})
local cap = tonumber(ARGV[2])
local function userFull()
  if redis.call('ZCARD', KEYS[2]) >= cap then return -1 end
  if counter(userBytes) + bytes > maxBytes then return -3 end
  return 0
end
if userFull() ~= 0 then
  -- At a cap: make sure none of this user's messages is expired but not yet swept.
  local n = 0
  for _, seq in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    local s = redis.call('ZSCORE', KEYS[4], ARGV[1] .. ':' .. seq)
    if (not s) or tonumber(s) <= now then n = n + drop(KEYS[2], KEYS[3], KEYS[4], ARGV[1], seq, prefix) end
  end
  if n > 0 then redis.call('INCRBY', KEYS[5], n) end
  local full = userFull()
  if full ~= 0 then return full end
end
if counter(totalBytes) + bytes > maxTotal then
  -- Other users' expired messages may still hold bytes: sweep a few more batches before refusing.
  for _ = 1, 5 do
    if sweep(KEYS[4], KEYS[5], prefix, now, ${SWEEP_BATCH}) == 0 or counter(totalBytes) + bytes <= maxTotal then break end
  end
  if counter(totalBytes) + bytes > maxTotal then return -2 end
end
local seq = redis.call('INCR', KEYS[1])
-- A counter made just now (a new user, or one whose counter was lost) starts a new epoch; so does
-- a counter of a version without epochs.
local epoch = redis.call('GET', KEYS[6])
if seq == 1 or not epoch then
  epoch = ARGV[11]
  redis.call('SET', KEYS[6], epoch)
end
local member = ARGV[1] .. ':' .. seq
redis.call('ZADD', KEYS[2], seq, seq)
redis.call('HSET', KEYS[3], seq, ARGV[5])
redis.call('ZADD', KEYS[4], ARGV[4], member)
redis.call('HSET', prefix .. 'sizes', member, bytes)
redis.call('INCRBY', userBytes, bytes)
redis.call('INCRBY', totalBytes, bytes)
local ttl = tonumber(ARGV[7])
for _, key in ipairs({ KEYS[2], KEYS[3], userBytes }) do
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
return { seq, epoch }
`)

// KEYS: q, m, due, expired, epoch · ARGV: userId, afterSeq, limit (-1 = all), now, inbox prefix
// → flat { epoch ('' when none), seq, json, seq, json, ... } of unexpired messages
const list = new Script(LUA_ARGS + LUA_SWEEP + `
int(1, 1) int(2, 0) int(4, 0)
if ARGV[3] ~= '-1' then int(3, 0) end
local now = tonumber(ARGV[4])
sweep(KEYS[3], KEYS[4], ARGV[5], now, ${SWEEP_BATCH})
local limit = tonumber(ARGV[3])
local after = ARGV[2]
local out = { redis.call('GET', KEYS[5]) or '' }
local dropped = 0
while limit < 0 or #out - 1 < limit * 2 do
  local want = 500
  if limit >= 0 then want = limit - (#out - 1) / 2 end
  local seqs = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. after, '+inf', 'LIMIT', 0, want)
  if #seqs == 0 then break end
  for _, seq in ipairs(seqs) do
    local s = redis.call('ZSCORE', KEYS[3], ARGV[1] .. ':' .. seq)
    local v = redis.call('HGET', KEYS[2], seq)
    if s and v and tonumber(s) > now then
      out[#out + 1] = seq
      out[#out + 1] = v
    else
      dropped = dropped + drop(KEYS[1], KEYS[2], KEYS[3], ARGV[1], seq, ARGV[5])
    end
  end
  after = seqs[#seqs]
end
if dropped > 0 then redis.call('INCRBY', KEYS[4], dropped) end
return out
`)

// KEYS: seq, q, m, due, expired, epoch · ARGV: userId, now, inbox prefix, a new epoch
// → { the user's floor, its epoch } (see Inbox.floor)
const floor = new Script(LUA_ARGS + LUA_SWEEP + `
int(1, 1) int(2, 0)
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
  dropped = dropped + drop(KEYS[2], KEYS[3], KEYS[4], ARGV[1], head[1], ARGV[3])
end
if dropped > 0 then redis.call('INCRBY', KEYS[5], dropped) end
if result == nil then
  local head = redis.call('ZRANGE', KEYS[2], 0, 0)
  if #head == 0 then result = tonumber(redis.call('GET', KEYS[1]) or '0') else result = tonumber(head[1]) - 1 end
end
-- No counter, no stream (and no epoch yet: the first append makes both). A counter from a version
-- without epochs gets one now, so the client hears it at this login.
local epoch = redis.call('GET', KEYS[6])
if not epoch then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    epoch = ARGV[4]
    redis.call('SET', KEYS[6], epoch)
  else
    epoch = ''
  end
end
return { result, epoch }
`)

// KEYS: q, m, due, epoch · ARGV: userId, uptoSeq, inbox prefix, [epoch] → removed count (0, removing
// nothing, when the stream's epoch is not the given one: the ack was made in a stream since lost)
const ack = new Script(LUA_ARGS + LUA_SWEEP + `
int(1, 1) int(2, 0)
if ARGV[4] ~= nil and (redis.call('GET', KEYS[4]) or '') ~= ARGV[4] then return 0 end
local sizes = ARGV[3] .. 'sizes'
local seqs = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local freed = 0
for i = 1, #seqs, 1000 do
  local chunk, members = {}, {}
  for j = i, math.min(i + 999, #seqs) do
    chunk[#chunk + 1] = seqs[j]
    members[#members + 1] = ARGV[1] .. ':' .. seqs[j]
  end
  redis.call('HDEL', KEYS[2], unpack(chunk))
  redis.call('ZREM', KEYS[3], unpack(members))
  for _, b in ipairs(redis.call('HMGET', sizes, unpack(members))) do freed = freed + (tonumber(b) or 0) end
  redis.call('HDEL', sizes, unpack(members))
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if freed > 0 then
  release(ARGV[3] .. 'bytes:' .. ARGV[1], freed)
  release(ARGV[3] .. 'bytes', freed)
end
return #seqs
`)

// KEYS: due, expired · ARGV: now, inbox prefix, batch → { stored, expired, swept, bytes }
const stats = new Script(LUA_ARGS + LUA_SWEEP + `
int(1, 0) int(3, 1)
local swept = sweep(KEYS[1], KEYS[2], ARGV[2], tonumber(ARGV[1]), tonumber(ARGV[3]))
return { redis.call('ZCARD', KEYS[1]), tonumber(redis.call('GET', KEYS[2]) or '0'), swept, tonumber(redis.call('GET', ARGV[2] .. 'bytes') or '0') }
`)

type StoredBody = Omit<InboxMessage, 'seq' | 'epoch'>

export interface RedisInboxOptions extends RedisAdapterOptions, Partial<InboxLimits> {
  /** Clock used to judge expiry. Default Date.now. */
  now?: () => number
}

export class RedisInbox implements Inbox {
  private readonly conn: Connection
  private readonly prefix: string
  private readonly limits: InboxLimits
  private readonly now: () => number

  constructor(opts: RedisInboxOptions) {
    this.conn = connect(opts)
    this.prefix = `${opts.prefix ?? DEFAULT_PREFIX}inbox:`
    this.limits = resolveInboxLimits(opts)
    this.now = opts.now ?? Date.now
  }

  private userKeys(userId: number) {
    const p = this.prefix
    return { seq: `${p}seq:${userId}`, q: `${p}q:${userId}`, m: `${p}m:${userId}`, due: `${p}due`, expired: `${p}expired`, epoch: `${p}epoch:${userId}` }
  }

  async append(userId: number, msg: InboxAppend): Promise<InboxMessage> {
    const k = this.userKeys(userId)
    const body: StoredBody = { msgId: msg.msgId, text: msg.text, properties: { ...msg.properties }, ts: msg.ts, expiresAt: msg.ts + msg.ttlMs }
    const now = this.now()
    const stored = await append.run(this.conn.client, [k.seq, k.q, k.m, k.due, k.expired, k.epoch], [
      userId, this.limits.maxPerUser, now, body.expiresAt, JSON.stringify(body), this.prefix,
      Math.max(1, Math.ceil(body.expiresAt - now)) + KEY_GRACE_MS,
      storedBytesOf(msg), this.limits.maxBytesPerUser, this.limits.maxTotalBytes, newEpoch(now),
    ]) as [seq: number, epoch: string] | number
    if (stored === -1) throw inboxRefusal(this.limits, userId, 'messages')
    if (stored === -3) throw inboxRefusal(this.limits, userId, 'bytes')
    if (typeof stored === 'number') throw inboxRefusal(this.limits, userId, 'total')
    const [seq, epoch] = stored
    return { msgId: body.msgId, seq, epoch, text: body.text, properties: body.properties, ts: body.ts, expiresAt: body.expiresAt }
  }

  async list(userId: number, afterSeq = 0, limit = Infinity): Promise<InboxMessage[]> {
    const k = this.userKeys(userId)
    const flat = await list.run(this.conn.client, [k.q, k.m, k.due, k.expired, k.epoch], [
      userId, afterSeq, Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : -1, this.now(), this.prefix,
    ]) as string[]
    const epoch = flat[0]
    const out: InboxMessage[] = []
    for (let i = 1; i < flat.length; i += 2) {
      const b = JSON.parse(flat[i + 1]) as StoredBody
      out.push({ msgId: b.msgId, seq: Number(flat[i]), epoch, text: b.text, properties: b.properties, ts: b.ts, expiresAt: b.expiresAt })
    }
    return out
  }

  async floor(userId: number): Promise<InboxFloor> {
    const k = this.userKeys(userId)
    const now = this.now()
    const [seq, epoch] = await floor.run(this.conn.client, [k.seq, k.q, k.m, k.due, k.expired, k.epoch], [userId, now, this.prefix, newEpoch(now)]) as [number, string]
    return { seq, epoch }
  }

  async ack(userId: number, uptoSeq: number, epoch?: string): Promise<number> {
    const k = this.userKeys(userId)
    const args: Array<string | number> = [userId, uptoSeq, this.prefix]
    if (epoch !== undefined) args.push(epoch)
    return await ack.run(this.conn.client, [k.q, k.m, k.due, k.epoch], args) as number
  }

  async pending(userId: number): Promise<InboxPending> {
    const k = this.userKeys(userId)
    // Two reads, no sweep: a count for the operator, not a decision (expired entries go at the next list or stats).
    const [messages, bytes] = await Promise.all([this.conn.client.zcard(k.q), this.conn.client.get(`${this.prefix}bytes:${userId}`)])
    return { messages, bytes: Number(bytes ?? 0) }
  }

  async stats(): Promise<InboxStats> {
    const k = this.userKeys(0)
    // Sweep a bounded amount per call so a large backlog never blocks Redis in one script.
    for (let round = 0; ; round++) {
      const [stored, expired, swept, bytes] = await stats.run(this.conn.client, [k.due, k.expired], [this.now(), this.prefix, SWEEP_BATCH * 5]) as number[]
      if (swept < SWEEP_BATCH * 5 || round >= STATS_SWEEP_ROUNDS) return { stored, expired, bytes }
    }
  }

  close(): Promise<void> {
    return this.conn.release()
  }
}
