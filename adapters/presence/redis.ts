/**
 * Presence in Redis. Per table (`<prefix>presence:users:` / `...devices:`):
 *   e:<id>        the entry as JSON, with a PX TTL (a crashed broker's entries simply expire)
 *   idx           sorted set, every score 0: ids in byte order, so `list` pages with ZRANGEBYLEX
 *                 from an exclusive cursor and never repeats or skips an id
 *   exp           sorted set scored by expiry (ms, Redis clock): `count` is one ZCOUNT, and expired
 *                 ids are purged from both indexes a batch at a time
 *   b:<brokerId>  set of the ids a broker holds, for `removeBroker`; it expires with its entries
 * Every write is one Lua script, so claim/release/refresh are atomic against other nodes.
 */
import type { Redis } from 'ioredis'
import type { ClaimResult, Presence, PresenceEntry, PresencePage, PresenceTable } from './index.ts'
import { connect, DEFAULT_PREFIX, LUA_NOW_MS, redisFailure, Script, type Connection, type RedisAdapterOptions } from '../redis.ts'

const PURGE_BATCH = 100
const REMOVE_BATCH = 500
const REFRESH_BATCH = 1000
const REFRESH_IN_FLIGHT = 4

// Removes ids whose expiry passed (score < now; Redis keeps a key alive while now <= its expiry).
const LUA_PURGE = `local function purge(idx, exp, now)
  local gone = redis.call('ZRANGEBYSCORE', exp, '-inf', '(' .. now, 'LIMIT', 0, ${PURGE_BATCH})
  if #gone > 0 then
    redis.call('ZREM', idx, unpack(gone))
    redis.call('ZREM', exp, unpack(gone))
  end
end
local function keep_set(key, ttl)
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
`

// KEYS: entry, idx, exp · ARGV: id, json, connId, brokerId, replace (1/0), ttlMs, broker-set prefix
// → { 1 } | { 1, replacedJson } | { 0, currentJson }
const claim = new Script(LUA_NOW_MS + LUA_PURGE + `
local now = now_ms()
purge(KEYS[2], KEYS[3], now)
local cur = redis.call('GET', KEYS[1])
local replaced
if cur then
  local c = cjson.decode(cur)
  if c.connId ~= ARGV[3] then
    if ARGV[5] ~= '1' then return { 0, cur } end
    replaced = cur
  end
  if c.brokerId ~= ARGV[4] then redis.call('SREM', ARGV[7] .. c.brokerId, ARGV[1]) end
end
local ttl = tonumber(ARGV[6])
redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('ZADD', KEYS[3], now + ttl, ARGV[1])
redis.call('SADD', ARGV[7] .. ARGV[4], ARGV[1])
keep_set(ARGV[7] .. ARGV[4], ttl)
if replaced then return { 1, replaced } end
return { 1 }
`)

// KEYS: entry, idx, exp · ARGV: id, connId, broker-set prefix → 1 | 0
const release = new Script(`
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local c = cjson.decode(cur)
if c.connId ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('SREM', ARGV[3] .. c.brokerId, ARGV[1])
return 1
`)

// KEYS: idx, exp, broker set · ARGV: brokerId, ttlMs, entry prefix, then id, json pairs → how many
// entries it re-created. An entry still pointing at this broker gets its TTL extended; a missing one
// is written again (Redis restarted empty); one held by another broker is left alone and its id
// leaves this broker's set. Absent-only, in one script: a claim by another broker can never be
// overwritten, whichever runs first (a later claim with replace wins as at any login).
const refresh = new Script(LUA_NOW_MS + LUA_PURGE + `
local now = now_ms()
local ttl = tonumber(ARGV[2])
local held = 0
local made = 0
for i = 4, #ARGV, 2 do
  local id = ARGV[i]
  local key = ARGV[3] .. id
  local cur = redis.call('GET', key)
  local ours = false
  if not cur then
    redis.call('SET', key, ARGV[i + 1], 'PX', ttl)
    made = made + 1
    ours = true
  elseif cjson.decode(cur).brokerId == ARGV[1] then
    redis.call('PEXPIRE', key, ttl)
    ours = true
  end
  if ours then
    redis.call('ZADD', KEYS[1], 0, id)
    redis.call('ZADD', KEYS[2], now + ttl, id)
    redis.call('SADD', KEYS[3], id)
    held = held + 1
  else
    redis.call('SREM', KEYS[3], id)
  end
end
if held > 0 then keep_set(KEYS[3], ttl) end
return made
`)

// KEYS: broker set, idx, exp · ARGV: brokerId, entry prefix, batch → { popped, removed }
const removeBroker = new Script(`
local ids = redis.call('SPOP', KEYS[1], tonumber(ARGV[3]))
local n = 0
for _, id in ipairs(ids) do
  local key = ARGV[2] .. id
  local cur = redis.call('GET', key)
  if cur and cjson.decode(cur).brokerId == ARGV[1] then
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[2], id)
    redis.call('ZREM', KEYS[3], id)
    n = n + 1
  end
end
return { #ids, n }
`)

// KEYS: idx, exp · ARGV: cursor ('' = start), limit, entry prefix → { next ('' = last page), jsons }
const list = new Script(LUA_NOW_MS + LUA_PURGE + `
purge(KEYS[1], KEYS[2], now_ms())
local limit = tonumber(ARGV[2])
local from = '-'
if ARGV[1] ~= '' then from = '(' .. ARGV[1] end
local ids = redis.call('ZRANGEBYLEX', KEYS[1], from, '+', 'LIMIT', 0, limit + 1)
local n = math.min(#ids, limit)
local out = {}
for i = 1, n do
  local v = redis.call('GET', ARGV[3] .. ids[i])
  if v then
    out[#out + 1] = v
  else
    redis.call('ZREM', KEYS[1], ids[i])
    redis.call('ZREM', KEYS[2], ids[i])
  end
end
local nxt = ''
if #ids > limit then nxt = ids[n] end
return { nxt, out }
`)

