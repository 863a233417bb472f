/**
 * The MQTT node end to end: real mqtt@5 clients over TCP and WebSocket against createMqttNode()
 * on memory adapters.
 */
import { connect as netConnect } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import pino from 'pino'
import { createMemoryAdapters, type Adapters } from '../adapters/index.ts'
import { resolveConfig, type Config } from '../config.ts'
import { defaultAuth, type AuthHooks } from '../broker/auth.ts'
import { createMqttNode } from '../broker/mqtt/index.ts'
import type { MqttNode, UplinkMessage, UplinkRelay } from '../broker/types.ts'

const logger = pino({ level: 'silent' })

interface Started {
  node: MqttNode
  adapters: Adapters
  config: Config
  ports: { mqttPort: number; wsPort: number }
  uplinks: UplinkMessage[]
}

const opened: Array<() => Promise<void>> = []
const clients: MqttClient[] = []

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)))
  for (const close of opened.splice(0).reverse()) await close()
})

async function start(opts: { auth?: (c: Config, a: Adapters) => AuthHooks; uplink?: UplinkRelay } = {}): Promise<Started> {
  const adapters = createMemoryAdapters()
  const config = resolveConfig({ host: '127.0.0.1', advertiseHost: '127.0.0.1', mqttPort: 0, wsPort: 0 }, {})
  const uplinks: UplinkMessage[] = []
  const auth = opts.auth?.(config, adapters) ??
    defaultAuth({ accounts: adapters.accounts, devicePushTopic: config.devicePushTopic, broadcastTopic: config.broadcastTopic })
  const node = createMqttNode({
    config, adapters, logger, brokerId: 'b1', auth,
    uplink: opts.uplink ?? ((m) => { uplinks.push(m) }),
  })
  opened.push(async () => { await node.close(); await adapters.close() })
  const ports = await node.listen()
  return { node, adapters, config, ports, uplinks }
}

type Transport = 'tcp' | 'ws'
const urlOf = (s: Started, t: Transport) => (t === 'tcp' ? `mqtt://127.0.0.1:${s.ports.mqttPort}` : `ws://127.0.0.1:${s.ports.wsPort}`)

async function client(s: Started, t: Transport, opts: IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(urlOf(s, t), { keepalive: 5, reconnectPeriod: 0, connectTimeout: 2000, ...opts })
  clients.push(c)
  return c
}

interface Received { topic: string; payload: string; qos: number; retain: boolean }

/** Collects every message a client receives. */
function inbox(c: MqttClient): Received[] {
  const got: Received[] = []
  c.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain }))
  return got
}

/** Waits until the device's server-side subscriptions are in place (presence is claimed after them). */
async function deviceReady(s: Started, id: string): Promise<void> {
  await vi.waitFor(async () => expect(await s.adapters.presence.devices.get(id)).toBeDefined(), { timeout: 2000, interval: 10 })
}

describe.each<Transport>(['tcp', 'ws'])('MQTT over %s', (t) => {
  it('delivers QoS 0, 1 and 2 between clients at the lower of publish and subscribe QoS', async () => {
    const s = await start()
    const sub = await client(s, t, { clientId: 'sub' })
    const pub = await client(s, t, { clientId: 'pub' })
    const got = inbox(sub)
    await sub.subscribeAsync('sensors/#', { qos: 2 })
    await sub.subscribeAsync('low/#', { qos: 0 })
    await pub.publishAsync('sensors/a', 'q0', { qos: 0 })
    await pub.publishAsync('sensors/b', 'q1', { qos: 1 })
    await pub.publishAsync('sensors/c', 'q2', { qos: 2 })
    await pub.publishAsync('low/d', 'down', { qos: 2 })
    await vi.waitFor(() => expect(got).toHaveLength(4), { timeout: 2000 })
    const byTopic = Object.fromEntries(got.map((m) => [m.topic, m]))
    expect(byTopic['sensors/a']).toMatchObject({ payload: 'q0', qos: 0 })
    expect(byTopic['sensors/b']).toMatchObject({ payload: 'q1', qos: 1 })
    expect(byTopic['sensors/c']).toMatchObject({ payload: 'q2', qos: 2 })
    expect(byTopic['low/d']).toMatchObject({ payload: 'down', qos: 0 })
  })

  it('delivers server pushes to a device that never subscribed: its push topic and broadcast', async () => {
    const s = await start()
    const dev = await client(s, t, { clientId: 'dev-1' })
    const got = inbox(dev)
    await deviceReady(s, 'dev-1')
    await s.node.publish({ topic: 'devices/dev-1/push', payload: Buffer.from('hello'), qos: 1, retain: false })
    await s.node.publish({ topic: 'devices/broadcast', payload: Buffer.from('all'), qos: 0, retain: false })
    await s.node.publish({ topic: 'devices/dev-2/push', payload: Buffer.from('not mine'), qos: 1, retain: false })
    await s.node.publish({ topic: 'devices/dev-1/push', payload: Buffer.from('last'), qos: 1, retain: false })
    await vi.waitFor(() => expect(got.map((m) => m.payload)).toContain('last'), { timeout: 2000 })
    expect(got).toEqual(expect.arrayContaining([
      { topic: 'devices/dev-1/push', payload: 'hello', qos: 1, retain: false },
      { topic: 'devices/broadcast', payload: 'all', qos: 0, retain: false },
    ]))
    expect(got.map((m) => m.payload)).not.toContain('not mine')
  })
})

