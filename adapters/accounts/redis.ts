/**
 * Accounts in Redis: two hashes (name → id, id → name) and the last id issued. Registration is one
 * Lua script, so two nodes registering the same name at once get the same account, and ids stay
 * unique across nodes: id = max(Redis clock in ms, last id + 1) — upstream's millisecond-clock
 * ids, made collision-free.
 */
import type { Account, Accounts } from './index.ts'
import { connect, DEFAULT_PREFIX, LUA_NOW_MS, redisFailure, Script, type Connection, type RedisAdapterOptions } from '../redis.ts'

// KEYS: byName, byId, lastId · ARGV: userName → { id, created (1/0) }
const register = new Script(LUA_NOW_MS + `
local id = redis.call('HGET', KEYS[1], ARGV[1])
if id then return { id, 0 } end
local last = tonumber(redis.call('GET', KEYS[3]) or '0')
local nid = math.max(now_ms(), last + 1)
id = string.format('%.0f', nid)
redis.call('SET', KEYS[3], id)
redis.call('HSET', KEYS[1], ARGV[1], id)
redis.call('HSET', KEYS[2], id, ARGV[1])
return { id, 1 }
`)

export class RedisAccounts implements Accounts {
  private readonly conn: Connection
  private readonly keys: { byName: string; byId: string; lastId: string }

  constructor(opts: RedisAdapterOptions) {
    this.conn = connect(opts)
    const p = `${opts.prefix ?? DEFAULT_PREFIX}accounts:`
    this.keys = { byName: `${p}byName`, byId: `${p}byId`, lastId: `${p}lastId` }
  }

  async register(userName: string): Promise<Account & { created: boolean }> {
    const { byName, byId, lastId } = this.keys
    const [id, created] = await register.run(this.conn.client, [byName, byId, lastId], [userName]) as [string, number]
    return { userId: Number(id), userName, created: created === 1 }
  }

  async get(userId: number): Promise<Account | undefined> {
    const userName = await this.conn.client.hget(this.keys.byId, String(userId)).catch(redisFailure)
    return userName === null ? undefined : { userId, userName }
  }

  async getByName(userName: string): Promise<Account | undefined> {
    const id = await this.conn.client.hget(this.keys.byName, userName).catch(redisFailure)
    return id === null ? undefined : { userId: Number(id), userName }
  }

  close(): Promise<void> {
    return this.conn.release()
  }
}
