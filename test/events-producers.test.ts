/**
 * Where events come from (README "Events to your backend"): a broker and a route in this process,
 * real CIM sockets (the SDK and a raw upstream client), real MQTT clients, one Events emitter
 * listened to in-process. Each test asserts the events a backend would see, in order.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createMemoryAdapters } from '../adapters/index.ts'
import { createBroker } from '../broker/index.ts'
import { buildApp } from '../route/app.ts'
import { Events, type CimEvent } from '../events/index.ts'
import { CimClient } from '../client/index.ts'
import type { Config } from '../config.ts'
import { silentLogger, testConfig } from './support/config.ts'
import { connectMqtt, closed } from './support/mqtt.ts'
import { RawClient, postJson } from './support/wire.ts'
import { eventually } from './support/wait.ts'
import { BaseCommand } from '../proto/codec.ts'

const opened: Array<{ close(): unknown }> = []
afterEach(async () => { for (const c of opened.splice(0).reverse()) await c.close() })

async function start(overrides: Partial<Config> = {}) {
  const config = testConfig({ repeatLogin: 'kick-old', uplinkPrefix: 'uplink/', ...overrides })
  const adapters = createMemoryAdapters(config)
  const events = new Events('n1')
  const got: CimEvent[] = []
  events.subscribe((e) => got.push(e))
  const broker = createBroker({ config, adapters, logger: silentLogger, events, uplink: () => {} })
  const ports = await broker.listen()
  const app = await buildApp({ config, adapters, logger: silentLogger, events })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const routeUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const node = {
    config, adapters, broker, app, ports, routeUrl, events, got,
    of: (...types: string[]) => got.filter((e) => types.includes(e.type)),
    async close() {
      await broker.close()
      await app.close()
      await adapters.close()
    },
  }
  opened.push(node)
  return node
}

type Node = Awaited<ReturnType<typeof start>>

async function register(node: Node, userName: string): Promise<number> {
  return (await postJson(`${node.routeUrl}/registerAccount`, { userName })).body.dataBody.userId as number
}

function sdk(node: Node, userId: number, userName: string, onMessage?: (m: { seq?: number; msgId?: string }) => void): CimClient {
  const c = new CimClient({ routeUrl: node.routeUrl, userId, userName, reconnect: false, ...(onMessage && { onMessage }) })
  opened.push(c)
  return c
}

describe('user.online / user.offline', () => {
  it('a login then a hang-up: online with the name, offline with reason closed, same connId', async () => {
    const node = await start()
    const id = await register(node, 'alice')
    const c = sdk(node, id, 'alice')
    await c.connect()
    await eventually(() => node.of('user.online').length === 1)
    c.close()
    await eventually(() => node.of('user.offline').length === 1)
    const [online, offline] = node.of('user.online', 'user.offline')
    expect(online).toMatchObject({ type: 'user.online', userId: id, userName: 'alice', node: 'n1' })
    expect(offline).toMatchObject({ type: 'user.offline', userId: id, reason: 'closed', code: 'CIM_CLIENT_CLOSED' })
    expect((offline as { connId: string }).connId).toBe((online as { connId: string }).connId)
    expect(online.ts).toBeLessThanOrEqual(offline.ts)
    expect(online.id).not.toBe(offline.id)
  })

  it('a repeat login kicks the first connection: offline reason kicked, then the new one online', async () => {
    const node = await start()
    const id = await register(node, 'bob')
    const first = sdk(node, id, 'bob')
    await first.connect()
    const second = sdk(node, id, 'bob')
    await second.connect()
    await eventually(() => node.of('user.online').length === 2 && node.of('user.offline').length === 1)
    expect(node.of('user.online', 'user.offline').map((e) => [e.type, (e as { reason?: string }).reason])).toEqual([
      ['user.online', undefined], ['user.offline', 'kicked'], ['user.online', undefined],
    ])
  })

  it('a client that stops sending: offline reason timeout; a broker shutting down: reason draining', async () => {
    const node = await start({ readTimeoutMs: 300 })
    const quiet = await RawClient.connectAndLogin(node.ports.cimPort, await register(node, 'quiet'), 'quiet', { proto: '2' })
    await quiet.frame(BaseCommand.LOGIN_REPLY)
    await eventually(() => node.of('user.offline').length === 1)
    expect(node.of('user.offline')[0]).toMatchObject({ reason: 'timeout', code: 'CIM_READ_TIMEOUT' })

    const id = await register(node, 'stays')
    const c = sdk(node, id, 'stays')
    await c.connect()
    await node.broker.close()
    expect(node.of('user.offline').map((e) => (e as { reason: string }).reason)).toEqual(['timeout', 'draining'])
  })
})

describe('push.acked', () => {
  it('the SDK acks a qos 1 push: one receipt with the msgId and seq the REST answer gave', async () => {
    const node = await start()
    const id = await register(node, 'carol')
    const seen: Array<{ seq?: number; msgId?: string }> = []
    const c = sdk(node, id, 'carol', (m) => seen.push(m))
    await c.connect()
    const answers = []
    for (const text of ['one', 'two']) {
      const r = await postJson(`${node.routeUrl}/v1/push/users/${id}`, { message: text, qos: 1 })
      expect(r.status).toBe(200)
      answers.push(r.body.results[0])
    }
    await eventually(() => node.of('push.acked').length === 2, 5000, 'two receipts')
    const receipts = node.of('push.acked')
    expect(answers.map((a) => a.seq)).toEqual([1, 2])
    expect(receipts.map((e) => [(e as { userId: number }).userId, (e as { seq: number }).seq, (e as { msgId: string }).msgId]))
      .toEqual(answers.map((a) => [id, a.seq, a.msgId]))
    expect(seen.map((m) => m.msgId)).toEqual(answers.map((a) => a.msgId))
    expect(await node.adapters.inbox.list(id)).toEqual([])
  })

  it('stored while offline, replayed at login and acked: the receipt names the stored message', async () => {
    const node = await start()
    const id = await register(node, 'dave')
    const r = await postJson(`${node.routeUrl}/v1/push/users/${id}`, { message: 'later', qos: 1 })
    const c = sdk(node, id, 'dave')
    await c.connect()
    await eventually(() => node.of('push.acked').length === 1)
    expect(node.of('push.acked')[0]).toMatchObject({ userId: id, seq: r.body.results[0].seq, msgId: r.body.results[0].msgId })
  })

  it('an upstream client (no ACKs): the receipt follows the write', async () => {
    const node = await start()
    const id = await register(node, 'erin')
    const raw = await RawClient.connectAndLogin(node.ports.cimPort, id, 'erin')
    await eventually(() => node.of('user.online').length === 1)
    const r = await postJson(`${node.routeUrl}/v1/push/users/${id}`, { message: 'hi', qos: 1 })
    await raw.frame(BaseCommand.MESSAGE)
    await eventually(() => node.of('push.acked').length === 1)
    expect(node.of('push.acked')[0]).toMatchObject({ userId: id, seq: r.body.results[0].seq, msgId: r.body.results[0].msgId })
    raw.close()
  })
})

describe('user.message', () => {
  it('/p2pRoute and /groupRoute: one event per text, with sender, receiver and msgId', async () => {
    const node = await start()
    const a = await register(node, 'frank')
    const b = await register(node, 'gina')
    const receiver = sdk(node, b, 'gina')
    await receiver.connect()
    const p2p = await postJson(`${node.routeUrl}/p2pRoute`, { userId: a, receiveUserId: b, msg: 'hello gina' })
    expect(p2p.body.code).toBe('9000')
    await postJson(`${node.routeUrl}/groupRoute`, { userId: a, msg: 'hello all' })
    const messages = node.of('user.message')
    expect(messages).toEqual([
      expect.objectContaining({ from: a, to: b, text: 'hello gina', msgId: expect.any(String) }),
      expect.objectContaining({ from: a, text: 'hello all', msgId: expect.any(String) }),
    ])
    expect(messages[1]).not.toHaveProperty('to')
  })
})

describe('device events', () => {
  it('connect, uplink publish, takeover, keepalive timeout, DISCONNECT: in order with reasons', async () => {
    const node = await start()
    const url = `mqtt://127.0.0.1:${node.ports.mqttPort}`
    const d1 = await connectMqtt(url, 'dev-1')
    await d1.publishAsync('uplink/dev-1/temp', Buffer.from([0, 1, 255]), { qos: 1 })
    await d1.publishAsync('not-uplink/x', 'ignored', { qos: 0 })
    await eventually(() => node.of('device.uplink').length === 1)
    // The same client id again takes the session over.
    const d1b = await connectMqtt(url, 'dev-1')
    await eventually(() => node.of('device.disconnected').length === 1)
    await d1b.endAsync()
    await eventually(() => node.of('device.disconnected').length === 2)
    const devices = node.got.filter((e) => e.type.startsWith('device.'))
    expect(devices.map((e) => [e.type, (e as { reason?: string }).reason])).toEqual([
      ['device.connected', undefined], ['device.uplink', undefined],
      ['device.disconnected', 'kicked'], ['device.connected', undefined], ['device.disconnected', 'closed'],
    ])
    expect(devices[1]).toMatchObject({ clientId: 'dev-1', topic: 'uplink/dev-1/temp', qos: 1, payload: Buffer.from([0, 1, 255]).toString('base64') })
  })

  it('a device that stops pinging: reason timeout', async () => {
    const node = await start()
    const d = await connectMqtt(`mqtt://127.0.0.1:${node.ports.mqttPort}`, 'dev-quiet', undefined, { keepalive: 1 })
    // The client's own pings are what keep it alive; stop them by stopping the client's timer.
    ;(d as unknown as { keepaliveManager?: { destroy(): void } }).keepaliveManager?.destroy()
    await closed(d)
    await eventually(() => node.of('device.disconnected').length === 1, 5000)
    expect(node.of('device.disconnected')[0]).toMatchObject({ clientId: 'dev-quiet', reason: 'timeout' })
  })
})

describe('no sink', () => {
  it('an Events with no sink and no listener is inactive: producers build nothing', () => {
    const events = new Events('n')
    expect(events.active).toBe(false)
    const undo = events.subscribe(() => {})
    expect(events.active).toBe(true)
    undo()
    expect(events.active).toBe(false)
  })
})
