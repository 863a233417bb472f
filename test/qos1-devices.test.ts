/**
 * qos 1 device pushes (rule 4): MQTT QoS 1 on persistent sessions. A device that was offline
 * (clean session off) gets `queued`, and receives the push when it reconnects — to another broker,
 * through the shared aedes persistence (memory in one process, Redis across processes).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import mqtt, { type MqttClient } from 'mqtt'
import { startRedis, type RedisServer } from './support/servers.ts'
import { startNodes, type StoreKind, type TestNodes } from './support/nodes.ts'
import { postJson } from './support/wire.ts'
import { eventually } from './support/wait.ts'

let redis: RedisServer
beforeAll(async () => { redis = await startRedis() })
afterAll(async () => { await redis?.stop() })

const opened: Array<{ close(): unknown }> = []
const devices: MqttClient[] = []
afterEach(async () => {
  await Promise.all(devices.splice(0).map((d) => d.endAsync(true).catch(() => {})))
  for (const c of opened.splice(0).reverse()) await c.close()
})

describe.each(['memory', 'redis'] as StoreKind[])('qos 1 device pushes (%s)', (kind) => {
  async function device(n: TestNodes, broker: number, clientId: string, got: string[]): Promise<MqttClient> {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${n.brokers[broker].ports.mqttPort}`, {
      clientId, clean: false, protocolVersion: 4, keepalive: 5, reconnectPeriod: 0,
    })
    devices.push(c)
    c.on('message', (_t, payload) => got.push(payload.toString()))
    await eventually(async () => (await n.adapters.presence.devices.get(clientId))?.brokerId === `b${broker + 1}`)
    return c
  }
  const pushTo = async (n: TestNodes, id: string, body: object) => (await postJson(`${n.routeUrl}/v1/push/devices/${id}`, body)).body.results[0].status

  it('an offline persistent device gets `queued` and receives the push on reconnect, on another broker', async () => {
    const n = await startNodes(kind, {}, { brokers: 2, redisUrl: redis.url })
    opened.push(n)
    const got: string[] = []
    const first = await device(n, 0, 'sleeper', got)
    expect(await pushTo(n, 'sleeper', { payload: 'while awake', qos: 1 })).toBe('delivered')
    await eventually(() => got.includes('while awake'))
    await first.endAsync()
    await eventually(async () => !(await n.adapters.presence.devices.get('sleeper')))

    expect(await pushTo(n, 'sleeper', { payload: 'while asleep', qos: 1 })).toBe('queued')
    expect(await pushTo(n, 'sleeper', { payload: 'fire and forget' })).toBe('offline')
    await device(n, 1, 'sleeper', got)
    await eventually(() => got.includes('while asleep'), 3_000)
    expect(await pushTo(n, 'sleeper', { payload: 'marker', qos: 1 })).toBe('delivered')
    await eventually(() => got.includes('marker'))
    // The queued push exactly once, before the marker; the qos 0 one was never sent.
    expect(got).toEqual(['while awake', 'while asleep', 'marker'])
  })
})
