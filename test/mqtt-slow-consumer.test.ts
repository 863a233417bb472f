/**
 * One MQTT subscriber that stops reading must not stall publishes for the others (issue 9, item 9;
 * README "Limits"). A stuck subscriber is a raw client whose socket is paused: the kernel buffers
 * fill, then the broker's write to it would block. Each client gets a bounded outgoing buffer
 * (mqttMaxQueuedBytes); past it the client is disconnected (CIM_SLOW_CONSUMER) and nobody waits.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startNodes, type TestNodes } from './support/nodes.ts'
import { connectMqtt, deviceReady, inbox } from './support/mqtt.ts'
import { rawConnect, type RawMqtt } from './support/raw-mqtt.ts'
import { postJson } from './support/wire.ts'
import { eventually } from './support/wait.ts'

const SECRET = 'mqtt-slow-consumer-test-secret-32b!!'
/** 200 × 48 KB ≈ 9.6 MB: more than loopback's socket buffers hold for a reader that stopped. */
const ROUNDS = 200
const BIG = 'x'.repeat(48_000)
/** A push answers in milliseconds; a stalled one waited deliveryTimeoutMs (2 s) and answered 503. */
const QUICK_MS = 1_000

let nodes: TestNodes | undefined
afterEach(async () => { await nodes?.close(); nodes = undefined })

async function timed<T>(f: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = Date.now()
  const value = await f()
  return { value, ms: Date.now() - t0 }
}

/** The broker let go of the stuck client; once it reads again, it finds its connection closed. */
async function stuckDropped(n: TestNodes, stuck: RawMqtt, clientId: string): Promise<void> {
  await eventually(async () => !(await n.adapters.presence.devices.get(clientId)), 5_000, `${clientId} dropped by the broker`)
  stuck.socket.resume()
  await eventually(() => stuck.isClosed(), 5_000, `${clientId} sees its connection closed`)
}

describe('a stuck MQTT subscriber', () => {
  it('on the broadcast topic: /v1/push/all keeps answering quickly, the others get everything, the stuck one is dropped', async () => {
    const n = nodes = await startNodes('memory')
    const port = n.brokers[0].ports.mqttPort
    const good = await connectMqtt(`mqtt://127.0.0.1:${port}`, 'good')
    const got = inbox(good)
    const { c: stuck } = await rawConnect(port, 'stuck')
    await deviceReady(n.adapters, 'good')
    await deviceReady(n.adapters, 'stuck')
    stuck.socket.pause()
    for (let i = 0; i < ROUNDS; i++) {
      const { value: res, ms } = await timed(() => postJson(`${n.routeUrl}/v1/push/all`, { message: `${i}:${BIG}`, users: false }))
      expect(res.status, JSON.stringify(res.body)).toBe(200)
      expect(ms).toBeLessThan(QUICK_MS)
    }
    await stuckDropped(n, stuck, 'stuck')
    await eventually(() => got.length >= ROUNDS, 10_000, 'every broadcast at the good device')
    expect(got.map((m) => Number(m.payload.split(':')[0]))).toEqual([...Array(ROUNDS).keys()])
  })

  it('on `#` (a monitor): device pushes answer `delivered` quickly, each delivered exactly once', async () => {
    const n = nodes = await startNodes('memory', { tokenSecret: SECRET })
    const port = n.brokers[0].ports.mqttPort
    const token = async (id: string, body?: object) => (await postJson(`${n.routeUrl}/v1/devices/${id}/token`, body ?? {})).body.token as string
    const good = await connectMqtt(`mqtt://127.0.0.1:${port}`, 'good', await token('good'))
    const got = inbox(good)
    const { c: stuck, returnCode } = await rawConnect(port, 'watcher', { username: 'watcher', password: Buffer.from(await token('watcher', { role: 'monitor' })) })
    expect(returnCode).toBe(0)
    stuck.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '#', qos: 1 }] })
    await stuck.next('suback')
    await deviceReady(n.adapters, 'good')
    stuck.socket.pause()
    for (let i = 0; i < ROUNDS; i++) {
      const { value: res, ms } = await timed(() => postJson(`${n.routeUrl}/v1/push/devices/good`, { payload: `${i}:${BIG}`, qos: 1 }))
      expect(res.status, JSON.stringify(res.body)).toBe(200)
      expect(res.body.results[0].status).toBe('delivered')
      expect(ms).toBeLessThan(QUICK_MS)
    }
    await stuckDropped(n, stuck, 'watcher')
    await eventually(() => got.length >= ROUNDS, 10_000, 'every push at the good device')
    await new Promise((r) => setTimeout(r, 200))
    expect(got.map((m) => Number(m.payload.split(':')[0]))).toEqual([...Array(ROUNDS).keys()])
  })
})
