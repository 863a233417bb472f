/**
 * Two broker processes and two route processes over a real Redis and a real ZooKeeper: the
 * cluster answers like the single node. A push entering through one route reaches a user held by
 * a broker the route shares nothing with but Redis; a device push and a retained message cross
 * brokers through the shared MQTT backend; a broadcast reaches every user and device once.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import mqtt, { type MqttClient } from 'mqtt'
import { BaseCommand } from '../proto/codec.ts'
import { CimClient, type CimMessage } from '../client/index.ts'
import type { BrokerProcess, RouteProcess } from './support/cluster.ts'
import { WAIT, eventually, useCluster } from './support/cluster-fixtures.ts'
import { type RawClient, getJson, postJson } from './support/wire.ts'

// Settings reach the processes all three ways `cim broker|route` takes them: route-1 from a
// --config file, route-2 from CIM_* variables, broker-a from flags, broker-b from a file.
const fx = useCluster({ brokers: 2, routes: 2, configVia: ['file', 'env', 'flags'] })
const { closers } = fx
let A: BrokerProcess, B: BrokerProcess, route1: RouteProcess, route2: RouteProcess
beforeAll(() => { [A, B] = fx.cluster.brokers; [route1, route2] = fx.cluster.routes })

/** A raw CIM peer logged in on one broker directly; resolves after its LOGIN_REPLY (proto=2) or once presence shows it (upstream). */
async function userOn(broker: BrokerProcess, userName: string, proto2 = true): Promise<{ userId: number; peer: RawClient }> {
  const { userId, peer, reply } = await fx.rawUser(route1, broker, userName, proto2)
  if (reply) expect(reply.properties, fx.cluster.output()).toMatchObject({ code: '9000', brokerId: broker.id })
  await eventually(async () => (await getJson(`${route2.url}/v1/users/${userId}/presence`)).body.brokerId === broker.id)
  return { userId, peer }
}

async function device(broker: BrokerProcess, clientId: string, ws = false): Promise<{ client: MqttClient; got: Array<{ topic: string; payload: string; retain: boolean }> }> {
  const url = ws ? `ws://127.0.0.1:${broker.wsPort}` : `mqtt://127.0.0.1:${broker.mqttPort}`
  const client = await mqtt.connectAsync(url, { clientId, reconnectPeriod: 0 })
  closers.push(() => client.endAsync(true))
  const got: Array<{ topic: string; payload: string; retain: boolean }> = []
  client.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain }))
  // Online once presence says so: the server-side subscriptions are made at connect.
  await eventually(async () => {
    const page = await getJson(`${route1.url}/v1/devices/online?limit=1000`)
    return JSON.stringify(page.body).includes(`"${clientId}"`)
  })
  return { client, got }
}

