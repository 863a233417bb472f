import { describe, expect, it } from 'vitest'
import { MqttAcl, mqttRoleOf, parseMqttAclRules } from './mqtt-acl.ts'
import { compileFilter, filterCovers, filterProblem, filterReachesBelow, topicMatches } from './mqtt-filters.ts'

const settings = { devicePushTopic: 'devices/{deviceId}/push', broadcastTopic: 'devices/broadcast', uplinkPrefix: 'uplink/', mqttAcl: [] }
const acl = new MqttAcl(settings)

describe('topic filters', () => {
  it('matches as MQTT 3.1.1: + one level, # the rest and the parent, no wildcard-first match of $ topics', () => {
    const m = (f: string, t: string) => topicMatches(compileFilter(f), t)
    expect(m('a/+/c', 'a/b/c')).toBe(true)
    expect(m('a/+/c', 'a/b/c/d')).toBe(false)
    expect(m('a/+', 'a/')).toBe(true)
    expect(m('a/+', 'a')).toBe(false)
    expect(m('a/#', 'a')).toBe(true)
    expect(m('a/#', 'ab')).toBe(false)
    expect(m('#', '$SYS/x')).toBe(false)
    expect(m('+/x', '$SYS/x')).toBe(false)
    expect(m('$SYS/#', '$SYS/x')).toBe(true)
    expect(m('a/b', 'a/b')).toBe(true)
    expect(m('a/b', 'a/bc')).toBe(false)
  })

  it('tells whether a rule pattern covers a subscription filter', () => {
    const c = (p: string, f: string) => filterCovers(compileFilter(p), compileFilter(f))
    expect(c('sensors/#', 'sensors/+/temp')).toBe(true)
    expect(c('sensors/#', '#')).toBe(false)
    expect(c('sensors/+', 'sensors/+')).toBe(true)
    expect(c('sensors/x', 'sensors/+')).toBe(false)
    expect(c('#', '$SYS/#')).toBe(false)
  })

  it('validates filters and tells whether one reaches below a client’s levels', () => {
    expect(filterProblem('a/#/b')).toMatch(/#/)
    expect(filterProblem('a/b+')).toMatch(/\+/)
    expect(filterProblem('a/+/#')).toBeUndefined()
    const r = (f: string, id: string) => filterReachesBelow(compileFilter(f), id.split('/'))
    expect(r('#', 'd1')).toBe(true)
    expect(r('+/t', 'd1')).toBe(true)
    expect(r('d1', 'd1')).toBe(false)
    expect(r('+', 'd1')).toBe(false)
    expect(r('d2/#', 'd1')).toBe(false)
  })
})

describe('built-in rules for a device', () => {
  const d1 = acl.forClient('d1')

  it('receives its own push topic, broadcast, its own uplink and ordinary topics; never others’ or $SYS', () => {
    for (const t of ['devices/d1/push', 'devices/broadcast', 'uplink/d1/t', 'chat/room', 'a/d2/push']) expect(d1.mayReceive(t)).toBe(true)
    for (const t of ['devices/d2/push', 'devices/d2/other', 'uplink/d2/t', 'uplink/t', '$SYS/b/x']) expect(d1.mayReceive(t)).toBe(false)
  })

  it('refuses subscriptions that can only match forbidden topics, grants overlapping wildcards', () => {
    for (const f of ['devices/d2/push', 'devices/+/push', 'devices/#', '$SYS/#', '$SYS/+/clients', 'uplink/d2/#', 'uplink/+', 'uplink/t']) {
      expect(d1.maySubscribe(f)).toEqual(expect.any(String))
    }
    for (const f of ['#', '+/+/push', '+/d2/push', 'uplink/#', 'uplink/+/t', 'uplink/d1/#', 'devices/d1/push', 'devices/broadcast', 'chat/#']) {
      expect(d1.maySubscribe(f)).toBe(true)
    }
  })

  it('publishes to its own uplink, unaddressed uplink and ordinary topics; never push, broadcast, others’ uplink', () => {
    for (const t of ['uplink/d1/t', 'uplink/temp', 'chat/room']) expect(d1.mayPublish(t)).toBe(true)
    for (const t of ['devices/d1/push', 'devices/d2/push', 'devices/broadcast', 'uplink/d2/t']) expect(d1.mayPublish(t)).toEqual(expect.any(String))
  })
})

describe('roles', () => {
  it('reads the role claim: absent is a device, unknown is refused', () => {
    expect(mqttRoleOf(undefined)).toBe('device')
    expect(mqttRoleOf('monitor')).toBe('monitor')
    expect(mqttRoleOf('root')).toBeUndefined()
  })

  it('a monitor reads everything but publishes as a device; a backend may publish pushes', () => {
    const mon = acl.forClient('mon', 'monitor')
    expect(mon.maySubscribe('$SYS/#')).toBe(true)
    expect(mon.maySubscribe('uplink/#')).toBe(true)
    expect(mon.mayReceive('uplink/d2/t')).toBe(true)
    expect(mon.mayPublish('devices/d2/push')).toEqual(expect.any(String))
    expect(acl.forClient('be', 'backend').mayPublish('devices/d2/push')).toBe(true)
  })
})

describe('other push templates', () => {
  it('with the id first, the topics ending in the template’s tail are the namespace', () => {
    const c = new MqttAcl({ ...settings, devicePushTopic: '{deviceId}/push' }).forClient('d1')
    expect(c.mayReceive('d1/push')).toBe(true)
    expect(c.mayReceive('d2/push')).toBe(false)
    expect(c.mayReceive('d2/status')).toBe(true)
    expect(c.maySubscribe('d2/push')).toEqual(expect.any(String))
    expect(c.maySubscribe('+/push')).toBe(true)
  })
})

describe('operator rules (mqttAcl)', () => {
  const rules = [
    { permission: 'allow', action: 'subscribe', topic: 'uplink/+/temp' },
    { permission: 'deny', action: 'subscribe', topic: 'secret/#' },
    { permission: 'allow', action: 'publish', topic: 'devices/{clientId}/status' },
    { permission: 'deny', action: 'publish', topic: 'readonly/#' },
  ]
  const c = new MqttAcl({ ...settings, mqttAcl: rules }).forClient('d1')

  it('are checked in order before the built-in ones, with {clientId} replaced', () => {
    expect(c.maySubscribe('uplink/+/temp')).toBe(true)
    expect(c.mayReceive('uplink/d2/temp')).toBe(true)
    expect(c.mayReceive('uplink/d2/humidity')).toBe(false)
    expect(c.maySubscribe('secret/x')).toMatch(/mqttAcl rule 2/)
    expect(c.maySubscribe('#')).toBe(true)
    expect(c.mayReceive('secret/x')).toBe(false)
    expect(c.mayReceive('chat/x')).toBe(true)
    expect(c.mayPublish('devices/d1/status')).toBe(true)
    expect(c.mayPublish('devices/d2/status')).toEqual(expect.any(String))
    expect(c.mayPublish('readonly/x')).toMatch(/mqttAcl rule 4/)
  })

  it('never take a device’s own push topic or the broadcast away from it', () => {
    const deny = new MqttAcl({ ...settings, mqttAcl: [{ permission: 'deny', action: 'subscribe', topic: '#' }] }).forClient('d1')
    expect(deny.mayReceive('devices/d1/push')).toBe(true)
    expect(deny.mayReceive('chat/x')).toBe(false)
  })

  it('refuses an invalid rule at start with a message naming it', () => {
    expect(() => parseMqttAclRules([{ permission: 'maybe', action: 'publish', topic: 'a' }])).toThrow(/mqttAcl rule 1 .*permission/)
    expect(() => parseMqttAclRules([{ permission: 'allow', action: 'publish', topic: 'a/#/b' }])).toThrow(/mqttAcl rule 1 .*#/)
    expect(() => parseMqttAclRules([{ permission: 'allow', action: 'publish', topic: 'a', extra: 1 }])).toThrow(/mqttAcl rule 1/)
    expect(() => new MqttAcl({ ...settings, mqttAcl: ['x'] })).toThrow(/mqttAcl rule 1/)
  })
})
