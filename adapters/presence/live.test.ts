import { describe, it, expect, beforeEach } from 'vitest'
import { MemoryDiscovery } from '../discovery/memory.ts'
import type { BrokerInfo, Registration } from '../discovery/index.ts'
import { MemoryPresence } from './memory.ts'
import type { PresenceEntry } from './index.ts'
import { livePresence } from './live.ts'

const info = (id: string): BrokerInfo =>
  ({ id, host: '10.0.0.1', cimPort: 11211, httpPort: 8081, mqttPort: 1883, wsPort: 9001, connections: 0, draining: false, startedAt: 1 })
const entry = (id: string, brokerId: string): PresenceEntry => ({ id, brokerId, connId: `${brokerId}/${id}`, since: 1 })

describe('livePresence: reads that ignore entries of unlisted brokers', () => {
  let adapters: { presence: MemoryPresence; discovery: MemoryDiscovery }
  let b2: Registration

  beforeEach(async () => {
    adapters = { presence: new MemoryPresence(), discovery: new MemoryDiscovery() }
    await adapters.discovery.register(info('b1'))
    b2 = await adapters.discovery.register(info('b2'))
    for (const [id, broker] of [['1', 'b1'], ['2', 'b2'], ['3', 'b1'], ['4', 'b2']]) {
      await adapters.presence.users.claim(entry(id, broker), { replace: false, ttlMs: 60_000 })
    }
    await b2.deregister() // b2 "crashed": its entries live on until their TTL
  })

  it('get and getMany read entries of an unlisted broker as absent', async () => {
    const online = livePresence(adapters).users
    expect(await online.get('1')).toEqual(entry('1', 'b1'))
    expect(await online.get('2')).toBeUndefined()
    expect(await online.get('9')).toBeUndefined()
    expect(await online.getMany(['1', '2', '3', '9'])).toEqual([entry('1', 'b1'), undefined, entry('3', 'b1'), undefined])
    // The table itself still holds them (release and claim must see them).
    expect(await adapters.presence.users.get('2')).toEqual(entry('2', 'b2'))
  })

  it('list pages skip them but keep the table cursor; all() collects every live entry', async () => {
    const online = livePresence(adapters).users
    const first = await online.list(undefined, 2)
    expect(first).toEqual({ items: [entry('1', 'b1')], next: '2' })
    expect(await online.list(first.next, 2)).toEqual({ items: [entry('3', 'b1')] })
    expect(await online.all()).toEqual([entry('1', 'b1'), entry('3', 'b1')])
  })

  it('follows discovery: a broker listed again is read again', async () => {
    const online = livePresence(adapters).users
    expect(await online.get('4')).toBeUndefined()
    await adapters.discovery.register(info('b2'))
    expect(await online.get('4')).toEqual(entry('4', 'b2'))
  })

  it('is one view per adapter set', () => {
    expect(livePresence(adapters)).toBe(livePresence(adapters))
    expect(livePresence(adapters).devices).not.toBe(livePresence(adapters).users)
  })
})