describe('cluster: 2 brokers, 2 routes, real Redis and ZooKeeper', () => {
  it('both routes list both brokers with their ports (settings from a file, the environment and flags)', async () => {
    for (const route of [route1, route2]) {
      const { body } = await getJson(`${route.url}/v1/nodes`)
      expect(body.items.map((b: { id: string }) => b.id)).toEqual([A.id, B.id])
      expect(body.items[0]).toMatchObject({ host: '127.0.0.1', cimPort: A.cimPort, httpPort: A.httpPort, mqttPort: A.mqttPort, wsPort: A.wsPort, draining: false })
      expect(body.items[1]).toMatchObject({ cimPort: B.cimPort, mqttPort: B.mqttPort })
    }
  })

  it('a user on broker A receives a push sent through route 2', async () => {
    const { userId, peer } = await userOn(A, 'alice')
    const upstream = await userOn(A, 'ursula', false)
    const res = await postJson(`${route2.url}/v1/push/users/${userId}`, { message: 'hello through route 2' })
    expect(res.body).toEqual({ results: [{ userId, status: 'delivered' }] })
    const frame = await peer.next((f) => f.cmd === BaseCommand.MESSAGE, WAIT)
    expect(frame.resMsg).toBe('hello through route 2')
    expect(frame.properties).toMatchObject({ receiveUserId: String(userId), sendUserName: 'system' })

    // Several users on several brokers in one request; the upstream client gets the same push.
    const onB = await userOn(B, 'bob')
    const many = await postJson(`${route2.url}/v1/push/users`, { userIds: [upstream.userId, onB.userId], message: 'to both brokers' })
    expect(many.body.results).toEqual([{ userId: upstream.userId, status: 'delivered' }, { userId: onB.userId, status: 'delivered' }])
    expect((await upstream.peer.next((f) => f.resMsg === 'to both brokers', WAIT)).properties.receiveUserId).toBe(String(upstream.userId))
    await onB.peer.next((f) => f.resMsg === 'to both brokers', WAIT)
  })

  it('SDK clients log in through route 1, land on brokers the route chose, and chat across brokers via route 2', async () => {
    const got = new Map<string, CimMessage[]>()
    const clients: CimClient[] = []
    for (const name of ['carol', 'dave', 'erin', 'frank']) {
      const c = new CimClient({ routeUrl: route1.url, userName: name, reconnect: false })
      got.set(name, [])
      c.on('message', (m) => got.get(name)!.push(m))
      clients.push(c)
      closers.push(() => c.close())
    }
    await Promise.all(clients.map((c) => c.connect()))
    // Each landed where route 1's consistent hash put it, and both routes agree (stateless routes).
    for (const c of clients) {
      const login = await postJson(`${route2.url}/login`, { userId: c.userId, userName: c.userName })
      expect(login.body.code).toBe('5000') // online already: repeat login, wherever they ask
      const presence = await getJson(`${route2.url}/v1/users/${c.userId}/presence`)
      expect(presence.body).toMatchObject({ online: true, brokerId: c.broker!.brokerId })
    }
    const [carol, dave] = clients
    const sender = new CimClient({ routeUrl: route2.url, userName: 'carol', userId: carol.userId, reconnect: false })
    expect((await sender.sendP2P(dave.userId!, 'hi dave')).delivered).toBe(true)
    await eventually(() => got.get('dave')!.some((m) => m.text === 'hi dave' && m.sendUserName === 'carol'))
  })

  it('a device on broker B receives a device push and a retained message published on A', async () => {
    const dev = await device(B, 'sensor-b1')
    const viaWs = await device(B, 'sensor-b2', true)
    const res = await postJson(`${route1.url}/v1/push/devices/sensor-b1`, { payload: 'reboot' })
    expect(res.body).toEqual({ results: [{ deviceId: 'sensor-b1', status: 'delivered' }] })
    await eventually(() => dev.got.some((m) => m.topic === 'devices/sensor-b1/push' && m.payload === 'reboot'))
    const ws = await postJson(`${route2.url}/v1/push/devices/sensor-b2`, { payload: 'aGk=', encoding: 'base64' })
    expect(ws.body.results[0].status).toBe('delivered')
    await eventually(() => viaWs.got.some((m) => m.topic === 'devices/sensor-b2/push' && m.payload === 'hi'))

    // A retained message published by a client of broker A: live to B's subscriber, and
    // replayed from the shared persistence to a device that subscribes on B afterwards.
    await dev.client.subscribeAsync('config/fleet', { qos: 1 })
    const publisher = await mqtt.connectAsync(`mqtt://127.0.0.1:${A.mqttPort}`, { clientId: 'publisher-a', reconnectPeriod: 0 })
    closers.push(() => publisher.endAsync(true))
    await publisher.publishAsync('config/fleet', 'v42', { qos: 1, retain: true })
    await eventually(() => dev.got.some((m) => m.topic === 'config/fleet' && m.payload === 'v42'))
    const late = await device(B, 'sensor-b3')
    await late.client.subscribeAsync('config/fleet', { qos: 1 })
    await eventually(() => late.got.some((m) => m.topic === 'config/fleet' && m.payload === 'v42' && m.retain))
  })

  it('a broadcast to all reaches every user and device on both brokers exactly once', async () => {
    const users = await Promise.all([
      userOn(A, 'bc-a1'), userOn(A, 'bc-a2', false), userOn(B, 'bc-b1'), userOn(B, 'bc-b2', false),
    ])
    const sdk = new CimClient({ routeUrl: route2.url, userName: 'bc-sdk', reconnect: false })
    const sdkGot: string[] = []
    sdk.on('message', (m) => sdkGot.push(m.text))
    closers.push(() => sdk.close())
    await sdk.connect()
    const devices = await Promise.all([device(A, 'bc-dev-a'), device(A, 'bc-dev-aw', true), device(B, 'bc-dev-b'), device(B, 'bc-dev-bw', true)])

    const before = await getJson(`${route1.url}/v1/users/online?limit=1000`)
    const onlineUsers = before.body.items.length
    const res = await postJson(`${route1.url}/v1/push/all`, { message: 'everyone once' })
    expect(res.status).toBe(200)
    // Every CIM session on both brokers counts once; devices are counted from presence.
    expect(res.body.users).toBe(onlineUsers)
    expect(res.body.devices).toBeGreaterThanOrEqual(devices.length)
    // A second broadcast, through the other route, marks the end: per connection both come in
    // order, so once the marker is there a duplicate of the first would have arrived too.
    await postJson(`${route2.url}/v1/push/all`, { message: 'marker' })

    const texts = (p: RawClient) => p.messages().map((f) => f.resMsg)
    await eventually(() => users.every((u) => texts(u.peer).includes('marker')) && sdkGot.includes('marker') &&
      devices.every((d) => d.got.some((m) => m.payload === 'marker')))
    for (const u of users) expect(texts(u.peer).filter((t) => t === 'everyone once')).toHaveLength(1)
    expect(sdkGot.filter((t) => t === 'everyone once')).toHaveLength(1)
    for (const d of devices) {
      expect(d.got.filter((m) => m.topic === 'devices/broadcast' && m.payload === 'everyone once')).toHaveLength(1)
    }
  })
})
