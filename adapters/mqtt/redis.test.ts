import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import { Aedes, type AedesPublishPacket } from 'aedes'
import { redisMqttBackend, type RedisMqttBackend } from './redis.ts'
import { RedisBus } from '../bus/redis.ts'
import { startRedis, type RedisServer } from '../../test/support/servers.ts'
import { eventually } from '../../test/support/wait.ts'

let redis: RedisServer
beforeAll(async () => { redis = await startRedis() })
afterAll(async () => { await redis?.stop() })

const publish = (broker: Aedes, topic: string, payload: string, retain: boolean) => new Promise<void>((resolve, reject) =>
  broker.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain, dup: false }, (err) => (err ? reject(err) : resolve())))

describe('Redis MQTT backend', () => {
  it('two aedes nodes share retained messages and publishes; bus traffic on the same Redis does not disturb them', async () => {
    const prefix = `cim:t-${randomUUID()}:`
    const backend: RedisMqttBackend = redisMqttBackend({ redis: redis.url, prefix })
    const bus = new RedisBus({ redis: redis.url, prefix })
    const [a, b] = await Promise.all(['a', 'b'].map((id) => Aedes.createBroker({ id, ...backend.factory() })))
    try {
      // b listens to everything, as a device subscribed to `#` would: mqemitter-redis PSUBSCRIBEs `*`.
      const seen: string[] = []
      await new Promise<void>((resolve) => b.subscribe('#', (p: AedesPublishPacket, cb) => {
        if (!p.topic.startsWith('$SYS')) seen.push(`${p.topic}=${String(p.payload)}`)
        cb()
      }, resolve))
      await bus.publish('cim:broadcast', { type: 'broadcast', text: 'not for mqtt' })
      await publish(a, 'devices/d1/state', 'on', true)
      await publish(a, 'devices/d1/live', 'ping', false)

      await eventually(() => seen.length >= 2, 5_000)
      expect(seen).toEqual(['devices/d1/state=on', 'devices/d1/live=ping'])

      // The retained message a stored is in b's persistence (one Redis, shared).
      const persistence = (b as unknown as { persistence: { createRetainedStream(p: string): AsyncIterable<AedesPublishPacket> } }).persistence
      const retained: string[] = []
      for await (const p of persistence.createRetainedStream('devices/#')) retained.push(`${p.topic}=${String(p.payload)}`)
      expect(retained).toEqual(['devices/d1/state=on'])
    } finally {
      await Promise.all([a, b].map((x) => new Promise<void>((r) => x.close(() => r()))))
      await backend.close()
      await bus.close()
    }
  })
})
