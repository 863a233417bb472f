/**
 * CimClient against PROTOCOL DOUBLES: a tiny TCP server written with proto/codec.ts that speaks
 * the CIM wire (docs/protocol.md), and a tiny HTTP server answering the route's CIM-compatible endpoints.
 * They stand in for the real broker and route so the client's wire behaviour is checked on its
 * own; the end-to-end tests with the real broker and route live in test/.
 */
import http from 'node:http'
import net from 'node:net'
import { PassThrough } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { BaseCommand, FrameDecoder, decodeRequest, encodeResponse, type RequestFrame, type ResponseInit } from '../proto/codec.ts'
import { CimClient, CimLoginError, CimRouteError, type CimMessage } from './index.ts'
import { runConsoleClient } from './console.ts'
import { eventually, sleep } from '../test/support/wait.ts'

const USER_ID = 1_700_000_000_001

/** Protocol double of a broker: records client frames, lets the test answer per session. */
class FakeCimBroker {
  readonly sessions: FakeSession[] = []
  readonly server = net.createServer({ noDelay: true }, (s) => this.sessions.push(new FakeSession(s, this.onLogin)))
  port = 0

  constructor(private readonly onLogin: (s: FakeSession, login: RequestFrame) => void) {}

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r))
    this.port = (this.server.address() as net.AddressInfo).port
    return this
  }

  close(): Promise<void> {
    for (const s of this.sessions) s.socket.destroy()
    return new Promise((r) => this.server.close(() => r()))
  }
}

class FakeSession {
  readonly frames: RequestFrame[] = []
  /** When set, pings go unanswered (a half-open connection as the client sees it). */
  mute = false
  private readonly decoder = new FrameDecoder()

  constructor(readonly socket: net.Socket, onLogin: (s: FakeSession, login: RequestFrame) => void) {
    socket.on('error', () => {})
    socket.on('data', (chunk) => this.decoder.push(chunk, (body) => {
      const f = decodeRequest(body)
      this.frames.push(f)
      if (this.frames.length === 1) onLogin(this, f)
      // Upstream pong: {resMsg: "pong", cmd: PING}.
      else if (f.cmd === BaseCommand.PING && !this.mute) this.send({ resMsg: 'pong', cmd: BaseCommand.PING })
    }))
  }

  send(m: ResponseInit): void {
    this.socket.write(encodeResponse(m))
  }

  loginReply(code = '9000', reason = 'ok'): void {
    this.send({ cmd: BaseCommand.LOGIN_REPLY, resMsg: reason, properties: { code, brokerId: 'fake-1', heartbeatSeconds: '10' } })
  }

  acks(): number[] {
    return this.frames.filter((f) => f.cmd === BaseCommand.ACK).map((f) => f.requestId)
  }
}

function push(text: string, extra: Record<string, string> = {}): ResponseInit {
  return {
    resMsg: text, responseId: USER_ID, cmd: BaseCommand.MESSAGE,
    properties: { sendUserId: '42', sendUserName: 'bob', receiveUserId: String(USER_ID), ...extra },
  }
}

/**
 * Protocol double of the route's CIM-compatible endpoints: `{code, message, reqNo, dataBody}`.
 * Without `connectAnswer` it is a route older than POST /v1/users/{userId}/connect (404 there).
 */