describe('MQTT counters (the broker\'s /metrics reads them)', () => {
  it('counts connections, messages in and out by QoS, and subscriptions', async () => {
    const s = await start()
    const sub = await client(s, 'tcp', { clientId: 'sub' })
    const pub = await client(s, 'tcp', { clientId: 'pub' })
    await deviceReady(s, 'sub')
    await deviceReady(s, 'pub')
    const got = inbox(sub)
    await sub.subscribeAsync('meters/1', { qos: 1 })
    await sub.subscribeAsync('meters/2', { qos: 0 })
    await pub.publishAsync('meters/1', 'a', { qos: 1 })
    await pub.publishAsync('meters/1', 'b', { qos: 0 })
    await pub.publishAsync('meters/2', 'c', { qos: 1 })
    await vi.waitFor(() => expect(got).toHaveLength(3), { timeout: 2000 })
    await sub.unsubscribeAsync('meters/2')
    expect(s.node.stats).toMatchObject({
      connects: 2,
      messagesIn: [1, 2, 0],
      // meters/2 was subscribed at QoS 0: its QoS 1 publish went out at QoS 0.
      messagesOut: [2, 1, 0],
      // Two server-side subscriptions per device, and the two of the subscriber.
      subscribes: 6,
      unsubscribes: 1,
    })
    expect(s.node.subscriptionCount()).toBe(5)
    await pub.endAsync()
    await vi.waitFor(() => expect(s.node.stats.disconnects).toBe(1), { timeout: 2000 })
  })
})

describe('MQTT session features', () => {
  it('delivers a retained message to a later subscriber', async () => {
    const s = await start()
    const pub = await client(s, 'tcp', { clientId: 'pub' })
    await pub.publishAsync('config/site', 'v1', { qos: 1, retain: true })
    await s.node.publish({ topic: 'config/server', payload: Buffer.from('v2'), qos: 0, retain: true })
    const late = await client(s, 'ws', { clientId: 'late' })
    const got = inbox(late)
    await late.subscribeAsync('config/+', { qos: 1 })
    await vi.waitFor(() => expect(got).toHaveLength(2), { timeout: 2000 })
    expect(got).toEqual(expect.arrayContaining([
      expect.objectContaining({ topic: 'config/site', payload: 'v1', retain: true }),
      expect.objectContaining({ topic: 'config/server', payload: 'v2', retain: true }),
    ]))
  })

  it('publishes the will of a client whose connection dies', async () => {
    const s = await start()
    const watcher = await client(s, 'tcp', { clientId: 'watcher' })
    const got = inbox(watcher)
    await watcher.subscribeAsync('status/#', { qos: 1 })
    const doomed = await client(s, 'tcp', { clientId: 'doomed', will: { topic: 'status/doomed', payload: Buffer.from('gone'), qos: 1, retain: false } })
    doomed.stream.destroy()
    await vi.waitFor(() => expect(got).toEqual([expect.objectContaining({ topic: 'status/doomed', payload: 'gone' })]), { timeout: 2000 })
  })

  it('queues a QoS 1 push for an offline persistent session and delivers it on reconnect, without resending retained', async () => {
    const s = await start()
    await s.node.publish({ topic: 'devices/sleepy/push', payload: Buffer.from('retained config'), qos: 1, retain: true })
    const first = await client(s, 'tcp', { clientId: 'sleepy', clean: false })
    const firstGot = inbox(first)
    await deviceReady(s, 'sleepy')
    await vi.waitFor(() => expect(firstGot.map((m) => m.payload)).toEqual(['retained config']), { timeout: 2000 })
    await first.endAsync()
    await vi.waitFor(() => expect(s.node.deviceIds()).not.toContain('sleepy'), { timeout: 2000 })

    await s.node.publish({ topic: 'devices/sleepy/push', payload: Buffer.from('while you slept'), qos: 1, retain: false })
    const again = mqtt.connect(`mqtt://127.0.0.1:${s.ports.mqttPort}`, { clientId: 'sleepy', clean: false, keepalive: 5, reconnectPeriod: 0 })
    clients.push(again)
    const got = inbox(again)
    const connack = await new Promise<{ sessionPresent: boolean }>((resolve) => again.once('connect', resolve))
    expect(connack.sessionPresent).toBe(true)
    await deviceReady(s, 'sleepy')
    await s.node.publish({ topic: 'devices/sleepy/push', payload: Buffer.from('marker'), qos: 1, retain: false })
    // The queued message, then the marker; a resumed session gets no second copy of the retained one.
    await vi.waitFor(() => expect(got.map((m) => m.payload)).toContain('marker'), { timeout: 2000 })
    expect(got.map((m) => [m.payload, m.qos])).toEqual([['while you slept', 1], ['marker', 1]])
  })
})

