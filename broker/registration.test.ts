import { afterEach, describe, expect, it } from 'vitest'
import pino from 'pino'
import { MemoryDiscovery } from '../adapters/discovery/memory.ts'
import { MemoryPresence } from '../adapters/presence/memory.ts'
import { BrokerRegistration } from './registration.ts'

let now = 1_000_000
const presence = new MemoryPresence(() => now)
const discovery = new MemoryDiscovery()
let reg: BrokerRegistration | undefined

afterEach(async () => {
  await reg?.deregister()
})

const info = { id: 'b1', host: 'h', cimPort: 1, httpPort: 2, mqttPort: 3, wsPort: 4, connections: 0, draining: false, startedAt: 0 }

describe('BrokerRegistration', () => {
  it('registers, refreshes presence TTLs and the connection count, and deregisters', async () => {
    let conns = 2
    reg = new BrokerRegistration({
      discovery, presence, logger: pino({ level: 'silent' }), presenceTtlMs: 30_000,
      userEntries: () => [{ id: '7', brokerId: 'b1', connId: 'c', since: 0 }], deviceEntries: () => [{ id: 'dev', brokerId: 'b1', connId: 'd', since: 0 }], connections: () => conns,
    })
    await presence.users.claim({ id: '7', brokerId: 'b1', connId: 'c', since: 0 }, { replace: false, ttlMs: 30_000 })
    await presence.devices.claim({ id: 'dev', brokerId: 'b1', connId: 'd', since: 0 }, { replace: false, ttlMs: 30_000 })
    await presence.users.claim({ id: '8', brokerId: 'other', connId: 'e', since: 0 }, { replace: false, ttlMs: 30_000 })
    await reg.register(info)
    expect(discovery.brokers().map((b) => b.id)).toEqual(['b1'])

    now += 25_000
    conns = 5
    await reg.heartbeat()
    now += 25_000 // 50 s after the claims: only refreshed entries are still there
    expect(await presence.users.get('7')).toBeDefined()
    expect(await presence.devices.get('dev')).toBeDefined()
    expect(await presence.users.get('8')).toBeUndefined()
    expect(discovery.brokers()[0].connections).toBe(5)

    await reg.deregister()
    await reg.deregister() // idempotent
    expect(discovery.brokers()).toEqual([])
  })

  it('clears the users and devices a previous run of the same broker id left, and nothing of other brokers', async () => {
    reg = new BrokerRegistration({
      discovery, presence, logger: pino({ level: 'silent' }), presenceTtlMs: 30_000,
      userEntries: () => [], deviceEntries: () => [], connections: () => 0,
    })
    await presence.users.claim({ id: '70', brokerId: 'b3', connId: 'old', since: 0 }, { replace: false, ttlMs: 30_000 })
    await presence.devices.claim({ id: 'dev70', brokerId: 'b3', connId: 'old-d', since: 0 }, { replace: false, ttlMs: 30_000 })
    await presence.users.claim({ id: '71', brokerId: 'b4', connId: 'x', since: 0 }, { replace: false, ttlMs: 30_000 })
    await reg.clearPreviousRun('b3')
    expect(await presence.users.get('70')).toBeUndefined()
    expect(await presence.devices.get('dev70')).toBeUndefined()
    expect(await presence.users.get('71')).toBeDefined()
  })

  it('writes back the entries the store lost at once when the store reconnects, never another broker\'s', async () => {
    // A store that lost everything and says so (as Redis' presence does on a reconnect).
    const reconnects = new Set<() => void>()
    const lossy = Object.assign(new MemoryPresence(() => now), {
      onReconnect: (l: () => void) => { reconnects.add(l); return () => { reconnects.delete(l) } },
    })
    const held = [{ id: '30', name: 'u30', brokerId: 'b5', connId: 'c30', since: 5 }, { id: '31', name: 'u31', brokerId: 'b5', connId: 'c31', since: 6 }]
    reg = new BrokerRegistration({
      discovery, presence: lossy, logger: pino({ level: 'silent' }), presenceTtlMs: 30_000,
      userEntries: () => held, deviceEntries: () => [{ id: 'dev30', brokerId: 'b5', connId: 'd30', since: 7 }], connections: () => 3,
    })
    await reg.register({ ...info, id: 'b5' })
    // User 31 logged in on another broker meanwhile: that newer claim stays.
    await lossy.users.claim({ id: '31', brokerId: 'b6', connId: 'x31', since: 8 }, { replace: false, ttlMs: 30_000 })
    for (const l of reconnects) l()
    await reg.heartbeat() // the beat the reconnect started
    expect(await lossy.users.get('30')).toEqual(held[0])
    expect(await lossy.users.get('31')).toMatchObject({ brokerId: 'b6' })
    expect(await lossy.devices.get('dev30')).toMatchObject({ brokerId: 'b5', connId: 'd30' })
    await reg.deregister()
    expect(reconnects.size).toBe(0)
  })

  it('logs a failed heartbeat instead of throwing', async () => {
    reg = new BrokerRegistration({
      discovery, presence, logger: pino({ level: 'silent' }), presenceTtlMs: 30_000,
      userEntries: () => { throw new Error('boom') }, deviceEntries: () => [], connections: () => 0,
    })
    await reg.register({ ...info, id: 'b2' })
    await expect(reg.heartbeat()).resolves.toBeUndefined()
  })
})