// KEYS: exp → live entries (expiry still ahead on the Redis clock)
const count = new Script(LUA_NOW_MS + `
return redis.call('ZCOUNT', KEYS[1], now_ms(), '+inf')
`)

const parse = (json: string) => JSON.parse(json) as PresenceEntry

export class RedisPresenceTable implements PresenceTable {
  private readonly idx: string
  private readonly exp: string
  private readonly entryPrefix: string
  private readonly brokerPrefix: string

  /** `prefix` is the table's own namespace, e.g. `cim:presence:users:`. */
  constructor(private readonly redis: Redis, prefix: string) {
    this.idx = `${prefix}idx`
    this.exp = `${prefix}exp`
    this.entryPrefix = `${prefix}e:`
    this.brokerPrefix = `${prefix}b:`
  }

  async claim(entry: PresenceEntry, opts: { replace: boolean; ttlMs: number }): Promise<ClaimResult> {
    const [ok, other] = await claim.run(this.redis, [this.entryPrefix + entry.id, this.idx, this.exp], [
      entry.id, JSON.stringify(entry), entry.connId, entry.brokerId, opts.replace ? 1 : 0,
      Math.max(1, Math.ceil(opts.ttlMs)), this.brokerPrefix,
    ]) as [number, string | undefined]
    if (ok === 0) return { ok: false, current: parse(other!) }
    return other === undefined ? { ok: true } : { ok: true, replaced: parse(other) }
  }

  async get(id: string): Promise<PresenceEntry | undefined> {
    const v = await this.redis.get(this.entryPrefix + id).catch(redisFailure)
    return v === null ? undefined : parse(v)
  }

  async getMany(ids: string[]): Promise<Array<PresenceEntry | undefined>> {
    if (ids.length === 0) return []
    const values = await this.redis.mget(ids.map((id) => this.entryPrefix + id)).catch(redisFailure)
    return values.map((v) => (v === null ? undefined : parse(v)))
  }

  async release(id: string, connId: string): Promise<boolean> {
    const n = await release.run(this.redis, [this.entryPrefix + id, this.idx, this.exp], [id, connId, this.brokerPrefix])
    return n === 1
  }

  async refresh(brokerId: string, entries: PresenceEntry[], ttlMs: number): Promise<number> {
    const ttl = Math.max(1, Math.ceil(ttlMs))
    const keys = [this.idx, this.exp, this.brokerPrefix + brokerId]
    let next = 0
    let made = 0
    // Paced: REFRESH_IN_FLIGHT scripts of REFRESH_BATCH entries at a time, so 20,000 entries go out
    // in a few pipelined writes (auto-pipelining) while no single script holds Redis for long.
    const worker = async () => {
      while (next < entries.length) {
        const from = next
        next += REFRESH_BATCH
        const batch = entries.slice(from, next)
        const args: Array<string | number> = [brokerId, ttl, this.entryPrefix]
        for (const e of batch) args.push(e.id, JSON.stringify(e))
        const n = await refresh.run(this.redis, keys, args) as number
        made += n // not `made += await ...`: that reads `made` before the wait, losing other workers' counts
      }
    }
    await Promise.all(Array.from({ length: Math.min(REFRESH_IN_FLIGHT, Math.ceil(entries.length / REFRESH_BATCH)) }, worker))
    return made
  }

  async removeBroker(brokerId: string): Promise<number> {
    // SPOP in batches: each script stays short however many entries the broker held.
    let removed = 0
    for (;;) {
      const [popped, n] = await removeBroker.run(this.redis, [this.brokerPrefix + brokerId, this.idx, this.exp],
        [brokerId, this.entryPrefix, REMOVE_BATCH]) as [number, number]
      removed += n
      if (popped < REMOVE_BATCH) return removed
    }
  }

  async list(cursor: string | undefined, limit: number): Promise<PresencePage> {
    const [next, jsons] = await list.run(this.redis, [this.idx, this.exp],
      [cursor ?? '', Math.max(1, Math.floor(limit)), this.entryPrefix]) as [string, string[]]
    const items = jsons.map(parse)
    return next === '' ? { items } : { items, next }
  }

  async count(): Promise<number> {
    return await count.run(this.redis, [this.exp], []) as number
  }
}

export class RedisPresence implements Presence {
  readonly users: PresenceTable
  readonly devices: PresenceTable
  private readonly conn: Connection
  private readonly reconnectListeners = new Set<() => void>()
  /** The connection was ready once: every later 'ready' is a reconnect. */
  private wasReady: boolean
  private readonly onReady = () => {
    if (this.wasReady) for (const l of [...this.reconnectListeners]) l()
    this.wasReady = true
  }

  constructor(opts: RedisAdapterOptions) {
    this.conn = connect(opts)
    const p = `${opts.prefix ?? DEFAULT_PREFIX}presence:`
    this.users = new RedisPresenceTable(this.conn.client, `${p}users:`)
    this.devices = new RedisPresenceTable(this.conn.client, `${p}devices:`)
    // ioredis says 'ready' after every (re)connect once Redis serves (it waited out LOADING).
    this.wasReady = this.conn.client.status === 'ready'
    this.conn.client.on('ready', this.onReady)
  }

  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener)
    return () => { this.reconnectListeners.delete(listener) }
  }

  close(): Promise<void> {
    this.reconnectListeners.clear()
    this.conn.client.off('ready', this.onReady)
    return this.conn.release()
  }
}
