/**
 * What the Redis adapters share: how they get a connection, their key prefix, how they fail when
 * Redis cannot serve (`redisFailure`), and Lua scripts run by SHA with a fallback to EVAL (the
 * script cache is empty after a Redis restart).
 *
 * The scripts build some keys from the prefix inside Lua, so they target a single Redis server
 * (or a primary with replicas), not Redis Cluster.
 */
import { createHash } from 'node:crypto'
import { Redis, ReplyError, type RedisOptions } from 'ioredis'
import { codedError, isCatalogued } from '../errors.ts'

export interface RedisAdapterOptions {
  /**
   * A Redis URL, for which the adapter opens its own connection and closes it in `close()`, or an
   * ioredis client shared with other adapters, which `close()` leaves open.
   */
  redis: string | Redis
  /** Prepended to every key and channel. Default `cim:`. */
  prefix?: string
  /**
   * Connection errors of connections the adapter opened. ioredis reconnects by itself and queues
   * commands meanwhile, so the default ignores them (commands still fail with their own errors).
   */
  onError?: (err: Error) => void
}

export const DEFAULT_PREFIX = 'cim:'

export interface Connection {
  client: Redis
  /** Closes the connection if this adapter opened it. */
  release(): Promise<void>
}

/**
 * Options of a connection that only SUBSCRIBEs. No ready check: a subscription made while the
 * connection is still in its handshake puts it in subscriber mode before ioredis sends INFO for
 * the check, which then fails and drops the connection (redis/ioredis#2037). SUBSCRIBE is
 * allowed while Redis loads its data, so the check protects nothing here.
 */
export const SUBSCRIBER_OPTIONS: RedisOptions = { enableReadyCheck: false }

/**
 * The longest wait between reconnect attempts (ioredis' default grows to 2 s). Brokers re-write
 * their presence as soon as Redis answers again (adapters/presence, `onReconnect`), and the README's
 * heal target ("Durable data") counts from then: a reconnect must not lag the restart by seconds.
 * An attempt against a Redis that is down costs one refused connect.
 */
const RECONNECT_MAX_MS = 500
const reconnectDelay = (attempt: number) => Math.min(attempt * 50, RECONNECT_MAX_MS)

export function openRedis(url: string, onError: (err: Error) => void = () => {}, options: RedisOptions = {}): Redis {
  const client = new Redis(url, { retryStrategy: reconnectDelay, ...options })
  client.on('error', onError)
  return client
}

export function connect(opts: RedisAdapterOptions): Connection {
  if (typeof opts.redis !== 'string') return { client: opts.redis, release: async () => {} }
  const client = openRedis(opts.redis, opts.onError)
  return { client, release: () => quit(client) }
}

/** QUIT when connected (lets pending replies arrive), otherwise drop the reconnect loop. */
export async function quit(client: Redis): Promise<void> {
  if (client.status === 'end') return
  if (client.status !== 'ready') { client.disconnect(); return }
  try { await client.quit() } catch { client.disconnect() }
}

/**
 * Error replies with which Redis says it cannot serve right now (loading its data after a restart,
 * a replica that lost its primary, a script running too long) rather than that a command is wrong.
 */
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|MASTERDOWN)\b/

/**
 * How every Redis adapter fails when Redis cannot serve: throws the catalogued BackendUnavailable
 * (CIM_BACKEND_UNAVAILABLE, 503) with the ioredis error as its `cause`, so callers (the route's
 * error handler, the broker's login) act on one code and never on a library's error names. Other
 * error replies (a wrong command, a script's bug) and our own coded errors are rethrown as they are.
 * Use as `await client.get(key).catch(redisFailure)`; Script.run applies it itself.
 */
export function redisFailure(err: unknown): never {
  const e = err as { code?: unknown; message?: unknown } | undefined
  if (isCatalogued(e?.code) || (err instanceof ReplyError && !UNAVAILABLE_REPLY.test(String(e?.message)))) throw err
  throw Object.assign(codedError('BackendUnavailable', `Redis: ${String(e?.message ?? err)}`), { cause: err })
}

export class Script {
  private readonly sha: string

  constructor(private readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex')
  }

  /** Runs the script; fails as `redisFailure` says. */
  async run(client: Redis, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args)
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) redisFailure(err)
    }
    return client.eval(this.lua, keys.length, ...keys, ...args).catch(redisFailure)
  }
}

/** Lua: the server's clock in ms (one clock for every node, so TTL scores agree with PX expiry). */
export const LUA_NOW_MS = `local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`

/** Where warnDurability reports: a pino logger will do. */
export interface DurabilityLog {
  warn(obj: object, msg: string): void
  debug(obj: object, msg: string): void
}

/**
 * Warns once, loudly, when the Redis server keeps nothing across a restart: neither AOF
 * (`appendonly yes`) nor RDB snapshots (`save` non-empty). Accounts, the qos 1 inbox, idempotency
 * records and MQTT sessions would then vanish with a restart (README "Durable data"). A server
 * that refuses CONFIG (managed Redis usually does) gets one debug line: we cannot tell. Never throws.
 */
export async function warnDurability(client: Redis, log: DurabilityLog | undefined): Promise<void> {
  if (!log) return
  try {
    // Two calls: CONFIG GET with several parameters needs Redis 7.
    const [, appendonly] = await client.config('GET', 'appendonly') as string[]
    const [, save] = await client.config('GET', 'save') as string[]
    if (appendonly === 'yes' || (save ?? '').trim() !== '') return
    log.warn({ appendonly, save }, 'REDIS HAS NO PERSISTENCE (appendonly no, save ""): a Redis restart loses every account, '
      + 'the qos 1 inbox, idempotency records and MQTT sessions; turn on AOF (appendonly yes, appendfsync everysec), see README "Durable data"')
  } catch (err) {
    log.debug({ err: (err as Error).message }, 'Redis refused CONFIG GET; its persistence settings are not checked')
  }
}
