/**
 * The webhook against a real HTTP receiver (test/support/receiver.ts): batching, the signature a
 * backend checks with README's recipe, retries while the receiver is down, order per source, dead
 * letters, the memory bound, and — over a real Redis — another node taking over pending events.
 */
import { createHmac, timingSafeEqual, randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import pino from 'pino'
import { Events, sourceOf, type CimEvent } from './index.ts'
import { WebhookSink, type WebhookOptions } from './webhook.ts'
import { verify } from './signature.ts'
import { MemoryEventLog } from '../adapters/events/memory.ts'
import { RedisEventLog } from '../adapters/events/redis.ts'
import type { EventLog } from '../adapters/events/index.ts'
import { startRedis, type RedisServer } from '../test/support/servers.ts'
import { Receiver } from '../test/support/receiver.ts'
import { eventually, sleep } from '../test/support/wait.ts'

const SECRET = 'test-secret'

const logger = pino({ level: 'silent' })
const opened: Array<{ close(): Promise<unknown> }> = []
afterEach(async () => { for (const o of opened.splice(0).reverse()) await o.close() })

function sink(log: EventLog, url: string, over: Partial<WebhookOptions> = {}): WebhookSink {
  const s = new WebhookSink({
    url, secret: SECRET, batchSize: 10, batchMs: 30, timeoutMs: 1_000, maxAttempts: 100, queueMax: 10_000,
    log, nodeId: 'node-a', logger, leaseMs: 1_000, retryBaseMs: 20, retryCapMs: 100, closeWaitMs: 1_000, ...over,
  })
  opened.push(s)
  return s
}

function emitter(s: WebhookSink, node = 'node-a'): Events {
  const events = new Events(node)
  events.addSink(s)
  return events
}

/** Two sources interleaved: device d1's uplinks and user 7's online/offline, `n` each. */
function emitInterleaved(events: Events, n: number, from = 0): void {
  for (let i = from; i < from + n; i++) {
    events.emit({ type: 'device.uplink', clientId: 'd1', topic: 'devices/d1/up', payload: Buffer.from(String(i)).toString('base64'), qos: 1 })
    events.emit({ type: 'user.online', userId: 7, userName: `u7-${i}`, connId: `c${i}` })
  }
}

/** Each source's events in the order received (first arrival of each id), as their sequence number. */
function perSource(received: CimEvent[]): Record<string, number[]> {
  const seen = new Set<string>()
  const out: Record<string, number[]> = {}
  for (const e of received) {
    if (seen.has(e.id)) continue
    seen.add(e.id)
    const n = e.type === 'device.uplink' ? Number(Buffer.from(e.payload, 'base64').toString()) : e.type === 'user.online' ? Number(e.userName.split('-')[1]) : -1
    ;(out[sourceOf(e)] ??= []).push(n)
  }
  return out
}

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i)

