/**
 * Login state: repeat-login policies (also across two brokers on one set of adapters), read
 * timeouts, kicks from the bus, and presence following the newest connection.
 */
import { describe, expect, it } from 'vitest'
import type { Adapters } from '../adapters/index.ts'
import { BaseCommand } from '../proto/codec.ts'
import type { Config } from '../config.ts'
import { brokerFixture, type TestBroker } from './support/broker-harness.ts'
import { eventually } from './support/wait.ts'

const fx = brokerFixture()
/** A broker closed after the test; `shared` adapters put two brokers on one cluster state. */
const broker = (overrides: Partial<Config> = {}, shared?: Adapters) => fx.broker(overrides, shared)
const client = (tb: TestBroker) => fx.client(tb.ports.cimPort)

const online = (tb: TestBroker, userId: number) => tb.adapters.presence.users.get(String(userId))

/** Registers `name`, whose presence entry `brokerId` already holds; its userId. */
async function registeredAndHeld(tb: TestBroker, name: string, brokerId: string, connId: string): Promise<number> {
  const { userId } = await tb.adapters.accounts.register(name)
  await tb.adapters.presence.users.claim(
    { id: String(userId), name, brokerId, connId, since: 1 },
    { replace: false, ttlMs: 60_000 },
  )
  return userId
}

/** Logs a proto=2 client in; the code of its LOGIN_REPLY. */
async function proto2LoginCode(tb: TestBroker, userId: number, name: string): Promise<string> {
  const c = await client(tb)
  c.login(userId, name, { proto: '2' })
  return (await c.frame(BaseCommand.LOGIN_REPLY)).properties.code
}

describe('repeat login', () => {
  it('rejects a second login by default (proto=2 told CIM_REPEAT_LOGIN) and keeps the first', async () => {
    const tb = await broker()
    const { userId } = await tb.adapters.accounts.register('ann')
    const first = await client(tb)
    first.login(userId, 'ann')
    const entry = await eventually(() => online(tb, userId))
    const second = await client(tb)
    second.login(userId, 'ann', { proto: '2' })
    const reply = await second.frame(BaseCommand.LOGIN_REPLY)
    expect(reply.properties.code).toBe('CIM_REPEAT_LOGIN')
    await second.waitClosed()
    expect(first.isOpen).toBe(true)
    expect((await online(tb, userId))?.connId).toBe(entry.connId)
  })

  it('a presence entry left by a broker that discovery no longer lists does not block a login', async () => {
    const tb = await broker()
    // What a SIGKILLed broker leaves behind until its TTL runs out.
    const userId = await registeredAndHeld(tb, 'crash-survivor', 'dead-broker', 'gone')
    expect(await proto2LoginCode(tb, userId, 'crash-survivor')).toBe('9000')
    expect((await online(tb, userId))?.brokerId).toBe(tb.broker.id)
  })

  it('an entry held by a live broker still counts as a repeat login', async () => {
    const tb = await broker()
    await tb.adapters.discovery.register({ id: 'other-live', host: '127.0.0.1', cimPort: 1, httpPort: 2, mqttPort: 3, wsPort: 4, connections: 1, draining: false, startedAt: 1 })
    const userId = await registeredAndHeld(tb, 'held-elsewhere', 'other-live', 'c1')
    expect(await proto2LoginCode(tb, userId, 'held-elsewhere')).toBe('CIM_REPEAT_LOGIN')
  })

  it('with kick-old, KICKs and closes the old proto=2 session; presence names the new one', async () => {
    const tb = await broker({ repeatLogin: 'kick-old' })
    const { userId } = await tb.adapters.accounts.register('ben')
    const old = await client(tb)
    old.login(userId, 'ben', { proto: '2' })
    await old.frame(BaseCommand.LOGIN_REPLY)
    const before = await online(tb, userId)
    const fresh = await client(tb)
    fresh.login(userId, 'ben', { proto: '2' })
    await fresh.frame(BaseCommand.LOGIN_REPLY)
    const kick = await old.frame(BaseCommand.KICK)
    expect(kick.properties.code).toBe('CIM_KICKED')
    await old.waitClosed()
    const after = await online(tb, userId)
    expect(after?.connId).not.toBe(before?.connId)
    // The old session's late release did not erase the new entry; pushes reach the new one.
    expect((await tb.route.push(tb.broker.id, { userIds: [userId], text: 'hi', properties: {} })).delivered).toEqual([userId])
    expect((await fresh.frame(BaseCommand.MESSAGE)).resMsg).toBe('hi')
  })

  it('with kick-old across brokers, the broker holding the old login closes it', async () => {
    const a = await broker({ repeatLogin: 'kick-old' })
    const b = await broker({ repeatLogin: 'kick-old' }, a.adapters)
    expect(a.broker.id).not.toBe(b.broker.id)
    const { userId } = await a.adapters.accounts.register('cid')
    const old = await client(a)
    old.login(userId, 'cid')
    await eventually(() => online(a, userId))
    const fresh = await client(b)
    fresh.login(userId, 'cid')
    await old.waitClosed()
    expect((await online(a, userId))?.brokerId).toBe(b.broker.id)
    expect(fresh.isOpen).toBe(true)
  })
})

describe('timeouts and kicks', () => {
  it('drops a client that sends nothing for readTimeoutMs and clears its presence', async () => {
    const tb = await broker({ readTimeoutMs: 300 })
    const { userId } = await tb.adapters.accounts.register('dan')
    const idle = await client(tb)
    idle.login(userId, 'dan')
    await eventually(() => online(tb, userId))
    const pinging = await client(tb)
    const { userId: other } = await tb.adapters.accounts.register('eva')
    pinging.login(other, 'eva')
    const timer = setInterval(() => pinging.ping(), 50)
    try {
      await idle.waitClosed(2000)
      expect(await online(tb, userId)).toBeUndefined()
      expect(pinging.isOpen).toBe(true)
    } finally {
      clearInterval(timer)
    }
  })

  it('closes a user on a kick from the bus (only the named connection)', async () => {
    const tb = await broker()
    const { userId } = await tb.adapters.accounts.register('fay')
    const c = await client(tb)
    c.login(userId, 'fay', { proto: '2' })
    const entry = await eventually(() => online(tb, userId))
    expect(await tb.route.kick(tb.broker.id, { userId, connId: 'someone-else', code: 'CIM_ADMIN_KICK', reason: 'x' })).toBe(false)
    expect(await tb.route.kick(tb.broker.id, { userId, connId: entry.connId, code: 'CIM_ADMIN_KICK', reason: 'bye' })).toBe(true)
    const kick = await c.frame(BaseCommand.KICK)
    expect(kick.properties).toEqual({ code: 'CIM_ADMIN_KICK', reason: 'bye' })
    await c.waitClosed()
    await eventually(async () => (await online(tb, userId)) === undefined)
  })

  it('releases presence when the client hangs up', async () => {
    const tb = await broker()
    const { userId } = await tb.adapters.accounts.register('gus')
    const c = await client(tb)
    c.login(userId, 'gus')
    await eventually(() => online(tb, userId))
    c.close()
    await eventually(async () => (await online(tb, userId)) === undefined)
    expect(tb.broker.connections()).toBe(0)
  })
})
