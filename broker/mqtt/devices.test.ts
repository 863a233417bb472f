import { describe, expect, it } from 'vitest'
import pino from 'pino'
import type { Client } from 'aedes'
import { MemoryPresence } from '../../adapters/presence/memory.ts'
import { DeviceConnections } from './devices.ts'

const client = (id: string) => ({ id }) as unknown as Client

function setup() {
  const presence = new MemoryPresence()
  const devices = new DeviceConnections({ presence: presence.devices, brokerId: 'b1', ttlMs: 10_000, logger: pino({ level: 'silent' }) })
  return { presence, devices }
}

describe('DeviceConnections', () => {
  it('claims on ready and releases on disconnect', async () => {
    const { presence, devices } = setup()
    const c = client('d1')
    devices.add(c)
    devices.claim(c)
    await devices.settle()
    expect(await presence.devices.get('d1')).toMatchObject({ id: 'd1', brokerId: 'b1' })
    expect(devices.ids()).toEqual(['d1'])
    devices.remove(c)
    await devices.settle()
    expect(await presence.devices.get('d1')).toBeUndefined()
    expect(devices.ids()).toEqual([])
  })

  it('releases a claim that completes after the client already left', async () => {
    const { presence, devices } = setup()
    const c = client('d1')
    devices.add(c)
    devices.claim(c)
    devices.remove(c) // before the claim resolved
    await devices.settle()
    expect(await presence.devices.get('d1')).toBeUndefined()
  })

  it('lets a late disconnect of an old connection leave the newer one present', async () => {
    const { presence, devices } = setup()
    const old = client('d1')
    const fresh = client('d1')
    devices.add(old)
    devices.claim(old)
    await devices.settle()
    devices.add(fresh)
    devices.claim(fresh)
    await devices.settle()
    devices.remove(old)
    await devices.settle()
    expect(await presence.devices.get('d1')).toBeDefined()
    expect(devices.ids()).toEqual(['d1'])
  })
})
