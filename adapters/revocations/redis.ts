/**
 * Revocation cut-offs in Redis, one key per subject (`<prefix>revoked:<kind>:<id>`, seconds), so
 * every broker and route node of a cluster refuses the same tokens. The key only ever rises (a Lua
 * max), so a late, older revocation never re-admits tokens. No expiry: backends may sign tokens of
 * any lifetime, and a key per revoked subject is small.
 */
import type { Revocations, TokenSubjectKind } from './index.ts'
import { connect, DEFAULT_PREFIX, redisFailure, Script, type Connection, type RedisAdapterOptions } from '../redis.ts'

// KEYS: key · ARGV: atSeconds → the cut-off now stored
const raise = new Script(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local at = tonumber(ARGV[1])
if at > cur then redis.call('SET', KEYS[1], ARGV[1]) return at end
return cur
`)

export class RedisRevocations implements Revocations {
  private readonly conn: Connection
  private readonly prefix: string

  constructor(opts: RedisAdapterOptions) {
    this.conn = connect(opts)
    this.prefix = `${opts.prefix ?? DEFAULT_PREFIX}revoked:`
  }

  async revoke(kind: TokenSubjectKind, id: string, atSeconds: number): Promise<void> {
    await raise.run(this.conn.client, [`${this.prefix}${kind}:${id}`], [Math.floor(atSeconds)])
  }

  async revokedAt(kind: TokenSubjectKind, id: string): Promise<number> {
    const v = await this.conn.client.get(`${this.prefix}${kind}:${id}`).catch(redisFailure)
    return v === null ? 0 : Number(v)
  }

  close(): Promise<void> {
    return this.conn.release()
  }
}
