/**
 * The login transition of one session, over loopback sockets against a bare CimServer and memory
 * adapters (no route, no bus, no MQTT): refusals, repeat-login policies, the backlog of frames that
 * arrive while the login is checked, and the replay of stored messages.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { sleep } from '../../../test/support/wait.ts'
import { BaseCommand } from '../../../proto/codec.ts'
import { createMemoryAdapters, type Adapters } from '../../../adapters/index.ts'
import type { AuthHooks, UserAuthDecision, UserLogin } from '../../auth.ts'
import type { Config } from '../../../config.ts'
import { CimServer } from '../server.ts'
import { LOGGED_IN } from '../session.ts'
import { silentLogger, testConfig } from '../../../test/support/config.ts'
import { RawClient } from '../../../test/support/wire.ts'

const PROTO2 = { proto: '2' }

interface Harness {
  server: CimServer
  adapters: Adapters
  connect(): Promise<RawClient>
}

const open: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const close of open.splice(0).reverse()) await close()
})

/** A CIM server on loopback whose logins are decided by `decide` (default: everyone but mallory). */
async function start(overrides: Partial<Config> = {}, decide?: (login: UserLogin) => Promise<UserAuthDecision>): Promise<Harness> {
  const adapters = createMemoryAdapters()
  const auth: AuthHooks = {
    authenticateUser: decide ?? (async (l) => (l.userName === 'mallory' ? 'bad token' : true)),
    authenticateDevice: async () => true,
    authorizePublish: async () => true,
    authorizeSubscribe: async () => true,
  }
  const server = new CimServer({ config: testConfig({ ackTimeoutMs: 60_000, ...overrides }), adapters, auth, logger: silentLogger })
  server.brokerId = 'b1'
  const port = await server.listen(0, '127.0.0.1')
  const clients: RawClient[] = []
  open.push(async () => {
    for (const c of clients) c.close()
    await server.close()
    await adapters.close()
  })
  return {
    server, adapters,
    async connect() {
      const c = await RawClient.connect(port)
      clients.push(c)
      return c
    },
  }
}

async function loggedIn(h: Harness, userId: number, name: string, properties: Record<string, string> = PROTO2): Promise<RawClient> {
  const c = await h.connect()
  c.login(userId, name, properties)
  if (properties === PROTO2) expect((await c.frame(BaseCommand.LOGIN_REPLY)).properties.code).toBe('9000')
  else await c.until(() => h.server.loggedIn(userId) !== undefined, 3000, 'logged in')
  return c
}

async function store(adapters: Adapters, userId: number, ...texts: string[]): Promise<void> {
  for (const text of texts) await adapters.inbox.append(userId, { msgId: `m-${text}`, text, properties: { sendUserId: '9' }, ts: Date.now(), ttlMs: 60_000 })
}

