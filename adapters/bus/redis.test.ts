import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { runBusContract } from './contract.ts'
import { RedisBus } from './redis.ts'
import type { BusMessage } from './index.ts'
import { startRedis, type RedisServer } from '../../test/support/servers.ts'
import { eventually, sleep } from '../../test/support/wait.ts'

let redis: RedisServer
beforeAll(async () => { redis = await startRedis() })
afterAll(async () => { await redis?.stop() })

const freshPrefix = () => `cim:t-${randomUUID()}:`

runBusContract('redis', async () => {
  const prefix = freshPrefix()
  return [new RedisBus({ redis: redis.url, prefix }), new RedisBus({ redis: redis.url, prefix })]
})

describe('Redis bus', () => {
  it('one publish reaches every node subscribed to the channel once, and nobody republishes', async () => {
    const prefix = freshPrefix()
    const nodes = [0, 1, 2].map(() => new RedisBus({ redis: redis.url, prefix }))
    const spy = new Redis(redis.url)
    try {
      // Counts what actually crosses Redis on the channel: one PUBLISH, however many receive it.
      const raw: string[] = []
      await spy.subscribe(`${prefix}cim:broadcast`)
      spy.on('message', (_c: string, m: string) => raw.push(m))
      const got: number[] = []
      for (const [i, n] of nodes.entries()) await n.subscribe('cim:broadcast', () => got.push(i))
      await nodes[0].publish('cim:broadcast', { type: 'broadcast', text: 'hi' })
      await eventually(() => got.length === 3, 5_000)
      await sleep(100)
      expect(got.sort()).toEqual([0, 1, 2])
      expect(raw.length).toBe(1)
    } finally {
      await Promise.all(nodes.map((n) => n.close()))
      spy.disconnect()
    }
  })

  it('drops payloads that are not bus messages and keeps delivering', async () => {
    const prefix = freshPrefix()
    const errors: string[] = []
    const bus = new RedisBus({ redis: redis.url, prefix, onDeliveryError: (e) => errors.push(e.message) })
    const raw = new Redis(redis.url)
    try {
      const got: BusMessage[] = []
      await bus.subscribe('ch', (m) => got.push(m))
      await raw.publish(`${prefix}ch`, Buffer.from([0x82, 0xa2, 0x69, 0x64])) // msgpack, as mqemitter-redis sends
      await raw.publish(`${prefix}ch`, '42')
      await bus.publish('ch', { type: 'ok' })
      await eventually(() => got.length === 1, 5_000)
      expect(got).toEqual([{ type: 'ok' }])
      expect(errors.length).toBe(2)
    } finally {
      await bus.close()
      raw.disconnect()
    }
  })

  it('delivers to a subscription made during the connection handshake (redis/ioredis#2037)', async () => {
    // A route subscribes to its reply channel when it starts, which can fall between TCP connect
    // and ready; with ioredis' ready check on, that subscription never delivered anything.
    const prefix = freshPrefix()
    const shared = new Redis(redis.url)
    const a = new RedisBus({ redis: shared, prefix })
    const b = new RedisBus({ redis: redis.url, prefix })
    try {
      const sub = (a as unknown as { sub: Redis }).sub
      await new Promise((resolve) => sub.once('connect', resolve))
      const got: BusMessage[] = []
      await a.subscribe('ch', (m) => got.push(m))
      // The failure came once the handshake ended: publish after it, until one is heard.
      await eventually(() => sub.status === 'ready', 2_000).catch(() => {})
      await eventually(() => got.length > 0 || (void b.publish('ch', { type: 'hello' }), false), 2_000)
      expect(got[0]).toEqual({ type: 'hello' })
    } finally {
      await Promise.all([a.close(), b.close()])
      shared.disconnect()
    }
  })

  it('re-subscribes after Redis restarts and delivers again', async () => {
    const prefix = freshPrefix()
    const a = new RedisBus({ redis: redis.url, prefix })
    const b = new RedisBus({ redis: redis.url, prefix })
    try {
      const got: number[] = []
      await b.subscribe('ch', (m) => got.push(m.n as number))
      await a.publish('ch', { type: 't', n: 0 })
      await eventually(() => got.length === 1, 5_000)
      await redis.restart()
      // Pub/sub is at-most-once: publish until the re-subscribed connection hears one.
      let n = 0
      await eventually(() => got.length > 1 || (void a.publish('ch', { type: 't', n: ++n }).catch(() => {}), false), 10_000)
      expect(got[0]).toBe(0)
      expect(got[1]).toBeGreaterThan(0)
    } finally {
      await a.close()
      await b.close()
    }
  })
})
