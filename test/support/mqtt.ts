/**
 * Real MQTT clients (the `mqtt` package) for tests: connect with a token, collect what arrives,
 * and the outcome of a refused CONNECT or SUBSCRIBE. Clients are ended after each test.
 */
import { afterEach } from 'vitest'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import type { Adapters } from '../../adapters/index.ts'
import { eventually, sleep } from './wait.ts'

const clients: MqttClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)))
})

export interface Received { topic: string; payload: string; retain: boolean }

/** Connects (TCP, or WebSocket for a ws:// url); `token` is sent as the password. */
export async function connectMqtt(url: string, clientId: string, token?: string, opts: IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, {
    clientId, keepalive: 5, reconnectPeriod: 0, connectTimeout: 3000,
    ...(token !== undefined && { username: clientId, password: token }), ...opts,
  })
  clients.push(c)
  return c
}

/** The CONNACK return code of a refused CONNECT (0 when it was accepted), or the error message. */
export async function connackOf(url: string, clientId: string, token?: string, opts: IClientOptions = {}): Promise<number | string> {
  try {
    await connectMqtt(url, clientId, token, opts)
    return 0
  } catch (err) {
    const code = (err as { code?: unknown }).code
    return typeof code === 'number' ? code : (err as Error).message
  }
}

/** Everything a client receives, from now on. */
export function inbox(c: MqttClient): Received[] {
  const got: Received[] = []
  c.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain }))
  return got
}

/** The granted QoS of each filter (128 = refused). */
export async function granted(c: MqttClient, filters: string[]): Promise<number[]> {
  try {
    return (await c.subscribeAsync(filters, { qos: 1 })).map((s) => s.qos)
  } catch (err) {
    // mqtt.js rejects a SUBACK holding any 0x80, with the packet attached.
    const packet = (err as { packet?: { granted?: number[] } }).packet
    if (!packet?.granted) throw err
    return packet.granted
  }
}

/** Waits until the device's server-side subscriptions are in place (presence is claimed after them). */
export async function deviceReady(adapters: Adapters, id: string): Promise<void> {
  await eventually(() => adapters.presence.devices.get(id), 3000, `${id} online`, 10)
}

/**
 * Waits until `got` holds a message on `marker` (sent after the messages under test, on the same
 * path), then a little longer, so that "never arrived" means something.
 */
export async function settled(got: Received[], marker: string): Promise<Received[]> {
  await eventually(() => got.some((m) => m.topic === marker), 3000, `marker ${marker}`)
  await sleep(150)
  return got
}

/** Resolves when the client's connection closes. */
export function closed(c: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (!c.connected) return resolve()
    c.once('close', () => resolve())
  })
}

/**
 * Publishes probes on `topic` through `pub` until `got` holds one: a new subscription is then live
 * on every node (the Redis mq subscribes asynchronously, after the SUBACK).
 */
export async function subscriptionLive(pub: MqttClient, got: Received[], topic: string): Promise<void> {
  await eventually(async () => {
    await pub.publishAsync(topic, 'probe', { qos: 0 })
    await sleep(20)
    return got.some((m) => m.topic === topic && m.payload === 'probe')
  }, 5000, `a probe on ${topic}`, 0)
}
