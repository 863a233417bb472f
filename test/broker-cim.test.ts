/**
 * CIM TCP wire behaviour of a broker, over real sockets: golden bytes, login, pushes from the bus,
 * framing across reads, and protocol errors that close only the offending connection.
 */
import { beforeEach, describe, expect, it } from 'vitest'
import { BaseCommand, encodeRequest, encodeRequestBody, frame } from '../proto/codec.ts'
import { brokerFixture, type TestBroker } from './support/broker-harness.ts'
import { type RawClient } from './support/wire.ts'
import { eventually } from './support/wait.ts'

const fx = brokerFixture()
let tb: TestBroker
const client = () => fx.client(tb.ports.cimPort)

/** Registers a user and logs a raw client in as it (upstream: no reply; presence shows it). */
async function loggedIn(name: string, properties?: Record<string, string>): Promise<{ c: RawClient; userId: number }> {
  const { userId } = await tb.adapters.accounts.register(name)
  const c = await client()
  c.login(userId, name, properties)
  await eventually(() => tb.adapters.presence.users.get(String(userId)), 3000, `${name} online`)
  return { c, userId }
}

beforeEach(async () => {
  tb = await fx.broker()
})

describe('CIM TCP wire', () => {
  it('answers a ping with the upstream pong bytes and sends no login reply to upstream clients', async () => {
    const { c } = await loggedIn('alice')
    c.ping()
    await c.frame(BaseCommand.PING)
    expect(Buffer.concat(c.raw).toString('hex')).toBe('080a04706f6e67180' + '2')
    expect(c.frames).toHaveLength(1)
  })

  it('logs in with raw frames and receives a push from the bus carrying all three properties', async () => {
    const { c, userId } = await loggedIn('bob')
    const entry = await tb.adapters.presence.users.get(String(userId))
    expect(entry).toMatchObject({ id: String(userId), name: 'bob', brokerId: tb.broker.id })

    const reply = await tb.route.push(tb.broker.id, {
      userIds: [userId, 999], text: 'hello bob', properties: { sendUserId: '7', sendUserName: 'carol' },
    })
    expect(reply).toMatchObject({ type: 'push-result', delivered: [userId], offline: [999] })
    const f = await c.frame(BaseCommand.MESSAGE)
    expect(f).toMatchObject({ resMsg: 'hello bob', responseId: userId, cmd: BaseCommand.MESSAGE })
    expect(f.properties).toEqual({ sendUserId: '7', sendUserName: 'carol', receiveUserId: String(userId) })
  })

  it('reassembles frames split byte by byte and handles several frames merged in one write', async () => {
    const { userId } = await tb.adapters.accounts.register('dora')
    const c = await client()
    const login = encodeRequest({ requestId: userId, reqMsg: 'dora' })
    const ping = encodeRequest({ cmd: BaseCommand.PING, reqMsg: 'ping', requestId: userId })
    for (const byte of Buffer.concat([login, ping])) {
      c.send(Buffer.from([byte]))
      await new Promise((r) => setImmediate(r))
    }
    await c.frame(BaseCommand.PING)
    // Login immediately followed by two pings in one write: the pings wait for the login.
    const c2 = await client()
    const { userId: id2 } = await tb.adapters.accounts.register('eve')
    c2.send(Buffer.concat([encodeRequest({ requestId: id2, reqMsg: 'eve' }), ping, ping]))
    await c2.frame(BaseCommand.PING, 1)
    expect(c2.isOpen).toBe(true)
  })

  it('never re-binds the connection from the userId inside a ping', async () => {
    const { c, userId } = await loggedIn('frank')
    const { userId: other } = await tb.adapters.accounts.register('grace')
    c.ping(other)
    await c.frame(BaseCommand.PING)
    expect((await tb.route.push(tb.broker.id, { userIds: [other], text: 'x', properties: {} })).offline).toEqual([other])
    expect((await tb.route.push(tb.broker.id, { userIds: [userId], text: 'y', properties: {} })).delivered).toEqual([userId])
  })

  const bad: Array<[string, () => Buffer]> = [
    ['a malformed body', () => frame(Buffer.from([0x0a, 0x10, 0x41]))],
    ['an oversized varint length', () => Buffer.from([0xff, 0xff, 0xff, 0x7f])],
    ['a frame before login', () => encodeRequest({ cmd: BaseCommand.PING, reqMsg: 'ping' })],
    ['garbage bytes', () => Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(200)}\r\n\r\n`)],
  ]
  for (const [what, bytes] of bad) {
    it(`closes only the connection that sent ${what}`, async () => {
      const { c: good, userId } = await loggedIn('henry')
      const offender = await client()
      offender.send(bytes())
      await offender.waitClosed()
      expect(offender.frames).toEqual([]) // upstream clients get no KICK
      expect(good.isOpen).toBe(true)
      const reply = await tb.route.push(tb.broker.id, { userIds: [userId], text: 'still here', properties: {} })
      expect(reply.delivered).toEqual([userId])
      expect((await good.frame(BaseCommand.MESSAGE)).resMsg).toBe('still here')
    })
  }

  it('closes a logged-in connection that sends an unknown command, with a KICK for proto=2', async () => {
    const { c } = await loggedIn('ivan', { proto: '2' })
    c.send(encodeRequest({ cmd: 42 as BaseCommand }))
    const kick = await c.frame(BaseCommand.KICK)
    expect(kick.properties.code).toBe('CIM_UNKNOWN_COMMAND')
    await c.waitClosed()
  })

  it('refuses an unknown user and a userId above 2^53-1', async () => {
    const unknown = await client()
    unknown.login(123456, 'nobody')
    await unknown.waitClosed()
    expect(await tb.adapters.presence.users.get('123456')).toBeUndefined()

    // int64 9007199254740993 (2^53 + 1) written by hand: JS numbers cannot carry it.
    const big = await client()
    const body = Buffer.concat([
      Buffer.from(encodeRequestBody({ reqMsg: 'huge', properties: { proto: '2' } })),
      Buffer.from([0x10, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]),
    ])
    big.send(frame(body))
    const reply = await big.frame(BaseCommand.LOGIN_REPLY)
    expect(reply.properties.code).toBe('CIM_USER_ID_OUT_OF_RANGE')
    expect(reply.resMsg).toContain('9007199254740993')
    await big.waitClosed()
  })

  it('answers a proto=2 login with LOGIN_REPLY ok, and a refused one with its code', async () => {
    const { c } = await loggedIn('judy', { proto: '2' })
    const ok = await c.frame(BaseCommand.LOGIN_REPLY)
    expect(ok.resMsg).toBe('ok')
    expect(ok.properties).toMatchObject({ code: '9000', brokerId: tb.broker.id })
    expect(Number(ok.properties.heartbeatSeconds)).toBeGreaterThan(0)

    const { userId } = await tb.adapters.accounts.register('kate')
    const wrongName = await client()
    wrongName.login(userId, 'not-kate', { proto: '2' })
    const no = await wrongName.frame(BaseCommand.LOGIN_REPLY)
    expect(no.properties.code).toBe('CIM_UNAUTHORIZED')
    expect(no.resMsg).toContain('not registered')
    await wrongName.waitClosed()
  })
})
