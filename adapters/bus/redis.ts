/**
 * The bus over Redis pub/sub, as the socket.io Redis adapter does it: publish remotely, deliver
 * locally, never republish. Each RedisBus has one subscriber connection (SUBSCRIBE puts a Redis
 * connection in subscriber mode) and publishes on a command connection, which may be shared.
 *
 * Messages are JSON. Redis channel = prefix + bus channel. A payload that is not a JSON object
 * with a `type` (e.g. an MQTT publish that mqemitter-redis put on a same-named channel, which is
 * msgpack) is dropped and reported, never delivered.
 *
 * After a Redis restart ioredis reconnects both connections and re-subscribes every channel
 * (`autoResubscribe`); messages published while the subscriber was away are lost, as with any
 * pub/sub — at-least-once delivery is the inbox's job.
 */
import type { Redis } from 'ioredis'
import type { Bus, BusHandler, BusMessage, Unsubscribe } from './index.ts'
import { connect, DEFAULT_PREFIX, openRedis, quit, redisFailure, SUBSCRIBER_OPTIONS, type Connection, type RedisAdapterOptions } from '../redis.ts'

export interface RedisBusOptions extends RedisAdapterOptions {
  /** A handler threw or a payload was not a bus message. Default: a process warning. */
  onDeliveryError?: (err: Error, channel: string) => void
}

export class RedisBus implements Bus {
  private readonly pub: Connection
  private readonly sub: Redis
  private readonly prefix: string
  private readonly handlers = new Map<string, Set<BusHandler>>()
  private readonly onDeliveryError: (err: Error, channel: string) => void
  private closed = false

  constructor(opts: RedisBusOptions) {
    this.pub = connect(opts)
    this.prefix = opts.prefix ?? DEFAULT_PREFIX
    this.onDeliveryError = opts.onDeliveryError ?? ((err, channel) => process.emitWarning(`bus channel ${channel}: ${err.message}`))
    // The subscriber is always our own connection, even when the command connection is shared.
    // No ready check on it: ioredis (5.8.2+, redis/ioredis#2037) writes a SUBSCRIBE issued between
    // TCP connect and ready at once, then sends its ready check (INFO), which subscriber mode
    // forbids; the check fails, the connection is torn down and the subscription never delivers.
    if (typeof opts.redis === 'string') {
      this.sub = openRedis(opts.redis, opts.onError, SUBSCRIBER_OPTIONS)
    } else {
      this.sub = opts.redis.duplicate(SUBSCRIBER_OPTIONS)
      this.sub.on('error', opts.onError ?? (() => {}))
    }
    this.sub.on('message', (channel: string, payload: string) => this.deliver(channel, payload))
  }

  private deliver(redisChannel: string, payload: string): void {
    const channel = redisChannel.slice(this.prefix.length)
    const set = this.handlers.get(channel)
    if (!set || set.size === 0) return
    let message: BusMessage
    try {
      message = JSON.parse(payload) as BusMessage
      if (message === null || typeof message !== 'object' || typeof message.type !== 'string') throw new Error('not a bus message')
    } catch (err) {
      this.onDeliveryError(new Error(`dropped a payload that is not a bus message: ${(err as Error).message}`), channel)
      return
    }
    // A snapshot: a handler that unsubscribes (or subscribes) while we deliver changes nothing here.
    for (const handler of [...set]) {
      try {
        handler(message)
      } catch (err) {
        this.onDeliveryError(err as Error, channel)
      }
    }
  }

  async publish(channel: string, message: BusMessage): Promise<number> {
    // PUBLISH answers how many subscriber connections got it: each bus node has one.
    return await this.pub.client.publish(this.prefix + channel, JSON.stringify(message)).catch(redisFailure)
  }

  async subscribe(channel: string, handler: BusHandler): Promise<Unsubscribe> {
    if (this.closed) throw new Error('bus is closed')
    let set = this.handlers.get(channel)
    if (!set) this.handlers.set(channel, (set = new Set()))
    const first = set.size === 0
    set.add(handler)
    // Commands on one connection run in order, so SUBSCRIBE/UNSUBSCRIBE issued as the handler
    // count crosses zero leave Redis in the state the last of them asked for.
    if (first) {
      try {
        await this.sub.subscribe(this.prefix + channel)
      } catch (err) {
        set.delete(handler)
        if (set.size === 0) this.handlers.delete(channel)
        redisFailure(err)
      }
    }
    let active = true
    return async () => {
      if (!active) return
      active = false
      set.delete(handler)
      if (set.size === 0 && this.handlers.get(channel) === set) {
        this.handlers.delete(channel)
        if (!this.closed) await this.sub.unsubscribe(this.prefix + channel).catch(redisFailure)
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.handlers.clear()
    await Promise.all([quit(this.sub), this.pub.release()])
  }
}
