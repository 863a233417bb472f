import { describe, expect, it } from 'vitest'
import { MemoryPresence } from '../adapters/presence/memory.ts'
import { MemoryDiscovery } from '../adapters/discovery/memory.ts'
import { livePresence } from '../adapters/presence/live.ts'
import { RecentPresence } from './recent-presence.ts'

describe('RecentPresence', () => {
  async function setup() {
    const presence = new MemoryPresence()
    const discovery = new MemoryDiscovery()
    const registration = await discovery.register({ id: 'b1', host: '127.0.0.1', cimPort: 1, httpPort: 2, mqttPort: 3, wsPort: 4 } as never)
    let now = 1_000
    const recent = new RecentPresence(livePresence({ presence, discovery }).users, 1_000, () => now)
    const entry = { id: '7', name: 'u7', brokerId: 'b1', connId: 'c1', since: 0 }
    return { presence, registration, recent, entry, tick: (ms: number) => { now += ms } }
  }

  it('reuses a found entry for a second, reads afresh after it or on refresh, and never keeps "offline"', async () => {
    const { presence, recent, entry, tick } = await setup()
    expect(await recent.getMany(['7'])).toEqual([undefined]) // offline: not kept
    await presence.users.claim(entry, { replace: false, ttlMs: 60_000 })
    expect(await recent.getMany(['7'])).toEqual([entry]) // online at once
    await presence.users.release('7', 'c1')
    expect(await recent.getMany(['7'])).toEqual([entry]) // within the second: the broker will say offline
    expect(await recent.refresh(['7'])).toEqual([undefined]) // ... and pushToUsers reads afresh
    await presence.users.claim({ ...entry, connId: 'c2' }, { replace: false, ttlMs: 60_000 })
    expect((await recent.getMany(['7']))[0]?.connId).toBe('c2')
    await presence.users.release('7', 'c2')
    tick(1_001)
    expect(await recent.getMany(['7'])).toEqual([undefined])
  })

  it('never names a broker discovery no longer lists', async () => {
    const { presence, registration, recent, entry } = await setup()
    await presence.users.claim(entry, { replace: false, ttlMs: 60_000 })
    expect(await recent.getMany(['7'])).toEqual([entry])
    await registration.deregister()
    expect(await recent.getMany(['7'])).toEqual([undefined])
  })
})
