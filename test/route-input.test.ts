/**
 * Issue 9 items 1, 4, 5, 14, 15 end to end (route + broker as `cim start` starts them, real
 * sockets, the real SDK and real MQTT clients): forged delivery metadata, the encoded frame
 * limit, lone surrogates, MQTT topic names, and error bodies in the catalogue format.
 */
import { connect } from 'node:net'
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest'
import mqtt, { type MqttClient } from 'mqtt'
import { CimClient, type CimMessage } from '../client/index.ts'
import { RESERVED_PROPERTIES, pushBodyBound } from '../proto/push-frame.ts'
import { SYSTEM_SENDER } from '../route/v1/push/input.ts'
import { startAllInOne, type AllInOne } from './support/allinone.ts'
import { RawClient, getJson, postJson } from './support/wire.ts'
import { eventually, sleep } from './support/wait.ts'

let node: AllInOne
const opened: Array<{ close(): unknown }> = []
const devices: MqttClient[] = []

beforeAll(async () => { node = await startAllInOne() })
afterEach(async () => {
  for (const c of opened.splice(0).reverse()) await c.close()
  await Promise.all(devices.splice(0).map((d) => d.endAsync(true)))
})
afterAll(async () => { await node.close() })

async function user(userName: string): Promise<number> {
  return (await postJson(`${node.routeUrl}/v1/users`, { userName })).body.userId
}

async function sdk(userName: string): Promise<{ c: CimClient; inbox: CimMessage[] }> {
  const inbox: CimMessage[] = []
  const c = new CimClient({ routeUrl: node.routeUrl, userName, reconnect: { minMs: 50, maxMs: 500 }, onMessage: (m) => inbox.push(m) })
  opened.push(c)
  await c.connect()
  return { c, inbox }
}

/** Sends raw bytes to a port and returns the whole answer. */
function rawHttp(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(request))
    let out = ''
    s.on('data', (c) => { out += c })
    s.on('end', () => resolve(out))
    s.on('error', (err) => (out ? resolve(out) : reject(err)))
  })
}

function bodyOf(answer: string): { statusCode: number; code: string; message: string } {
  return JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))
}

describe('item 1: broker-owned properties', () => {
  it('refuses every reserved name with 400 CIM_RESERVED_PROPERTY naming it, on both user push endpoints', async () => {
    expect([...RESERVED_PROPERTIES].sort()).toEqual(['epoch', 'msgId', 'prevSeq', 'qos', 'receiveUserId', 'sendUserId', 'sendUserName', 'seq', 'ts'])
    const id = await user('ri-reserved')
    for (const name of RESERVED_PROPERTIES) {
      for (const [url, body] of [[`/v1/push/users/${id}`, {}], ['/v1/push/users', { userIds: [id] }]] as const) {
        const res = await postJson(`${node.routeUrl}${url}`, { ...body, message: 'x', qos: 1, properties: { kind: 'a', [name]: '2' } })
        expect(res.status, `${url} ${name}`).toBe(400)
        expect(res.body.code).toBe('CIM_RESERVED_PROPERTY')
        expect(res.body.message).toContain(name)
      }
    }
    expect(await node.adapters.inbox.list(id)).toEqual([])
  })

  it("the issue's reproduction: a qos 0 push with properties.seq never costs the real qos 1 message with that seq", async () => {
    const name = 'ri-forged'
    const { c, inbox } = await sdk(name)
    const id = c.userId!
    const forged = await postJson(`${node.routeUrl}/v1/push/users/${id}`, { message: 'forged', qos: 0, properties: { seq: '2' } })
    expect(forged.status).toBe(400)
    for (const message of ['one', 'two']) {
      const res = await postJson(`${node.routeUrl}/v1/push/users/${id}`, { message, qos: 1 })
      expect(res.body.results[0].status).toBe('delivered')
    }
    await eventually(() => inbox.length === 2, 3000, 'both qos 1 messages')
    expect(inbox.map((m) => [m.text, m.seq])).toEqual([['one', 1], ['two', 2]])
    await eventually(async () => (await node.adapters.inbox.list(id)).length === 0, 3000, 'both acked out of the inbox')
  })

  it('the broker removes them from whatever reaches it (an older route, a stored message)', async () => {
    const id = await user('ri-broker')
    const peer = await RawClient.connectAndLogin(node.ports.cimPort, id, 'ri-broker', { proto: '2' })
    opened.push(peer)
    await eventually(async () => (await getJson(`${node.routeUrl}/v1/users/${id}/presence`)).body.online)
    const forged = { seq: '2', prevSeq: '1', qos: '1', msgId: 'forged', ts: '1', receiveUserId: '9', kind: 'a' }
    await node.app.brokers.push(node.broker.id, { userIds: [id], text: 'via bus', properties: forged, msgId: 'real' })
    const f = await peer.next((x) => x.resMsg === 'via bus')
    expect(f.properties).toMatchObject({ kind: 'a', msgId: 'real', receiveUserId: String(id) })
    expect(f.properties.ts).not.toBe('1')
    expect(f.properties).not.toHaveProperty('seq')
    expect(f.properties).not.toHaveProperty('prevSeq')
    expect(f.properties).not.toHaveProperty('qos')
  })
})