class FakeRoute {
  readonly calls: Array<{ path: string; body: any }> = []
  loginAnswer: () => { code: string; message?: string } = () => ({ code: '9000' })
  /** The /v1 connect answer: HTTP status and body. */
  connectAnswer?: (body: { token?: string; avoid?: string[] }) => { status: number; body: object }
  readonly server = http.createServer((req, res) => {
    let raw = ''
    req.on('data', (c) => { raw += c })
    req.on('end', () => {
      const body = raw ? JSON.parse(raw) : undefined
      this.calls.push({ path: req.url ?? '', body })
      if (req.url?.startsWith('/v1/')) {
        const v1 = req.url.endsWith('/connect') && this.connectAnswer
          ? this.connectAnswer(body)
          : { status: 404, body: { statusCode: 404, code: 'CIM_NOT_FOUND', message: `Not found: ${req.url}` } }
        if (v1.status === 200) v1.body = { host: '127.0.0.1', cimPort: this.brokerPort, httpPort: 8081, ...v1.body }
        res.writeHead(v1.status, { 'content-type': 'application/json' }).end(JSON.stringify(v1.body))
        return
      }
      let out: { code: string; message?: string; dataBody?: unknown } = { code: '9000', message: 'success' }
      if (req.url === '/registerAccount') out.dataBody = { userId: USER_ID, userName: body.userName }
      if (req.url === '/login') {
        out = this.loginAnswer()
        if (out.code === '9000') out.dataBody = { ip: '127.0.0.1', cimServerPort: this.brokerPort, httpPort: 8081 }
      }
      if (req.url === '/onlineUser') out.dataBody = [{ userId: USER_ID, userName: 'alice' }, { userId: 42, userName: 'bob' }]
      if (req.url === '/p2pRoute' && body.receiveUserId === 7) out = { code: '7000', message: 'offline' }
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ reqNo: null, message: 'success', dataBody: null, ...out }))
    })
  })
  url = ''

  constructor(private readonly brokerPort: number) {}

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r))
    this.url = `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`
    return this
  }

  count(path: string): number {
    return this.calls.filter((c) => c.path === path).length
  }

  close(): Promise<void> {
    this.server.closeAllConnections()
    return new Promise((r) => this.server.close(() => r()))
  }
}

let cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanups.reverse()) await c()
  cleanups = []
})

async function setup(onLogin: (s: FakeSession, login: RequestFrame) => void = (s) => s.loginReply()) {
  const broker = await new FakeCimBroker(onLogin).listen()
  const route = await new FakeRoute(broker.port).listen()
  cleanups.push(() => broker.close(), () => route.close())
  return { broker, route }
}

function client(routeUrl: string, over: Partial<ConstructorParameters<typeof CimClient>[0]> = {}) {
  const messages: CimMessage[] = []
  const c = new CimClient({ routeUrl, userName: 'alice', onMessage: (m) => messages.push(m), reconnect: { minMs: 20, maxMs: 50 }, ...over })
  cleanups.push(() => c.close())
  return { c, messages }
}

