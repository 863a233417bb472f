/**
 * Child process: MQTT clients (the mqtt package) — either a fleet of subscribers that count the
 * messages they receive on one topic, or one publisher that publishes QoS 0 under credit.
 * The progress/mode/report protocol matches cim-fleet.ts, so lib/fleet.ts drives both.
 */
import type { Socket } from 'node:net'
import mqtt, { type MqttClient } from 'mqtt'
import { CreditDriver, type DriveOptions } from './credit.ts'
import { emit, nowMs, serve } from './ipc.ts'

const clients: MqttClient[] = []
let received = 0
let lastAt = 0
let closed = 0
let lastReported = -1
let publisher: MqttClient | undefined
let driver: CreditDriver | undefined
let pub: { topic: string; payload: Buffer } | undefined

const onMessage = () => { received++; lastAt = nowMs() }

function open(url: string, clientId: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { clientId, clean: true, reconnectPeriod: 0, keepalive: 300 })
    c.once('connect', () => resolve(c))
    c.once('error', reject)
    c.on('close', () => { closed++ })
  })
}

setInterval(() => {
  if (received !== lastReported) {
    lastReported = received
    emit('progress', { received, lastAt })
  }
}, 10).unref()

serve({
  /** Connects `n` clients and subscribes each to `topic` at QoS 0. */
  async subscribe({ url, n, topic, idPrefix, concurrency = 100 }: { url: string; n: number; topic: string; idPrefix: string; concurrency?: number }) {
    let next = 0
    const worker = async () => {
      while (next < n) {
        const c = await open(url, `${idPrefix}${next++}`)
        await c.subscribeAsync(topic, { qos: 0 })
        c.on('message', onMessage)
        clients.push(c)
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker))
    return { subscribed: clients.length }
  },

  /** Connects `n` devices (ids idPrefix0…) that will publish uplink (see `uplink`). */
  async devices({ url, n, idPrefix, concurrency = 100 }: { url: string; n: number; idPrefix: string; concurrency?: number }) {
    let next = 0
    const worker = async () => {
      while (next < n) {
        const id = `${idPrefix}${next++}`
        const c = await open(url, id)
        ;(c as MqttClient & { uplinkTopic?: string }).uplinkTopic = `uplink/${id}/data`
        clients.push(c)
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker))
    return { connected: clients.length }
  },

  /** Every device publishes `perDevice` QoS 0 messages on its uplink topic, `gapMs` apart; resolves when all were written. */
  async uplink({ perDevice, payloadBytes = 64, gapMs = 0 }: { perDevice: number; payloadBytes?: number; gapMs?: number }) {
    const payload = Buffer.alloc(payloadBytes, 'u')
    const startAt = nowMs()
    for (let i = 0; i < perDevice; i++) {
      for (const c of clients) c.publish((c as MqttClient & { uplinkTopic?: string }).uplinkTopic!, payload, { qos: 0 })
      if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs))
      else await new Promise((r) => setImmediate(r))
    }
    return { sent: perDevice * clients.length, startAt }
  },

  async publisher({ url, topic, payloadBytes, clientId }: { url: string; topic: string; payloadBytes: number; clientId: string }) {
    publisher = await open(url, clientId)
    // QoS 0 publishes get no answer, so with Nagle on each small write would wait for the broker's
    // delayed ACK (up to 40 ms): the publisher, not the broker, would set the pace.
    ;(publisher.stream as unknown as Socket).setNoDelay(true)
    pub = { topic, payload: Buffer.alloc(payloadBytes, 'x') }
    return { ok: true }
  },

  publishOnce() {
    publisher!.publish(pub!.topic, pub!.payload, { qos: 0 })
  },

  async drive(opts: DriveOptions) {
    const c = publisher!
    const { topic, payload } = pub!
    driver = new CreditDriver(() => { c.publish(topic, payload, { qos: 0 }) }, opts)
    return driver.run()
  },

  credit(delivered: number) {
    driver?.credit(delivered)
  },

  mode() {
    received = 0
    lastAt = 0
    lastReported = -1
    return { connections: clients.length, closed }
  },

  report() {
    return { received, lastAt, closed, verified: 0, bad: 0 }
  },

  cpu() {
    return process.cpuUsage()
  },

  async close() {
    for (const c of clients) c.end(true)
    publisher?.end(true)
  },
})
