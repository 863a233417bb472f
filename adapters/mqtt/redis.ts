/**
 * The MQTT backend over Redis: mqemitter-redis carries publishes between the aedes instances of
 * every broker node, aedes-persistence-redis keeps retained messages, sessions and QoS queues.
 * Both on the same Redis as the other adapters; persistence keys under `<prefix>mqtt:`.
 *
 * mqemitter-redis uses MQTT topics as Redis channels, and a device subscribing to `#` makes it
 * PSUBSCRIBE `*`, which also hears the bus's JSON messages. Its handler would decode those as
 * msgpack and crash on the result, so its subscriber connection only passes on payloads that
 * are msgpack maps — which is all mqemitter-redis itself ever publishes.
 */
import { createRequire } from 'node:module'
import type { EventEmitter } from 'node:events'
import type { Redis } from 'ioredis'
import mqemitterRedis from 'mqemitter-redis'
import type { MqttBackend, MqttBackendFactory, RetainedCaps, RetainedLedger, RetainedRefusal } from './index.ts'
import { DEFAULT_PREFIX, openRedis, Script, SUBSCRIBER_OPTIONS } from '../redis.ts'

// CommonJS without type declarations.
const require = createRequire(import.meta.url)
const redisPersistence = require('aedes-persistence-redis') as (opts: { conn: Redis; maxSessionDelivery?: number }) => AedesPersistence

interface AedesPersistence { destroy(): Promise<void> | undefined }
interface ClosableMq { close(cb: () => void): void; closed?: boolean }

export interface RedisMqttOptions {
  redis: string
  /** Persistence keys go under `<prefix>mqtt:`. Default `cim:`. */
  prefix?: string
  onError?: (err: Error) => void
}

export interface RedisMqttBackend {
  factory: MqttBackendFactory
  /** Closes every mq and persistence the factory made (aedes.close() closes only its mq). */
  close(): Promise<void>
}

/** msgpack map markers: fixmap 0x80–0x8f, map16 0xde, map32 0xdf. */
const isMsgpackMap = (b: Buffer) => b.length > 0 && ((b[0] & 0xf0) === 0x80 || b[0] === 0xde || b[0] === 0xdf)

function mqttSubscriber(url: string, onError?: (err: Error) => void): Redis {
  const sub = openRedis(url, onError, SUBSCRIBER_OPTIONS) // mqemitter-redis subscribes at once (see SUBSCRIBER_OPTIONS)
  const emit = sub.emit.bind(sub)
  sub.emit = ((event: string | symbol, ...args: unknown[]) => {
    if (event === 'messageBuffer' && !isMsgpackMap(args[1] as Buffer)) return false
    if (event === 'pmessageBuffer' && !isMsgpackMap(args[2] as Buffer)) return false
    return emit(event, ...args)
  }) as typeof sub.emit
  return sub
}

export function redisMqttBackend(opts: RedisMqttOptions): RedisMqttBackend {
  const made: Array<{ mq: ClosableMq; persistence: AedesPersistence; conn: Redis }> = []
  const keyPrefix = `${opts.prefix ?? DEFAULT_PREFIX}mqtt:`
  return {
    factory(): MqttBackend {
      const mq = mqemitterRedis({
        subConn: mqttSubscriber(opts.redis, opts.onError),
        pubConn: openRedis(opts.redis, opts.onError),
      }) as unknown as ClosableMq & { state: EventEmitter }
      // mqemitter-redis re-emits its connections' errors on `state`, an EventEmitter nobody
      // listens to: while Redis is down, the first refused reconnect threw an unhandled 'error'
      // and crashed the broker. ioredis reconnects by itself; report and carry on.
      mq.state.on('error', opts.onError ?? (() => {}))
      const conn = openRedis(opts.redis, opts.onError, { keyPrefix })
      const persistence = redisPersistence({ conn })
      made.push({ mq, persistence, conn })
      return { mq, persistence, retained: new RedisRetainedLedger(conn) }
    },
    async close() {
      await Promise.all(made.splice(0).map(async ({ mq, persistence, conn }) => {
        if (!mq.closed) await new Promise<void>((resolve) => mq.close(() => resolve()))
        // destroy() throws when called twice or before aedes set the persistence up; either way
        // the connection is ours to drop.
        try { await persistence.destroy() } catch { /* already destroyed or never set up */ }
        conn.disconnect()
      }))
    },
  }
}

/**
 * The retained tally in Redis, next to the persistence keys (`<prefix>mqtt:retained-sizes`, a hash
 * topic → payload bytes, and `<prefix>mqtt:retained-bytes`, their sum), shared by every node.
 * One script checks and records atomically, so two nodes cannot both take the last slot; the
 * message itself is stored afterwards by aedes-persistence-redis (see RetainedLedger: approximate).
 */
const ADMIT_RETAINED = `
local old = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
local bytes = tonumber(ARGV[2])
local held = math.max(old, 0)
if bytes == 0 then
  if old >= 0 then
    redis.call('HDEL', KEYS[1], ARGV[1])
    redis.call('DECRBY', KEYS[2], old)
  end
  return 0
end
if old < 0 and redis.call('HLEN', KEYS[1]) + 1 > tonumber(ARGV[3]) then return 1 end
if tonumber(redis.call('GET', KEYS[2]) or '0') - held + bytes > tonumber(ARGV[4]) then return 2 end
redis.call('HSET', KEYS[1], ARGV[1], bytes)
redis.call('INCRBY', KEYS[2], bytes - held)
return 0`

const REFUSALS: Array<RetainedRefusal | undefined> = [undefined, 'count', 'bytes']

const admitRetained = new Script(ADMIT_RETAINED)

export class RedisRetainedLedger implements RetainedLedger {
  /** `conn` carries the persistence key prefix (ioredis prefixes a script's KEYS too). */
  constructor(private readonly conn: Redis) {}

  async admit(topic: string, bytes: number, caps: RetainedCaps): Promise<RetainedRefusal | undefined> {
    const verdict = await admitRetained.run(this.conn, ['retained-sizes', 'retained-bytes'], [topic, bytes, caps.maxCount, caps.maxBytes])
    return REFUSALS[Number(verdict)]
  }

  async tally(): Promise<{ count: number; bytes: number }> {
    const [count, bytes] = await Promise.all([this.conn.hlen('retained-sizes'), this.conn.get('retained-bytes')])
    return { count, bytes: Number(bytes ?? 0) }
  }
}