describe('CimClient over the wire (protocol doubles)', () => {
  it('registers, logs in with proto=2, acks cumulatively, drops duplicates, orders by seq and pings when idle', async () => {
    const { broker, route } = await setup()
    const { c, messages } = client(route.url, { heartbeatMs: 150 })
    const connected: unknown[] = []
    c.on('connected', (i) => connected.push(i))
    await c.connect()

    // An older route (no /v1 connect): the client falls back to the upstream-compatible /login.
    expect(route.calls.map((x) => x.path)).toEqual(['/registerAccount', `/v1/users/${USER_ID}/connect`, '/login'])
    expect(route.calls[2].body).toEqual({ userId: USER_ID, userName: 'alice' })
    const s = broker.sessions[0]
    // Login frame: no cmd (LOGIN_REQUEST = 0), reqMsg userName, requestId userId, proto=2.
    expect(s.frames[0]).toMatchObject({ cmd: BaseCommand.LOGIN_REQUEST, reqMsg: 'alice', requestId: USER_ID, properties: { proto: '2' } })
    expect(connected).toEqual([expect.objectContaining({ brokerId: 'fake-1', userId: USER_ID, cimServerPort: broker.port, reconnect: false })])
    expect(c.userId).toBe(USER_ID)

    // seq 1, a redelivery of seq 1, seq 3 (gap), then seq 2 — written as one buffer cut mid-frame.
    const bytes = Buffer.concat([
      encodeResponse(push('one', { msgId: 'm1', seq: '1' })),
      encodeResponse(push('one', { msgId: 'm1', seq: '1' })),
      encodeResponse(push('three', { msgId: 'm3', seq: '3' })),
      encodeResponse(push('two', { msgId: 'm2', seq: '2', ts: '1700000000000' })),
    ])
    s.socket.write(bytes.subarray(0, 7))
    await sleep(20)
    s.socket.write(bytes.subarray(7))

    await eventually(() => messages.length === 3, 3_000, 'three messages')
    expect(messages.map((m) => [m.text, m.seq, m.sendUserName, m.sendUserId, m.offline])).toEqual([
      ['one', 1, 'bob', 42, false], ['two', 2, 'bob', 42, false], ['three', 3, 'bob', 42, false],
    ])
    expect(messages[1]).toMatchObject({ msgId: 'm2', ts: 1700000000000, receiveUserId: USER_ID })
    await eventually(() => s.acks().at(-1) === 3, 3_000, 'ACK 3')
    // Acks only ever advance and never pass a gap.
    expect(s.acks().every((a, i, all) => i === 0 || a >= all[i - 1])).toBe(true)

    // Write-idle heartbeat: upstream's ping packet.
    const ping = await eventually(() => s.frames.find((f) => f.cmd === BaseCommand.PING), 3_000, 'a PING')
    expect(ping).toMatchObject({ reqMsg: 'ping', requestId: USER_ID })
  })

  it('re-acks a redelivery so the broker can drop what the client already has', async () => {
    const { broker, route } = await setup()
    const { c, messages } = client(route.url, { userId: USER_ID })
    await c.connect()
    const s = broker.sessions[0]
    s.send(push('a', { msgId: 'x1', seq: '9' }))
    await eventually(() => s.acks().length === 1, 3_000, 'first ACK')
    s.send(push('a', { msgId: 'x1', seq: '9' }))
    await eventually(() => s.acks().length === 2, 3_000, 'second ACK')
    expect(s.acks()).toEqual([9, 9])
    expect(messages).toHaveLength(1)
    expect(route.count('/registerAccount')).toBe(0)
  })

  it('never acks past a gap: holds later seqs until the redelivery fills it, then acks them all', async () => {
    const { broker, route } = await setup()
    const { c, messages } = client(route.url, { userId: USER_ID })
    await c.connect()
    const s = broker.sessions[0]
    s.send(push('one', { msgId: 'g1', seq: '1' }))
    s.send(push('three', { msgId: 'g3', seq: '3' }))
    s.send(push('four', { msgId: 'g4', seq: '4' }))
    await eventually(() => s.acks().length >= 1, 3_000, 'ACK 1')
    await sleep(100)
    expect(messages.map((m) => m.text)).toEqual(['one'])
    expect(c.holding).toBe(2)
    expect(s.acks().every((a) => a === 1)).toBe(true) // seq 2 never arrived: the ACK must not pass it
    // The broker's redelivery after its ack timeout: everything above the acked seq, again.
    for (const [text, seq] of [['two', 2], ['three', 3], ['four', 4]] as const) s.send(push(text, { msgId: `g${seq}`, seq: String(seq), prevSeq: String(seq - 1) }))
    await eventually(() => s.acks().at(-1) === 4, 3_000, 'ACK 4')
    expect(messages.map((m) => m.text)).toEqual(['one', 'two', 'three', 'four'])
    expect(c.duplicatesDropped).toBe(2) // the redelivered copies of 3 and 4
  })

  it('stops waiting for seqs the broker says expired (prevSeq), and delivers what it held in order', async () => {
    const { broker, route } = await setup()
    const { c, messages } = client(route.url, { userId: USER_ID })
    await c.connect()
    const s = broker.sessions[0]
    s.send(push('one', { msgId: 'e1', seq: '1' }))
    s.send(push('four', { msgId: 'e4', seq: '4' }))
    await eventually(() => c.holding === 1, 3_000, 'seq 4 held')
    // Redelivery from seq 1: 2 and 3 expired in the inbox, so the first message names prevSeq 1.
    s.send(push('four', { msgId: 'e4', seq: '4', prevSeq: '1' }))
    s.send(push('five', { msgId: 'e5', seq: '5', prevSeq: '4' }))
    await eventually(() => s.acks().at(-1) === 5, 3_000, 'ACK 5')
    expect(messages.map((m) => m.text)).toEqual(['one', 'four', 'five'])
  })

  it('starts at the LOGIN_REPLY ackedSeq: a live seq that overtakes the replay waits for it', async () => {
    const { broker, route } = await setup((s) => s.send({
      cmd: BaseCommand.LOGIN_REPLY, resMsg: 'ok', properties: { code: '9000', brokerId: 'fake-1', heartbeatSeconds: '10', ackedSeq: '10' },
    }))
    const { c, messages } = client(route.url, { userId: USER_ID })
    await c.connect()
    const s = broker.sessions[0]
    s.send(push('twelve', { msgId: 'l12', seq: '12' }))
    s.send(push('ten again', { msgId: 'l10', seq: '10' })) // acked before: a duplicate
    await sleep(50)
    expect(messages).toEqual([])
    s.send(push('eleven', { msgId: 'l11', seq: '11', prevSeq: '10' }))
    await eventually(() => messages.length === 2, 3_000, 'both in order')
    expect(messages.map((m) => m.seq)).toEqual([11, 12])
    await eventually(() => s.acks().at(-1) === 12, 3_000, 'ACK 12')
    expect(c.duplicatesDropped).toBe(1)
  })

  it('drops a second copy of one message stored twice (same msgId under two seqs) but acks both', async () => {
    const { broker, route } = await setup()
    const { c, messages } = client(route.url, { userId: USER_ID })
    await c.connect()
    const s = broker.sessions[0]
    s.send(push('retried', { msgId: 'same', seq: '1' }))
    s.send(push('retried', { msgId: 'same', seq: '2' }))
    s.send(push('next', { msgId: 'other', seq: '3' }))
    await eventually(() => s.acks().at(-1) === 3, 3_000, 'ACK 3')
    expect(messages.map((m) => m.text)).toEqual(['retried', 'next'])
    expect(c.duplicatesDropped).toBe(1)
  })

  it('never lets a seq the broker did not mark (qosMarked) move the window: a forged seq 2 cannot drop the real one', async () => {
    const { broker, route } = await setup((s) => s.send({
      cmd: BaseCommand.LOGIN_REPLY, resMsg: 'ok', properties: { code: '9000', brokerId: 'fake-1', heartbeatSeconds: '10', ackedSeq: '0', qosMarked: '1' },
    }))
    const { c, messages } = client(route.url, { userId: USER_ID })
    await c.connect()
    const s = broker.sessions[0]
    // issue 9 item 1: a qos 0 push whose caller put seq "2" in its properties (no qos mark).
    s.send(push('forged', { msgId: 'f', seq: '2', ts: '1700000000000' }))
    await eventually(() => messages.length === 1, 3_000, 'the forged push, as at most once')
    expect(messages[0]).toMatchObject({ text: 'forged', seq: undefined })
    await sleep(30)
    expect(s.acks()).toEqual([])
    s.send(push('one', { msgId: 'm1', seq: '1', qos: '1' }))
    s.send(push('two', { msgId: 'm2', seq: '2', qos: '1' }))
    await eventually(() => s.acks().at(-1) === 2, 3_000, 'ACK 2')
    expect(messages.map((m) => [m.text, m.seq])).toEqual([['forged', undefined], ['one', 1], ['two', 2]])
    expect(c.duplicatesDropped).toBe(0)
  })

  it('drops a connection that stops answering pings and logs in again', async () => {
    const { broker, route } = await setup((s) => { s.mute = true; s.loginReply() })
    const { c } = client(route.url, { userId: USER_ID, heartbeatMs: 40, readTimeoutMs: 150 })
    const reasons: string[] = []
    c.on('disconnected', (d) => reasons.push(d.reason))
    await c.connect()
    await eventually(() => broker.sessions.length === 2, 3_000, 'second session')
    expect(reasons[0]).toMatch(/Nothing read for 150 ms/)
    expect(route.count('/login')).toBeGreaterThanOrEqual(2)
  })

  it('rejects connect() with the LOGIN_REPLY code', async () => {
    const { route } = await setup((s) => s.loginReply('CIM_UNAUTHORIZED', 'bad token'))
    const { c } = client(route.url, { token: 'nope' })
    const err = await c.connect().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CimLoginError)
    expect(err).toMatchObject({ code: 'CIM_UNAUTHORIZED' })
    expect(c.state).toBe('idle')
  })

  it('a token provider is asked at each login, and once more at once when the token was expired', async () => {
    const { broker, route } = await setup((s, login) => s.loginReply(login.properties.token === 'fresh-2' ? '9000' : 'CIM_TOKEN_EXPIRED', 'expired'))
    let calls = 0
    const { c } = client(route.url, { userId: USER_ID, tokenProvider: async () => `fresh-${++calls}`, reconnect: { minMs: 5_000, maxMs: 10_000 } })
    await c.connect()
    expect(calls).toBe(2)
    expect(broker.sessions.map((s) => s.frames[0].properties.token)).toEqual(['fresh-1', 'fresh-2'])
    // Still expired after the renewal: connect() fails (no loop of provider calls).
    const { c: c2 } = client(route.url, { userId: USER_ID, tokenProvider: async () => 'stale' })
    await expect(c2.connect()).rejects.toMatchObject({ code: 'CIM_TOKEN_EXPIRED' })
  })

  it('KICK CIM_TOKEN_REVOKED ends a fixed-token client; a token provider logs in again with a new token', async () => {
    const { broker, route } = await setup()
    const fixed = client(route.url, { userId: USER_ID, token: 'fixed' }).c
    const kicked: unknown[] = []
    fixed.on('kicked', (k) => kicked.push(k))
    await fixed.connect()
    broker.sessions[0].send({ cmd: BaseCommand.KICK, properties: { code: 'CIM_TOKEN_REVOKED', reason: 'Tokens revoked' } })
    await eventually(() => kicked.length === 1, 3_000, 'kicked event')
    expect(fixed.state).toBe('closed')

    let calls = 0
    const renewing = client(route.url, { userId: USER_ID, tokenProvider: async () => `t-${++calls}` }).c
    await renewing.connect()
    broker.sessions[1].send({ cmd: BaseCommand.KICK, properties: { code: 'CIM_TOKEN_REVOKED', reason: 'Tokens revoked' } })
    await eventually(() => broker.sessions.length === 3 && renewing.state === 'connected', 3_000, 'logged in again')
    expect(broker.sessions[2].frames[0].properties.token).toBe('t-2')
  })

  it('rejects connect() with the route code (5000 repeat login)', async () => {
    const { route } = await setup()
    route.loginAnswer = () => ({ code: '5000', message: 'repeat login' })
    const { c } = client(route.url)
    const err = await c.connect().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CimRouteError)
    expect(err).toMatchObject({ code: '5000' })
  })

  it('with proto2:false, speaks plain upstream: no reply awaited, offline batches, no ACK', async () => {
    const { broker, route } = await setup(() => {}) // upstream servers send no login reply
    const { c, messages } = client(route.url, { proto2: false, userId: USER_ID })
    await c.connect()
    const s = await eventually(() => broker.sessions[0]?.frames.length ? broker.sessions[0] : undefined, 3_000, 'login frame')
    expect(s.frames[0].properties).toEqual({})
    s.send({ cmd: BaseCommand.OFFLINE, batchResMsg: ['first', 'second'], properties: { sendUserName: 'bob', receiveUserId: String(USER_ID) } })
    s.send(push('live', { seq: '5' }))
    await eventually(() => messages.length === 3, 3_000, 'three messages')
    expect(messages.map((m) => [m.text, m.offline])).toEqual([['first', true], ['second', true], ['live', false]])
    await sleep(50)
    expect(s.acks()).toEqual([])
  })

  it('reconnects through the route after the broker drops the connection', async () => {
    const { broker, route } = await setup()
    const { c } = client(route.url, { userId: USER_ID })
    const events: string[] = []
    c.on('disconnected', (d) => events.push(`disconnected:${d.willReconnect}`))
    c.on('connected', (i) => events.push(`connected:${i.reconnect}`))
    await c.connect()
    // The first re-login meets a stale login on the route: the client clears it and retries.
    route.loginAnswer = () => (route.count('/login') === 2 ? { code: '5000' } : { code: '9000' })
    broker.sessions[0].socket.destroy()
    await eventually(() => broker.sessions.length === 2 && c.state === 'connected', 3_000, 'second session')
    expect(events).toEqual(['connected:false', 'disconnected:true', 'connected:true'])
    expect(route.calls.map((x) => x.path).filter((p) => !p.startsWith('/v1/'))).toEqual(['/login', '/login', '/offLine', '/login'])
  })

  it('finds its broker through /v1 connect with its token, and takes the route\'s refusal code', async () => {
    const { broker, route } = await setup()
    route.connectAnswer = ({ token }) => (token === 't-ok'
      ? { status: 200, body: { brokerId: 'b7', cimTlsPort: 11443 } }
      : { status: 401, body: { statusCode: 401, code: 'CIM_UNAUTHORIZED', message: 'Authentication required: no token' } })
    const { c } = client(route.url, { userId: USER_ID, token: 't-ok' })
    const connected: unknown[] = []
    c.on('connected', (i) => connected.push(i))
    await c.connect()
    expect(route.calls).toEqual([{ path: `/v1/users/${USER_ID}/connect`, body: { token: 't-ok' } }])
    expect(broker.sessions[0].frames[0].properties.token).toBe('t-ok')
    expect(connected).toEqual([expect.objectContaining({ cimServerPort: broker.port, cimTlsPort: 11443, brokerId: 'fake-1' })])

    const refused = client(route.url, { userId: USER_ID, reconnect: false }).c
    const err = await refused.connect().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CimRouteError)
    expect(err).toMatchObject({ code: 'CIM_UNAUTHORIZED' })
    expect(route.calls.at(-1)).toEqual({ path: `/v1/users/${USER_ID}/connect`, body: {} })
    expect(route.count('/login')).toBe(0)
    // An unknown user is a 404 too, but not "an older route": no fallback.
    route.connectAnswer = () => ({ status: 404, body: { statusCode: 404, code: 'CIM_USER_NOT_FOUND', message: 'Unknown user' } })
    await expect(client(route.url, { userId: USER_ID, reconnect: false }).c.connect()).rejects.toMatchObject({ code: 'CIM_USER_NOT_FOUND' })
    expect(route.count('/login')).toBe(0)
  })

  it('asks the route again at once, avoiding the broker it named, when that broker refuses the TCP connect', async () => {
    const { broker, route } = await setup()
    const closed = net.createServer()
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
    const deadPort = (closed.address() as net.AddressInfo).port
    await new Promise<void>((r) => closed.close(() => r()))
    // A killed broker the route still lists (its ZooKeeper session has not expired yet).
    route.connectAnswer = (body: { avoid?: string[] }) => (body.avoid?.includes('dead')
      ? { status: 200, body: { brokerId: 'live' } }
      : { status: 200, body: { brokerId: 'dead', cimPort: deadPort } })
    // The backoff is at least 5 s here, so connecting within the test proves the immediate retry.
    const { c } = client(route.url, { userId: USER_ID, reconnect: { minMs: 5_000, maxMs: 10_000 } })
    await c.connect()
    expect(broker.sessions).toHaveLength(1)
    expect(route.calls.map((x) => x.body)).toEqual([{}, { avoid: ['dead'] }])
  })

  it('moves at once on KICK CIM_DRAINING, and stops on KICK CIM_KICKED', async () => {
    const { broker, route } = await setup()
    const { c } = client(route.url, { userId: USER_ID, reconnect: { minMs: 5_000, maxMs: 10_000 } })
    const kicked: unknown[] = []
    c.on('kicked', (k) => kicked.push(k))
    await c.connect()
    broker.sessions[0].send({ cmd: BaseCommand.KICK, properties: { code: 'CIM_DRAINING', reason: 'draining' } })
    // Backoff is at least 5 s here, so a reconnect within the wait proves the immediate path.
    await eventually(() => broker.sessions.length === 2 && c.state === 'connected', 2_000, 'reconnect after drain')
    expect(route.count('/login')).toBe(2)

    broker.sessions[1].send({ cmd: BaseCommand.KICK, properties: { code: 'CIM_KICKED', reason: 'newer login' } })
    await eventually(() => kicked.length === 1, 3_000, 'kicked event')
    expect(kicked[0]).toEqual({ code: 'CIM_KICKED', reason: 'newer login' })
    expect(c.state).toBe('closed')
  })

  it('close() stops reconnecting', async () => {
    const { broker, route } = await setup()
    const { c } = client(route.url, { userId: USER_ID, reconnect: { minMs: 100, maxMs: 100 } })
    await c.connect()
    broker.sessions[0].socket.destroy()
    await eventually(() => c.state === 'reconnecting', 3_000, 'reconnecting state')
    c.close()
    await sleep(250)
    expect(route.count('/login')).toBe(1)
  })
})

