/**
 * The business API end to end: real CIM TCP clients, real MQTT clients, HTTP via fetch, against
 * route + broker started as `cim start` starts them.
 */
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest'
import mqtt, { type MqttClient } from 'mqtt'
import { BaseCommand } from '../proto/codec.ts'
import { startAllInOne, type AllInOne } from './support/allinone.ts'
import { RawClient, getJson, postJson } from './support/wire.ts'
import { eventually } from './support/wait.ts'

let node: AllInOne
const peers: RawClient[] = []
const devices: MqttClient[] = []

async function user(userName: string): Promise<number> {
  const res = await postJson(`${node.routeUrl}/v1/users`, { userName })
  expect([200, 201]).toContain(res.status)
  return res.body.userId
}

async function online(userName: string, properties?: Record<string, string>): Promise<{ id: number; peer: RawClient }> {
  const id = await user(userName)
  const peer = await RawClient.connectAndLogin(node.ports.cimPort, id, userName, properties)
  peers.push(peer)
  await eventually(async () => (await getJson(`${node.routeUrl}/v1/users/${id}/presence`)).body.online)
  return { id, peer }
}

async function device(clientId: string, opts: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${node.ports.mqttPort}`, { clientId, reconnectPeriod: 0, ...opts })
  devices.push(client)
  await eventually(async () => (await getJson(`${node.routeUrl}/v1/devices/online`)).body.items.some((d: { deviceId: string }) => d.deviceId === clientId))
  return client
}

function nextMessage(client: MqttClient, topic: string): Promise<Buffer> {
  return new Promise((resolve) => {
    const on = (t: string, payload: Buffer) => {
      if (t !== topic) return
      client.off('message', on)
      resolve(payload)
    }
    client.on('message', on)
  })
}

beforeAll(async () => { node = await startAllInOne() })
afterEach(async () => {
  for (const p of peers.splice(0)) p.close()
  await Promise.all(devices.splice(0).map((d) => d.endAsync(true)))
})
afterAll(async () => { await node.close() })

describe('/v1 push to users', () => {
  it('delivers to an online user and says so; says offline for an absent one', async () => {
    const { id, peer } = await online('v1-alice')
    const res = await postJson(`${node.routeUrl}/v1/push/users/${id}`, { message: 'hello', properties: { kind: 'greeting' } })
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ results: [{ userId: id, status: 'delivered' }] })
    const frame = await peer.next((f) => f.resMsg === 'hello')
    expect(frame.properties).toMatchObject({ kind: 'greeting', receiveUserId: String(id) })
    expect(frame.properties.sendUserId).toBeDefined()

    const absent = await user('v1-absent')
    const off = await postJson(`${node.routeUrl}/v1/push/users/${absent}`, { message: 'anyone?' })
    expect(off.body).toEqual({ results: [{ userId: absent, status: 'offline' }] })
  })

  it('qos 1 to an offline user is queued and delivered at the next login', async () => {
    const id = await user('v1-later')
    const res = await postJson(`${node.routeUrl}/v1/push/users/${id}`, { message: 'kept for you', qos: 1 })
    expect(res.body.results[0].status).toBe('queued')
    const peer = await RawClient.connectAndLogin(node.ports.cimPort, id, 'v1-later')
    peers.push(peer)
    expect((await peer.next((f) => f.cmd === BaseCommand.OFFLINE)).batchResMsg).toEqual(['kept for you'])
  })

  it('pushes to many users with one result per user', async () => {
    const a = await online('v1-many-a')
    const b = await online('v1-many-b')
    const absent = await user('v1-many-c')
    const res = await postJson(`${node.routeUrl}/v1/push/users`, { userIds: [a.id, b.id, absent], message: 'batch' })
    expect(res.body.results).toEqual(expect.arrayContaining([
      { userId: a.id, status: 'delivered' }, { userId: b.id, status: 'delivered' }, { userId: absent, status: 'offline' },
    ]))
    await a.peer.next((f) => f.resMsg === 'batch')
    await b.peer.next((f) => f.resMsg === 'batch')
  })

  it('answers coded errors: unknown user 404, invalid JSON 400, bad body 400, huge id 400', async () => {
    const unknown = await postJson(`${node.routeUrl}/v1/push/users/1700000000123`, { message: 'x' })
    expect(unknown.status).toBe(404)
    expect(unknown.body).toMatchObject({ statusCode: 404, code: 'CIM_USER_NOT_FOUND' })

    const bad = await fetch(`${node.routeUrl}/v1/push/users/1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"message": ' })
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({ statusCode: 400, code: 'CIM_INVALID_JSON' })

    const invalid = await postJson(`${node.routeUrl}/v1/push/users/1`, { msg: 'wrong field' })
    expect(invalid.status).toBe(400)
    expect(invalid.body.code).toBe('CIM_INVALID_ARGUMENT')

    const huge = await postJson(`${node.routeUrl}/v1/push/users/9007199254740993`, { message: 'x' })
    expect(huge.status).toBe(400)
  })

  it('lists online users page by page and reports presence', async () => {
    const ids = []
    for (let i = 0; i < 5; i++) ids.push((await online(`v1-page-${i}`)).id)
    const seen = new Set<number>()
    let cursor: string | undefined
    do {
      const page = await getJson(`${node.routeUrl}/v1/users/online?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
      expect(page.status).toBe(200)
      for (const item of page.body.items) {
        expect(item.brokerId).toBe(node.broker.id)
        seen.add(item.userId)
      }
      cursor = page.body.next
    } while (cursor)
    for (const id of ids) expect(seen.has(id)).toBe(true)
    const presence = await getJson(`${node.routeUrl}/v1/users/${ids[0]}/presence`)
    expect(presence.body).toMatchObject({ online: true, brokerId: node.broker.id })
    expect(typeof presence.body.since).toBe('number')
  })

  it('kicks a user: the connection closes and presence clears', async () => {
    const { id, peer } = await online('v1-kicked', { proto: '2' })
    const res = await fetch(`${node.routeUrl}/v1/users/${id}/connection`, { method: 'DELETE' })
    expect(res.status).toBe(200)
    expect((await peer.next((f) => f.cmd === BaseCommand.KICK)).properties.code).toBe('CIM_ADMIN_KICK')
    await peer.waitClosed()
    await eventually(async () => !(await getJson(`${node.routeUrl}/v1/users/${id}/presence`)).body.online)
    const again = await fetch(`${node.routeUrl}/v1/users/${id}/connection`, { method: 'DELETE' })
    expect(again.status).toBe(404)
  })
})

describe('/v1 devices and broadcast', () => {
  it('a device receives a push on its own topic without subscribing', async () => {
    const dev = await device('sensor-1')
    const got = nextMessage(dev, 'devices/sensor-1/push')
    const res = await postJson(`${node.routeUrl}/v1/push/devices/sensor-1`, { payload: 'reboot' })
    expect(res.body).toEqual({ results: [{ deviceId: 'sensor-1', status: 'delivered' }] })
    expect((await got).toString()).toBe('reboot')
  })

  it('base64 payloads arrive as the original bytes; an absent device is offline', async () => {
    const dev = await device('sensor-2')
    const got = nextMessage(dev, 'devices/sensor-2/push')
    await postJson(`${node.routeUrl}/v1/push/devices/sensor-2`, { payload: Buffer.from([0, 1, 2, 255]).toString('base64'), encoding: 'base64' })
    expect([...(await got)]).toEqual([0, 1, 2, 255])
    const off = await postJson(`${node.routeUrl}/v1/push/devices/nobody-here`, { payload: 'x' })
    expect(off.body.results[0].status).toBe('offline')
  })

  it('publishes to any topic, retained for later subscribers', async () => {
    const res = await postJson(`${node.routeUrl}/v1/publish`, { topic: 'config/site-7', payload: 'v2', retain: true, qos: 1 })
    expect(res.status).toBe(200)
    const dev = await device('late-subscriber')
    const got = nextMessage(dev, 'config/site-7')
    await dev.subscribeAsync('config/site-7', { qos: 1 })
    expect((await got).toString()).toBe('v2')
  })

  it('push to all reaches every CIM user and every device, and counts them', async () => {
    const a = await online('v1-all-a')
    const b = await online('v1-all-b')
    const dev = await device('sensor-all')
    const got = nextMessage(dev, 'devices/broadcast')
    const res = await postJson(`${node.routeUrl}/v1/push/all`, { message: 'maintenance' })
    expect(res.status).toBe(200)
    expect(res.body.users).toBeGreaterThanOrEqual(2)
    expect(res.body.devices).toBeGreaterThanOrEqual(1)
    const fa = await a.peer.next((f) => f.resMsg === 'maintenance')
    const fb = await b.peer.next((f) => f.resMsg === 'maintenance')
    expect(fa.properties.receiveUserId).toBe(String(a.id))
    expect(fb.properties.receiveUserId).toBe(String(b.id))
    expect((await got).toString()).toBe('maintenance')
  })

  it('lists brokers with their ports and connection counts', async () => {
    const res = await getJson(`${node.routeUrl}/v1/nodes`)
    expect(res.status).toBe(200)
    const items = Array.isArray(res.body) ? res.body : res.body.items ?? res.body.nodes
    expect(items[0]).toMatchObject({ id: node.broker.id, cimPort: node.ports.cimPort, mqttPort: node.ports.mqttPort, wsPort: node.ports.wsPort, httpPort: node.ports.httpPort, draining: false })
  })

  it('serves the OpenAPI document and Swagger UI', async () => {
    const doc = await getJson(`${node.routeUrl}/openapi.json`)
    expect(doc.body.openapi).toMatch(/^3\./)
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/v1/push/users/{userId}', '/login', '/p2pRoute']))
    const ui = await fetch(`${node.routeUrl}/docs`)
    expect(ui.status).toBe(200)
  })
})