describe('webhook (memory log)', () => {
  it('POSTs signed JSON batches of at most batchSize that the README recipe verifies', async () => {
    const backend = await Receiver.start()
    opened.push(backend)
    const events = emitter(sink(new MemoryEventLog(), backend.url))
    emitInterleaved(events, 12)
    await eventually(() => backend.events.length === 24, 5_000, '24 events')
    for (const r of backend.answered) {
      expect(r.headers['content-type']).toBe('application/json')
      expect(r.events.length).toBeLessThanOrEqual(10)
      expect(Object.keys(JSON.parse(r.body) as object)).toEqual(['events'])
      // README "Events to your backend", Verifying a request — the recipe as a backend writes it:
      const timestamp = r.headers['x-cim-timestamp'] as string
      const expected = 'sha256=' + createHmac('sha256', SECRET).update(`${timestamp}.${r.body}`).digest('hex')
      const given = String(r.headers['x-cim-signature'])
      expect(given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected))).toBe(true)
      expect(Math.abs(Date.now() / 1000 - Number(timestamp))).toBeLessThan(300)
      expect(verify(SECRET, timestamp, r.body, given)).toBe(true)
      expect(verify('another-secret', timestamp, r.body, given)).toBe(false)
      expect(verify(SECRET, timestamp, r.body.replace('"events"', '"Events"'), given)).toBe(false)
      expect(verify(SECRET, String(Number(timestamp) - 1), r.body, given)).toBe(false)
    }
    const e = backend.events[0]!
    expect(e).toMatchObject({ type: 'device.uplink', node: 'node-a', clientId: 'd1', qos: 1 })
    expect(typeof e.id).toBe('string')
    expect(typeof e.ts).toBe('number')
    expect(perSource(backend.events)).toEqual({ 'device:d1': range(12), 'user:7': range(12) })
  })

  it('loses nothing while the receiver is down and keeps each source in order', async () => {
    const backend = await Receiver.start(false)
    opened.push(backend)
    const s = sink(new MemoryEventLog(), backend.url)
    const events = emitter(s)
    emitInterleaved(events, 30)
    await eventually(() => s.stats().retries >= 3, 5_000, 'retries while down')
    emitInterleaved(events, 20, 30)
    expect(s.stats().sent).toBe(0)
    await backend.up()
    await eventually(() => s.stats().sent === 100, 10_000, 'all sent after the receiver came up')
    expect(perSource(backend.events)).toEqual({ 'device:d1': range(50), 'user:7': range(50) })
    expect(s.stats()).toMatchObject({ queued: 0, dropped: 0, deadLetters: 0 })
  })

  it('makes a batch dead letters after webhookMaxAttempts tries', async () => {
    const backend = await Receiver.start()
    opened.push(backend)
    backend.status = 500
    const log = new MemoryEventLog()
    const s = sink(log, backend.url, { maxAttempts: 3 })
    const events = emitter(s)
    emitInterleaved(events, 2)
    await eventually(() => s.stats().deadLetters === 4, 5_000, 'dead letters')
    // Every try carried the events; nothing was delivered.
    expect(backend.answered.length).toBeGreaterThanOrEqual(3)
    expect(s.stats()).toMatchObject({ sent: 0, deadLetters: 4 })
    const dead = await log.readDeadLetters(10)
    expect(dead.map((d) => d.reason)).toEqual(['HTTP 500', 'HTTP 500', 'HTTP 500', 'HTTP 500'])
    // The partition goes on: later events are delivered once the backend answers again.
    backend.status = 200
    emitInterleaved(events, 1, 5)
    await eventually(() => s.stats().sent === 2, 5_000, 'later events sent')
  })

  it('never makes emit() wait on a slow receiver', async () => {
    const backend = await Receiver.start()
    opened.push(backend)
    backend.delayMs = 5_000
    const s = sink(new MemoryEventLog(), backend.url, { timeoutMs: 10_000, closeWaitMs: 100 })
    const events = emitter(s)
    emitInterleaved(events, 5)
    await eventually(() => s.stats().pending > 0, 2_000, 'a POST in flight')
    // The receiver holds a request for 5 s; emitting goes on meanwhile, returning at once.
    emitInterleaved(events, 500, 5)
    expect(backend.answered.length).toBe(0)
    expect(s.stats().buffered + s.stats().pending).toBeGreaterThan(500)
  })

  it('drops and counts events beyond webhookQueueMax', async () => {
    const backend = await Receiver.start(false)
    opened.push(backend)
    const s = sink(new MemoryEventLog(50), backend.url, { queueMax: 50, closeWaitMs: 100 })
    const events = emitter(s)
    emitInterleaved(events, 20)
    await eventually(() => s.stats().buffered === 0, 2_000, 'in the log')
    emitInterleaved(events, 20, 20)
    await eventually(() => s.stats().dropped === 30 && s.stats().buffered === 0, 2_000, '30 dropped')
    expect(s.stats().queued).toBe(50)
  })
})

describe('webhook (Redis log)', () => {
  let redis: RedisServer
  beforeAll(async () => { redis = await startRedis() })
  afterAll(async () => { await redis?.stop() })

  function redisLog(prefix: string): RedisEventLog {
    const log = new RedisEventLog({ redis: redis.url, prefix })
    opened.push(log)
    return log
  }

  it('leaves events pending at close to another node, which delivers them in order', async () => {
    const prefix = `cim:t-${randomUUID()}:`
    const backend = await Receiver.start(false)
    opened.push(backend)
    const a = sink(redisLog(prefix), backend.url, { nodeId: 'node-a' })
    emitInterleaved(emitter(a, 'node-a'), 25)
    await eventually(() => a.stats().buffered === 0 && a.stats().retries > 0, 5_000, 'in Redis, being retried')
    await a.close()
    expect(a.stats()).toMatchObject({ sent: 0, dropped: 0 })

    const b = sink(redisLog(prefix), backend.url, { nodeId: 'node-b' })
    await sleep(200)
    await backend.up()
    await eventually(() => b.stats().sent === 50, 10_000, 'delivered by node-b')
    expect(perSource(backend.events)).toEqual({ 'device:d1': range(25), 'user:7': range(25) })
    expect(new Set(backend.events.map((e) => e.node))).toEqual(new Set(['node-a']))
  })

  it('shares partitions between live nodes: each event delivered once, each source in order', async () => {
    const prefix = `cim:t-${randomUUID()}:`
    const backend = await Receiver.start()
    opened.push(backend)
    const a = sink(redisLog(prefix), backend.url, { nodeId: 'node-a' })
    const b = sink(redisLog(prefix), backend.url, { nodeId: 'node-b' })
    const [ea, eb] = [emitter(a, 'node-a'), emitter(b, 'node-b')]
    for (let i = 0; i < 40; i++) {
      ea.emit({ type: 'device.uplink', clientId: `d${i % 4}`, topic: 't', payload: Buffer.from(String(i)).toString('base64'), qos: 0 })
      eb.emit({ type: 'device.uplink', clientId: `e${i % 4}`, topic: 't', payload: Buffer.from(String(i)).toString('base64'), qos: 0 })
    }
    await eventually(() => a.stats().sent + b.stats().sent === 80, 10_000, '80 delivered')
    await sleep(200)
    expect(backend.events.length).toBe(80)
    for (const [source, seq] of Object.entries(perSource(backend.events))) {
      expect(seq, source).toEqual([...seq].sort((x, y) => x - y))
    }
    expect(a.stats().partitions + b.stats().partitions).toBe(16)
  })
})