describe('item 4: the 64 KiB limit is on the encoded frame', () => {
  it('refuses a 65,536-byte message and a small one with 70 KB of properties, with the prefix said once', async () => {
    const id = await user('ri-big')
    const big = await postJson(`${node.routeUrl}/v1/push/users/${id}`, { message: 'x'.repeat(65_536), qos: 1 })
    expect(big.status).toBe(413)
    expect(big.body.code).toBe('CIM_PAYLOAD_TOO_LARGE')
    expect(big.body.message.match(/Payload too large/g)).toHaveLength(1)
    const properties: Record<string, string> = {}
    for (let i = 0; i < 70; i++) properties[`p${i}`] = 'v'.repeat(1000)
    const props = await postJson(`${node.routeUrl}/v1/push/users/${id}`, { message: 'small', qos: 1, properties })
    expect(props.status).toBe(413)
    expect(props.body.code).toBe('CIM_PAYLOAD_TOO_LARGE')
    const all = await postJson(`${node.routeUrl}/v1/push/all`, { message: 'x'.repeat(65_536) })
    expect(all.status).toBe(413)
    expect(await node.adapters.inbox.list(id)).toEqual([])
  })

  it('delivers a message just under the limit to a real SDK client (64 KiB frames), and refuses one byte more', async () => {
    const { c, inbox } = await sdk('ri-edge')
    const properties = { kind: 'edge' }
    let length = node.config.maxFrameBytes
    while (pushBodyBound('x'.repeat(length), { ...SYSTEM_SENDER, ...properties }) > node.config.maxFrameBytes) length--
    const over = await postJson(`${node.routeUrl}/v1/push/users/${c.userId}`, { message: 'x'.repeat(length + 1), properties, qos: 1 })
    expect(over.status).toBe(413)
    const res = await postJson(`${node.routeUrl}/v1/push/users/${c.userId}`, { message: 'x'.repeat(length), properties, qos: 1 })
    expect(res.body.results[0].status).toBe('delivered')
    await eventually(() => inbox.length === 1, 3000, 'the largest message')
    expect(inbox[0].text).toHaveLength(length)
    expect(c.state).toBe('connected')
  })
})

describe('item 5: lone UTF-16 surrogates', () => {
  it('refuses "\\ud800" in a message, a property key or value, a userName and a topic, storing nothing', async () => {
    const id = await user('ri-surrogate')
    const cases: Array<[string, unknown]> = [
      [`/v1/push/users/${id}`, { message: 'a\ud800b', qos: 1 }],
      [`/v1/push/users/${id}`, { message: 'ok', qos: 1, properties: { 'k\ud800': 'v' } }],
      [`/v1/push/users/${id}`, { message: 'ok', qos: 1, properties: { k: '\ud800' } }],
      ['/v1/push/users', { userIds: [id], message: '\udc00', qos: 1 }],
      ['/v1/users', { userName: 'bad\ud800' }],
      ['/v1/publish', { topic: 't/\ud800', payload: 'x' }],
      ['/v1/push/all', { message: '\ud800' }],
    ]
    for (const [url, body] of cases) {
      const res = await postJson(`${node.routeUrl}${url}`, body)
      expect(res.status, url).toBe(400)
      expect(res.body.code).toBe('CIM_INVALID_ARGUMENT')
      expect(res.body.message).toContain('lone UTF-16 surrogate')
    }
    expect(await node.adapters.inbox.list(id)).toEqual([])
    // The upstream-compatible endpoints too (answered 200 with the upstream validation code).
    const compat = await postJson(`${node.routeUrl}/p2pRoute`, { userId: id, receiveUserId: id, msg: '\ud800' })
    expect(compat.body.code).toBe('3000')
    expect(await node.adapters.inbox.list(id)).toEqual([])
  })
})