describe('MQTT auth', () => {
  it('closes a device that publishes into another device push topic, without delivering it', async () => {
    const s = await start()
    const victim = await client(s, 'tcp', { clientId: 'victim' })
    const got = inbox(victim)
    await deviceReady(s, 'victim')
    const attacker = await client(s, 'tcp', { clientId: 'attacker' })
    const closed = new Promise<void>((resolve) => attacker.once('close', () => resolve()))
    attacker.publish('devices/victim/push', 'spoofed', { qos: 1 })
    await closed
    // Server pushes are delivered in order; the marker arriving first proves the spoof never did.
    await s.node.publish({ topic: 'devices/victim/push', payload: Buffer.from('marker'), qos: 1, retain: false })
    await vi.waitFor(() => expect(got.map((m) => m.payload)).toEqual(['marker']), { timeout: 2000 })
  })

  it('refuses a subscription to another device push topic with SUBACK 0x80 and keeps the connection', async () => {
    const s = await start()
    const snoop = await client(s, 'tcp', { clientId: 'snoop' })
    await expect(snoop.subscribeAsync('devices/victim/push')).rejects.toMatchObject({ packet: { granted: [0x80] } })
    await expect(snoop.subscribeAsync('devices/+/push')).rejects.toMatchObject({ packet: { granted: [0x80] } })
    const granted = await snoop.subscribeAsync(['devices/snoop/push', 'devices/broadcast'], { qos: 1 })
    expect(granted.map((g) => g.qos)).toEqual([1, 1])
    expect(snoop.connected).toBe(true)
  })

  it('rejects an empty client id with clean session off: CONNACK 2', async () => {
    const s = await start()
    // mqtt.js refuses to send this CONNECT itself, so it is written by hand (MQTT 3.1.1 §3.1):
    // fixed header 0x10, remaining length 12, "MQTT" level 4, flags 0 (clean session off),
    // keepalive 10, client id of length 0.
    const connect = Buffer.from([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x00, 0, 10, 0, 0])
    const socket = netConnect(s.ports.mqttPort, '127.0.0.1')
    opened.push(async () => { socket.destroy() })
    socket.write(connect)
    const reply = await new Promise<Buffer>((resolve) => socket.once('data', resolve))
    expect([...reply.subarray(0, 4)]).toEqual([0x20, 2, 0, 2]) // CONNACK, session present 0, rc 2
    await new Promise((resolve) => socket.once('close', resolve))
  })

  it('rejects client ids that would make the push topic a wildcard: CONNACK 2', async () => {
    const s = await start()
    await expect(client(s, 'tcp', { clientId: '+' })).rejects.toMatchObject({ code: 2 })
    await expect(client(s, 'tcp', { clientId: 'a#' })).rejects.toMatchObject({ code: 2 })
  })

  it('maps a refused device login to CONNACK 4 with credentials and 5 without', async () => {
    const s = await start({
      auth: (config, adapters) => ({
        ...defaultAuth({ accounts: adapters.accounts, devicePushTopic: config.devicePushTopic, broadcastTopic: config.broadcastTopic }),
        async authenticateDevice({ username, password }) {
          return username === 'dev' && password?.toString() === 'secret' ? true : 'bad credentials'
        },
      }),
    })
    await expect(client(s, 'tcp', { clientId: 'x', username: 'dev', password: 'wrong' })).rejects.toMatchObject({ code: 4 })
    await expect(client(s, 'ws', { clientId: 'y' })).rejects.toMatchObject({ code: 5 })
    const ok = await client(s, 'tcp', { clientId: 'z', username: 'dev', password: 'secret' })
    expect(ok.connected).toBe(true)
  })
})

