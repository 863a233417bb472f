import { describe, expect, it } from 'vitest'
import { isServerTopic, isUsableDeviceId, serverSubscriptions } from './subscriptions.ts'

const config = { devicePushTopic: 'devices/{deviceId}/push', broadcastTopic: 'devices/broadcast' }

describe('server-side subscription topics', () => {
  it('subscribes the push topic at QoS 1 and broadcast at QoS 0', () => {
    expect(serverSubscriptions(config, 'd')).toEqual([
      { topic: 'devices/d/push', qos: 1 },
      { topic: 'devices/broadcast', qos: 0 },
    ])
  })

  it('knows which topics are the device’s own server topics', () => {
    expect(isServerTopic(config, 'd', 'devices/d/push')).toBe(true)
    expect(isServerTopic(config, 'd', 'devices/broadcast')).toBe(true)
    expect(isServerTopic(config, 'd', 'devices/e/push')).toBe(false)
    expect(isServerTopic(config, 'd', 'devices/+/push')).toBe(false)
  })

  it('refuses ids that would turn the push topic into a wildcard filter', () => {
    expect(isUsableDeviceId('sensor/7')).toBe(true)
    expect(isUsableDeviceId('+')).toBe(false)
    expect(isUsableDeviceId('x#')).toBe(false)
  })
})
