import { describe, expect, it } from 'vitest'
import { MemoryAccounts } from '../adapters/accounts/memory.ts'
import { defaultAuth } from './auth.ts'

const auth = defaultAuth({ accounts: new MemoryAccounts(), devicePushTopic: 'devices/{deviceId}/push', broadcastTopic: 'devices/broadcast' })

describe('defaultAuth topic hooks', () => {
  it('allow everything: the device topic rules are security/mqtt-acl.ts, applied before the hooks', async () => {
    expect(await auth.authorizeSubscribe('d1', 'devices/d2/push')).toBe(true)
    expect(await auth.authorizePublish('d1', 'devices/d2/push')).toBe(true)
  })
})

describe('defaultAuth devices', () => {
  it('lets any device in when no token key is configured', async () => {
    expect(await auth.authenticateDevice({ clientId: 'd1' })).toBe(true)
  })
})