describe('CIM login transition', () => {
  it('refuses a login the auth hook refuses: LOGIN_REPLY with the reason, close, nothing claimed', async () => {
    const h = await start()
    const c = await h.connect()
    c.login(1, 'mallory', PROTO2)
    const reply = await c.frame(BaseCommand.LOGIN_REPLY)
    expect(reply.properties.code).toBe('CIM_UNAUTHORIZED')
    expect(reply.resMsg).toContain('bad token')
    await c.waitClosed()
    expect(await h.adapters.presence.users.get('1')).toBeUndefined()
    expect(h.server.users.size).toBe(0)
    expect(h.server.stats.loginsRefused).toBe(1)
  })

  it('a coded refusal keeps its code (expired token); an unknown code becomes CIM_UNAUTHORIZED', async () => {
    const h = await start({}, async (l) => l.userId === 1
      ? { code: 'CIM_TOKEN_EXPIRED', message: 'Token expired: exp is in the past' }
      : { code: 'MADE_UP', message: 'nope' })
    const c = await h.connect()
    c.login(1, 'alice', PROTO2)
    expect((await c.frame(BaseCommand.LOGIN_REPLY)).properties.code).toBe('CIM_TOKEN_EXPIRED')
    await c.waitClosed()
    const d = await h.connect()
    d.login(2, 'bob', PROTO2)
    const reply = await d.frame(BaseCommand.LOGIN_REPLY)
    expect(reply.properties.code).toBe('CIM_UNAUTHORIZED')
    expect(reply.resMsg).toContain('nope')
    await d.waitClosed()
  })

  it('a client that hangs up while it is authenticated claims nothing', async () => {
    let admit!: () => void
    const h = await start({}, () => new Promise((resolve) => { admit = () => resolve(true) }))
    const c = await h.connect()
    c.login(1, 'alice', PROTO2)
    await c.until(() => admit !== undefined, 3000, 'authenticating')
    c.close()
    await c.waitClosed()
    await sleep(20)
    admit()
    await sleep(20)
    expect(await h.adapters.presence.users.get('1')).toBeUndefined()
    expect(h.server.users.size).toBe(0)
  })

  it('logs in: claims presence for this connection and tells a proto=2 client the inbox floor', async () => {
    const h = await start()
    await store(h.adapters, 1, 'a', 'b')
    await h.adapters.inbox.ack(1, 2)
    const c = await loggedIn(h, 1, 'alice')
    expect(c.frames[0].properties).toMatchObject({ code: '9000', brokerId: 'b1', ackedSeq: '2' })
    const s = h.server.loggedIn(1)!
    expect(s.state).toBe(LOGGED_IN)
    expect((await h.adapters.presence.users.get('1'))?.connId).toBe(s.connId)
    expect(s.stream!.ackedSeq).toBe(2)
    expect(h.server.stats.logins).toBe(1)
  })

  it('repeat login (reject): the second connection is refused, the first keeps the user', async () => {
    const h = await start({ repeatLogin: 'reject' })
    const first = await loggedIn(h, 1, 'alice')
    const kept = h.server.loggedIn(1)
    const second = await h.connect()
    second.login(1, 'alice', PROTO2)
    expect((await second.frame(BaseCommand.LOGIN_REPLY)).properties.code).toBe('CIM_REPEAT_LOGIN')
    await second.waitClosed()
    expect(h.server.loggedIn(1)).toBe(kept)
    expect((await h.adapters.presence.users.get('1'))?.connId).toBe(kept!.connId)
    first.ping()
    await first.frame(BaseCommand.PING)
  })

  it('kick-old: the new login replaces the old local session, which is KICKed and closed', async () => {
    const h = await start({ repeatLogin: 'kick-old' })
    const first = await loggedIn(h, 1, 'alice')
    const old = h.server.loggedIn(1)!
    const second = await loggedIn(h, 1, 'alice')
    expect((await first.frame(BaseCommand.KICK)).properties.code).toBe('CIM_KICKED')
    await first.waitClosed()
    const now = h.server.loggedIn(1)!
    expect(now).not.toBe(old)
    expect(h.server.users.size).toBe(1)
    expect((await h.adapters.presence.users.get('1'))?.connId).toBe(now.connId)
    expect(h.server.stats.closes.get('CIM_KICKED')).toBe(1)
    expect(second.isOpen).toBe(true)
  })

  it('frames sent while the login is checked are handled after it, in order (an ACK among them moves the replay)', async () => {
    let admit!: () => void
    const h = await start({}, () => new Promise((resolve) => { admit = () => resolve(true) }))
    await store(h.adapters, 1, 'one', 'two')
    const c = await h.connect()
    c.login(1, 'alice', PROTO2)
    c.ping()
    c.ack(1) // acks seq 1, received on an earlier connection whose ACK was lost
    await c.until(() => admit !== undefined, 3000, 'authenticating')
    await sleep(20)
    expect(c.frames).toEqual([])
    admit()
    const message = await c.frame(BaseCommand.MESSAGE)
    expect(c.frames.map((f) => f.cmd)).toEqual([BaseCommand.LOGIN_REPLY, BaseCommand.PING, BaseCommand.MESSAGE])
    expect(c.frames[0].properties.ackedSeq).toBe('0')
    expect(message).toMatchObject({ resMsg: 'two', properties: { seq: '2', prevSeq: '1' } })
    await c.until(() => h.server.loggedIn(1)?.stream?.catchingUp === false, 3000, 'replay done')
    expect((await h.adapters.inbox.list(1)).map((m) => m.seq)).toEqual([2])
  })

  it('replays stored messages above the floor in seq order: proto=2 one MESSAGE each with prevSeq', async () => {
    const h = await start()
    await store(h.adapters, 1, 'a', 'b', 'c', 'd')
    await h.adapters.inbox.ack(1, 1)
    const c = await loggedIn(h, 1, 'alice')
    await c.frame(BaseCommand.MESSAGE, 2)
    expect(c.messages().map((f) => [f.resMsg, f.properties.seq, f.properties.prevSeq, f.properties.msgId])).toEqual([
      ['b', '2', '1', 'm-b'], ['c', '3', '2', 'm-c'], ['d', '4', '3', 'm-d'],
    ])
    expect(c.messages()[0].properties.receiveUserId).toBe('1')
    const s = h.server.loggedIn(1)!
    await c.until(() => s.stream!.catchingUp === false, 3000, 'replay done')
    expect([s.stream!.sentSeq, s.stream!.ackedSeq]).toEqual([4, 1]) // kept until the client ACKs
    c.ack(4)
    await c.until(() => s.stream!.ackedSeq === 4, 3000, 'acked')
    await expect.poll(() => h.adapters.inbox.list(1)).toEqual([])
  })

  it('replays to an upstream client as one OFFLINE frame, acked once the socket took it', async () => {
    const h = await start()
    await store(h.adapters, 2, 'x', 'y')
    const c = await loggedIn(h, 2, 'bob', {})
    const offline = await c.frame(BaseCommand.OFFLINE)
    expect(offline).toMatchObject({ responseId: 2, batchResMsg: ['x', 'y'] })
    expect(offline.properties).toEqual({ sendUserId: '9', receiveUserId: '2' })
    await expect.poll(() => h.adapters.inbox.list(2)).toEqual([])
    expect(h.server.loggedIn(2)!.stream!.ackedSeq).toBe(2)
  })
})