describe('MQTT uplink, presence and lifecycle', () => {
  it('relays device publishes under the uplink prefix, not other topics nor server publishes', async () => {
    const s = await start()
    const dev = await client(s, 'tcp', { clientId: 'meter-7' })
    await dev.publishAsync('telemetry/x', 'not uplink', { qos: 1 })
    await dev.publishAsync('uplink/temp', '21.5', { qos: 1 })
    await s.node.publish({ topic: 'uplink/from-server', payload: Buffer.from('no'), qos: 0, retain: false })
    await dev.publishAsync('uplink/humidity', '40', { qos: 0 })
    await vi.waitFor(() => expect(s.uplinks).toHaveLength(2), { timeout: 2000 })
    expect(s.uplinks.map((m) => [m.deviceId, m.topic, m.payload.toString(), m.qos])).toEqual([
      ['meter-7', 'uplink/temp', '21.5', 1],
      ['meter-7', 'uplink/humidity', '40', 0],
    ])
    expect(typeof s.uplinks[0].receivedAt).toBe('number')
  })

  it('keeps serving when the uplink relay throws or rejects', async () => {
    const seen: string[] = []
    const s = await start({
      uplink: (m) => {
        seen.push(m.topic)
        if (m.topic === 'uplink/throw') throw new Error('relay down')
        if (m.topic === 'uplink/reject') return Promise.reject(new Error('relay down'))
      },
    })
    const dev = await client(s, 'tcp', { clientId: 'd' })
    await dev.publishAsync('uplink/throw', 'a', { qos: 1 })
    await dev.publishAsync('uplink/reject', 'b', { qos: 1 })
    await dev.publishAsync('uplink/ok', 'c', { qos: 1 })
    await vi.waitFor(() => expect(seen).toEqual(['uplink/throw', 'uplink/reject', 'uplink/ok']), { timeout: 2000 })
    expect(dev.connected).toBe(true)
  })

  it('claims device presence on connect and releases it on disconnect', async () => {
    const s = await start()
    const dev = await client(s, 'ws', { clientId: 'lamp-3' })
    await deviceReady(s, 'lamp-3')
    const entry = await s.adapters.presence.devices.get('lamp-3')
    expect(entry).toMatchObject({ id: 'lamp-3', brokerId: 'b1' })
    expect(entry?.connId).toEqual(expect.any(String))
    expect(s.node.deviceIds()).toEqual(['lamp-3'])
    expect(s.node.connectedCount()).toBe(1)

    await dev.endAsync()
    await vi.waitFor(async () => expect(await s.adapters.presence.devices.get('lamp-3')).toBeUndefined(), { timeout: 2000 })
    expect(s.node.deviceIds()).toEqual([])
    expect(s.node.connectedCount()).toBe(0)
  })

  it('keeps the newer connection present when a client id reconnects (takeover)', async () => {
    const s = await start()
    await client(s, 'tcp', { clientId: 'twin' })
    await deviceReady(s, 'twin')
    const firstConn = (await s.adapters.presence.devices.get('twin'))?.connId
    await client(s, 'ws', { clientId: 'twin' })
    await vi.waitFor(async () => {
      const now = await s.adapters.presence.devices.get('twin')
      expect(now?.connId).toBeDefined()
      expect(now?.connId).not.toBe(firstConn)
    }, { timeout: 2000 })
    expect(s.node.deviceIds()).toEqual(['twin'])
  })

  it('stopAccepting refuses new connections and keeps existing ones; close is idempotent', async () => {
    const s = await start()
    const dev = await client(s, 'tcp', { clientId: 'stay' })
    const got = inbox(dev)
    await deviceReady(s, 'stay')
    await s.node.stopAccepting()
    await expect(client(s, 'tcp', { clientId: 'new-tcp' })).rejects.toThrow()
    await expect(client(s, 'ws', { clientId: 'new-ws' })).rejects.toThrow()
    await s.node.publish({ topic: 'devices/stay/push', payload: Buffer.from('still here'), qos: 1, retain: false })
    await vi.waitFor(() => expect(got.map((m) => m.payload)).toEqual(['still here']), { timeout: 2000 })

    const closed = new Promise<void>((resolve) => dev.once('close', () => resolve()))
    await Promise.all([s.node.close(), s.node.close()])
    await closed
    await s.node.close()
    await expect(s.node.publish({ topic: 't', payload: Buffer.alloc(0), qos: 0, retain: false })).rejects.toThrow()
  })
})
