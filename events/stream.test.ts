/**
 * The Redis stream sink against a real Redis, read back the way README's consumer example reads
 * it (a consumer group: XGROUP CREATE … MKSTREAM, XREADGROUP, XACK).
 */
import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import pino from 'pino'
import { Events, type CimEvent } from './index.ts'
import { RedisStreamSink } from './stream.ts'
import { createEvents } from './create.ts'
import { RedisEventStream } from '../adapters/events/redis.ts'
import { MemoryEventLog } from '../adapters/events/memory.ts'
import { defaults } from '../config.ts'
import { freePort, startRedis, type RedisServer } from '../test/support/servers.ts'
import { eventually } from '../test/support/wait.ts'

const logger = pino({ level: 'silent' })
let redis: RedisServer
beforeAll(async () => { redis = await startRedis() })
afterAll(async () => { await redis?.stop() })
const opened: Array<{ close(): Promise<unknown> }> = []
afterEach(async () => { for (const o of opened.splice(0).reverse()) await o.close() })

describe('RedisStreamSink', () => {
  it('XADDs every event with type, id, ts and event fields, readable by a consumer group', async () => {
    const key = `cim:t-${randomUUID()}:events`
    const writer = new RedisEventStream({ redis: redis.url })
    const sink = new RedisStreamSink({ writer, key, maxLen: 1000, bufferMax: 1000, logger })
    opened.push(writer, sink)
    const events = new Events('node-a')
    events.addSink(sink)
    for (let i = 0; i < 30; i++) events.emit({ type: 'user.online', userId: i, userName: `u${i}`, connId: `c${i}` })
    await eventually(() => sink.stats().sent === 30, 3_000, '30 in the stream')

    // README "Events to your backend", Redis stream — the consumer as a backend writes it:
    const consumer = new Redis(redis.url)
    opened.push({ close: () => consumer.quit() })
    await consumer.xgroup('CREATE', key, 'backend', '0', 'MKSTREAM').catch((err: Error) => { if (!err.message.startsWith('BUSYGROUP')) throw err })
    const got: CimEvent[] = []
    for (;;) {
      const reply = await consumer.xreadgroup('GROUP', 'backend', 'worker-1', 'COUNT', 100, 'BLOCK', 100, 'STREAMS', key, '>') as Array<[string, Array<[string, string[]]>]> | null
      if (!reply) break
      for (const [, entries] of reply) {
        for (const [id, fields] of entries) {
          const f = Object.fromEntries(fields.reduce<string[][]>((acc, v, i) => (i % 2 ? acc[acc.length - 1]!.push(v) : acc.push([v]), acc), []))
          const event = JSON.parse(f.event!) as CimEvent
          expect([f.type, f.id, Number(f.ts)]).toEqual([event.type, event.id, event.ts])
          got.push(event)
          await consumer.xack(key, 'backend', id)
        }
      }
    }
    expect(got.map((e) => (e.type === 'user.online' ? e.userId : -1))).toEqual(Array.from({ length: 30 }, (_, i) => i))
    expect(got[0]).toMatchObject({ type: 'user.online', node: 'node-a', userName: 'u0' })
  })

  it('drops and counts events beyond its buffer while Redis is unreachable', async () => {
    const writer = new RedisEventStream({ redis: `redis://127.0.0.1:${await freePort()}` })
    const sink = new RedisStreamSink({ writer, key: 'cim:events', maxLen: 1000, bufferMax: 10, logger, closeWaitMs: 200 })
    opened.push(writer, sink)
    const events = new Events('node-a')
    events.addSink(sink)
    for (let i = 0; i < 30; i++) events.emit({ type: 'device.connected', clientId: `d${i}` })
    expect(sink.stats()).toMatchObject({ queued: 10, dropped: 20, sent: 0 })
    await sink.close()
    // What Redis never took is counted too: nothing vanishes uncounted.
    expect(sink.stats()).toMatchObject({ sent: 0, dropped: 30 })
  })
})

describe('createEvents', () => {
  it('builds the sinks the settings ask for, with their type filters', async () => {
    const key = `cim:t-${randomUUID()}:events`
    const stream = new RedisEventStream({ redis: redis.url })
    opened.push(stream)
    const settings = { ...defaults, webhookUrl: 'http://127.0.0.1:9/hook', webhookEvents: 'device.*', eventStream: key, eventStreamEvents: 'user.online' }
    const events = createEvents(settings, { eventLog: new MemoryEventLog(), eventStream: stream }, logger, 'node-a', { closeWaitMs: 100 })
    opened.push(events)
    expect(events.sinkStats().map((s) => s.sink)).toEqual(['webhook', 'stream'])
    events.emit({ type: 'user.online', userId: 1, userName: 'a', connId: 'c' })
    events.emit({ type: 'user.offline', userId: 1, connId: 'c', reason: 'closed' })
    events.emit({ type: 'device.connected', clientId: 'd1' })
    await eventually(() => events.sinkStats()[1]!.stats.sent === 1, 3_000, 'one in the stream')
    const [webhook] = events.sinkStats()
    expect(webhook!.stats.queued).toBe(1)
  })

  it('refuses at start: a stream without Redis, an unknown event type, a bad URL', () => {
    const log = { eventLog: new MemoryEventLog() }
    expect(() => createEvents({ ...defaults, eventStream: 'cim:events' }, log, logger, 'n')).toThrow(/--event-stream cim:events needs --redis/)
    expect(() => createEvents({ ...defaults, webhookUrl: 'http://x/', webhookEvents: 'device.up' }, log, logger, 'n')).toThrow(/unknown event type "device.up"/)
    expect(() => createEvents({ ...defaults, webhookUrl: 'not a url' }, log, logger, 'n')).toThrow(/--webhook-url: not a URL/)
    expect(createEvents(defaults, log, logger, 'n').active).toBe(false)
  })
})
