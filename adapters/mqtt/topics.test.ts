import { describe, expect, it } from 'vitest'
import { pushTopicOf, pushTopicRoot } from './topics.ts'

describe('device push topic', () => {
  it('puts the device id into the push topic literally', () => {
    expect(pushTopicOf('devices/{deviceId}/push', 'dev-1')).toBe('devices/dev-1/push')
    // String#replace would expand `$&` into the matched text.
    expect(pushTopicOf('devices/{deviceId}/push', 'a$&b')).toBe('devices/a$&b/push')
    expect(pushTopicOf('d/{deviceId}/{deviceId}', 'x')).toBe('d/x/x')
  })

  it('knows the part before the device id', () => {
    expect(pushTopicRoot('devices/{deviceId}/push')).toBe('devices/')
    expect(pushTopicRoot('{deviceId}/push')).toBe('')
  })
})
