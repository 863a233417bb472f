/**
 * The broker's side of the bus API over the memory bus: every request kind of BrokerApi is answered
 * with its own reply; an unknown kind (a newer route during a rolling upgrade) and a failing handler
 * are answered with an ErrorReply and logged, never dropped; the route's client reads an ErrorReply
 * as "not delivered" at once instead of waiting out its timeout.
 */
import { Writable } from 'node:stream'
import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { brokerChannel, BROADCAST_CHANNEL, type BusMessage } from '../../adapters/bus/index.ts'
import { BusRpc } from '../../adapters/bus/rpc.ts'
import { createMemoryAdapters, type Adapters } from '../../adapters/index.ts'
import { testConfig } from '../../test/support/config.ts'
import { RawClient } from '../../test/support/wire.ts'
import { eventually } from '../../test/support/wait.ts'
import { createBroker } from '../index.ts'
import type { Broker, BrokerPorts } from '../types.ts'
import { BrokerClient } from './client.ts'
import { errorReply, type RequestBody, type RequestKind } from './index.ts'

interface Harness {
  broker: Broker
  ports: BrokerPorts
  adapters: Adapters
  /** A raw requester on the bus: sees replies exactly as they arrive. */
  rpc: BusRpc
  /** The broker's log lines at warn and above, parsed. */
  logs: Array<{ level: number; msg: string; [field: string]: unknown }>
}

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function start(): Promise<Harness> {
  const logs: Harness['logs'] = []
  const sink = new Writable({ write(chunk, _enc, done) { logs.push(JSON.parse(String(chunk))); done() } })
  const adapters = createMemoryAdapters()
  const broker = createBroker({ config: testConfig(), adapters, logger: pino({ level: 'warn' }, sink) })
  const ports = await broker.listen()
  const rpc = new BusRpc(adapters.bus)
  await rpc.start()
  cleanups.push(() => adapters.close(), () => broker.close(), () => rpc.close())
  return { broker, ports, adapters, rpc, logs }
}

async function ask(h: Harness, message: BusMessage, channel = brokerChannel(h.broker.id)): Promise<BusMessage[]> {
  return h.rpc.request(channel, message, 1, 5_000)
}

describe('broker bus API handler', () => {
  it('answers every request kind with its own reply', async () => {
    const h = await start()
    const { userId } = await h.adapters.accounts.register('ann')
    const c = await RawClient.connect(h.ports.cimPort)
    cleanups.push(() => c.close())
    c.login(userId, 'ann')
    await eventually(() => h.adapters.presence.users.get(String(userId)), 3000, 'ann online')

    // Typed by kind, so a kind added to BrokerApi does not compile until it is tried here. Kick last: it ends the session.
    const requests: { [K in RequestKind]: RequestBody<K> } = {
      push: { userIds: [userId, 999], text: 'hi', properties: {} },
      broadcast: { text: 'all', properties: {} },
      publish: { topic: 'news', payload: Buffer.from('x').toString('base64'), qos: 0, retain: false },
      replay: { userId },
      disconnectDevice: { deviceId: 'nobody', code: 'CIM_TOKEN_REVOKED', reason: 'test' },
      kick: { userId, code: 'CIM_ADMIN_KICK', reason: 'test' },
    }
    const expected: { [K in RequestKind]: Record<string, unknown> } = {
      push: { delivered: [userId], offline: [999] },
      broadcast: { brokerId: h.broker.id, users: 1 },
      publish: { ok: true },
      replay: { delivered: 0 },
      disconnectDevice: { brokerId: h.broker.id, disconnected: false },
      kick: { kicked: true },
    }
    for (const kind of Object.keys(requests) as RequestKind[]) {
      const replies = await ask(h, { type: kind, ...requests[kind] })
      expect(replies, kind).toEqual([expect.objectContaining({ type: `${kind}-result`, ...expected[kind] })])
    }
  })

  it('answers an unknown kind with CIM_UNKNOWN_REQUEST and logs it, on its own channel and the broadcast one', async () => {
    const h = await start()
    for (const channel of [brokerChannel(h.broker.id), BROADCAST_CHANNEL]) {
      const t0 = Date.now()
      const replies = await ask(h, { type: 'frobnicate', userId: 1 }, channel)
      expect(Date.now() - t0).toBeLessThan(2_000) // answered, not timed out
      expect(replies).toEqual([expect.objectContaining({
        type: 'error', ok: false, code: 'CIM_UNKNOWN_REQUEST', kind: 'frobnicate', message: 'Unknown bus request frobnicate',
      })])
    }
    expect(h.logs.filter((l) => l.msg === 'unknown bus request kind' && l.type === 'frobnicate')).toHaveLength(2)
  })

  it('answers a request its handler fails on with CIM_INTERNAL and logs the error', async () => {
    const h = await start()
    const replies = await ask(h, { type: 'push', text: 'no userIds' })
    expect(replies).toEqual([expect.objectContaining({ type: 'error', ok: false, code: 'CIM_INTERNAL', kind: 'push' })])
    expect(h.logs.some((l) => l.msg === 'bus request failed' && l.type === 'push')).toBe(true)
  })
})

describe('BrokerClient', () => {
  it('reads an ErrorReply as not delivered at once, and reports it', async () => {
    const adapters = createMemoryAdapters()
    cleanups.push(() => adapters.close())
    // An older broker that knows no kind at all.
    const old = new BusRpc(adapters.bus, 'old-broker')
    await adapters.bus.subscribe(brokerChannel('old'), (m) => { void old.reply(m, errorReply(m.type, 'UnknownRequest', m.type)) })
    const warnings: unknown[][] = []
    const client = new BrokerClient(adapters.bus, adapters.discovery, 5_000, undefined, { warn: (...args: unknown[]) => { warnings.push(args) } })
    await client.start()
    cleanups.push(() => client.close())

    const t0 = Date.now()
    expect(await client.push('old', { userIds: [1, 2], text: 'x', properties: {} })).toEqual({ type: 'push-result', delivered: [], offline: [1, 2] })
    expect(await client.kick('old', { userId: 1, code: 'CIM_ADMIN_KICK', reason: 'x' })).toBe(false)
    expect(await client.replay('old', 1)).toBe(0)
    expect(await client.publish('old', { topic: 't', payload: '', qos: 0, retain: false })).toMatchObject({ ok: false })
    expect(Date.now() - t0).toBeLessThan(2_000)
    expect(warnings).toHaveLength(4)
    expect(warnings[0][0]).toMatchObject({ kind: 'push', code: 'CIM_UNKNOWN_REQUEST' })
  })
})