describe('item 14: /v1/publish topic names', () => {
  it('counts UTF-8 bytes (a 66 KB topic of 22,000 characters) and refuses NUL; subscribers stay connected', async () => {
    const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${node.ports.mqttPort}`, { clientId: 'ri-sub', reconnectPeriod: 0 })
    devices.push(sub)
    await sub.subscribeAsync('#')
    let closed = false
    sub.on('close', () => { closed = true })
    const wide = await postJson(`${node.routeUrl}/v1/publish`, { topic: '€'.repeat(22_000), payload: 'x' })
    expect(wide.status).toBe(400)
    expect(wide.body.code).toBe('CIM_INVALID_ARGUMENT')
    const nul = await postJson(`${node.routeUrl}/v1/publish`, { topic: 'a\u0000b', payload: 'x' })
    expect(nul.status).toBe(400)
    const got = new Promise<string>((resolve) => sub.on('message', (t) => { if (t === 'ri/ok') resolve(t) }))
    expect((await postJson(`${node.routeUrl}/v1/publish`, { topic: 'ri/ok', payload: 'x' })).status).toBe(200)
    expect(await got).toBe('ri/ok')
    await sleep(50)
    expect(closed).toBe(false)
  })
})

describe('item 15: every error body in the catalogue format', () => {
  it('431 for headers or a URL over the limit, on the route and the broker HTTP port', async () => {
    const routePort = Number(new URL(node.routeUrl).port)
    for (const port of [routePort, node.ports.httpPort]) {
      const headers = await rawHttp(port, `GET /v1/stats HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
      expect(headers.startsWith('HTTP/1.1 431'), headers.slice(0, 80)).toBe(true)
      expect(bodyOf(headers)).toMatchObject({ statusCode: 431, code: 'CIM_HEADERS_TOO_LARGE' })
      const url = await rawHttp(port, `GET /${'u'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`)
      expect(bodyOf(url)).toMatchObject({ statusCode: 431, code: 'CIM_HEADERS_TOO_LARGE' })
    }
  })

  it('405 with Allow on the broker HTTP port and the route', async () => {
    const broker = await fetch(`http://127.0.0.1:${node.ports.httpPort}/health`, { method: 'POST' })
    expect(broker.status).toBe(405)
    expect(broker.headers.get('allow')).toBe('GET, HEAD')
    expect(await broker.json()).toMatchObject({ statusCode: 405, code: 'CIM_METHOD_NOT_ALLOWED' })
    const route = await fetch(`${node.routeUrl}/v1/push/users/1`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' })
    expect(route.status).toBe(405)
    expect(route.headers.get('allow')).toBe('POST')
    expect(await route.json()).toMatchObject({ statusCode: 405, code: 'CIM_METHOD_NOT_ALLOWED' })
    const unknown = await fetch(`${node.routeUrl}/v1/nowhere`, { method: 'PUT' })
    expect(unknown.status).toBe(404)
  })

  it('413 for a body over the limit says its prefix once', async () => {
    const res = await fetch(`${node.routeUrl}/v1/push/all`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'x'.repeat(2 * 1024 * 1024) }),
    })
    expect(res.status).toBe(413)
    const body = await res.json() as { code: string; message: string }
    expect(body.code).toBe('CIM_PAYLOAD_TOO_LARGE')
    expect(body.message.match(/too large/gi)).toHaveLength(1)
  })

  it('DELETE /v1/users/{id}/connection with a JSON content-type and no body kicks', async () => {
    const id = await user('ri-kick')
    const peer = await RawClient.connectAndLogin(node.ports.cimPort, id, 'ri-kick', { proto: '2' })
    opened.push(peer)
    await eventually(async () => (await getJson(`${node.routeUrl}/v1/users/${id}/presence`)).body.online)
    const res = await fetch(`${node.routeUrl}/v1/users/${id}/connection`, { method: 'DELETE', headers: { 'content-type': 'application/json' } })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ kicked: true })
    // A route that takes a body still refuses an empty one as invalid JSON.
    const empty = await fetch(`${node.routeUrl}/v1/push/all`, { method: 'POST', headers: { 'content-type': 'application/json' } })
    expect(empty.status).toBe(400)
    expect((await empty.json() as { code: string }).code).toBe('CIM_INVALID_JSON')
  })

  it('an invalid cursor answers 400 CIM_INVALID_ARGUMENT', async () => {
    for (const url of ['/v1/users/online?cursor=abc', '/v1/users/online?cursor=', '/v1/devices/online?cursor=%00']) {
      const res = await getJson(`${node.routeUrl}${url}`)
      expect(res.status, url).toBe(400)
      expect(res.body.code).toBe('CIM_INVALID_ARGUMENT')
    }
    expect((await getJson(`${node.routeUrl}/v1/users/online?cursor=123`)).status).toBe(200)
  })
})