describe('console client (protocol doubles)', () => {
  it('runs the upstream commands and prints pushes as [HH:mm:ss] name: text', async () => {
    const { broker, route } = await setup()
    const input = new PassThrough()
    const output = new PassThrough()
    let printed = ''
    output.on('data', (d) => { printed += d })
    const done = runConsoleClient({ routeUrl: route.url, userName: 'alice', input, output })
    cleanups.push(() => { input.end(); return done.catch(() => {}) })

    const s = await eventually(() => broker.sessions[0]?.frames.length ? broker.sessions[0] : undefined, 3_000, 'login')
    await eventually(() => printed.includes('connected as alice'), 3_000, 'connected line')
    s.send(push('hello alice', { ts: String(new Date(2024, 0, 1, 13, 4, 5).getTime()) }))
    await eventually(() => printed.includes('[13:04:05] bob: hello alice'), 3_000, 'formatted push')

    input.write(':info\n')
    await eventually(() => printed.includes(`userId=${USER_ID} userName=alice broker=127.0.0.1:${broker.port} (fake-1)`), 3_000, ':info line')
    input.write(':pu bo\n')
    await eventually(() => printed.includes('userId=42 userName=bob'), 3_000, ':pu line')
    input.write('42;;psst\n')
    input.write('7;;are you there\n')
    input.write('hi all\n')
    await eventually(() => printed.includes('user 7 is offline'), 3_000, 'offline notice')
    await eventually(() => route.count('/groupRoute') === 1, 3_000, 'group call')
    expect(route.calls.find((x) => x.path === '/p2pRoute')?.body).toEqual({ userId: USER_ID, receiveUserId: 42, msg: 'psst' })
    expect(route.calls.find((x) => x.path === '/groupRoute')?.body).toEqual({ userId: USER_ID, msg: 'hi all' })

    input.write(':q!\n')
    await done
    expect(route.count('/offLine')).toBe(1)
  })
})
