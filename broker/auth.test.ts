import { describe, expect, it } from 'vitest'
import { MemoryAccounts } from '../adapters/accounts/memory.ts'
import { defaultAuth } from './auth.ts'

const auth = defaultAuth({ accounts: new MemoryAccounts(), devicePushTopic: 'devices/{deviceId}/push', broadcastTopic: 'devices/broadcast' })

describe('defaultAuth subscriptions to push topics', () => {
  it("allows a device its own push topic only, with the id put in literally (the route's topic)", async () => {
    expect(await auth.authorizeSubscribe('d1', 'devices/d1/push')).toBe(true)
    expect(await auth.authorizeSubscribe('d1', 'devices/d2/push')).toMatch(/another device/)
    // String#replace would expand `$&` and refuse the device its own topic.
    expect(await auth.authorizeSubscribe('a$&b', 'devices/a$&b/push')).toBe(true)
    expect(await auth.authorizeSubscribe('d1', 'uplink/d1/telemetry')).toBe(true)
  })
})
