/**
 * createNode, as an embedder or `cim start --hooks` uses it: one broker and one route in this
 * process on memory adapters and free ports, with an operator's hooks module loaded from its path.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import mqtt from 'mqtt'
import { createNode, type CimNode } from './node.ts'
import { checkHooks, loadHooks } from './hooks.ts'
import { BaseCommand } from './proto/codec.ts'
import { RawClient, getJson, postJson } from './test/support/wire.ts'
import { eventually } from './test/support/wait.ts'
import { silentLogger } from './test/support/config.ts'

interface Seen { uplinks: Array<{ deviceId: string; topic: string; payload: string }>; chosen: string[] }
const seen = globalThis as typeof globalThis & { __cimHooksTest?: Seen }

/** What an operator writes: plain ESM, no imports from this project. */
const HOOKS_MODULE = `
const seen = (globalThis.__cimHooksTest ??= { uplinks: [], chosen: [] })
export const auth = {
  async authenticateUser({ userName }) { return userName === 'mallory' ? 'mallory is banned here' : true },
}
export function uplink(msg) {
  seen.uplinks.push({ deviceId: msg.deviceId, topic: msg.topic, payload: msg.payload.toString() })
}
export const balancer = {
  strategy: 'consistent-hash',
  choose(key, brokers) { seen.chosen.push(key); return brokers[0] },
}
`

function hooksFile(source = HOOKS_MODULE): string {
  const file = join(mkdtempSync(join(tmpdir(), 'cim-hooks-')), 'hooks.mjs')
  writeFileSync(file, source)
  return file
}

const settings = {
  host: '127.0.0.1', advertiseHost: '127.0.0.1', routePort: 0, cimPort: 0, brokerHttpPort: 0, mqttPort: 0, wsPort: 0,
}

let node: CimNode | undefined
afterEach(async () => {
  await node?.close()
  node = undefined
  delete seen.__cimHooksTest
})

describe('createNode with a hooks module (--hooks / CIM_HOOKS / "hooks")', () => {
  it('refuses the users its auth hook refuses, hands device uplink to its relay, and picks brokers with its balancer', async () => {
    node = await createNode({ roles: { broker: true, route: true }, settings: { ...settings, hooks: hooksFile() }, logger: silentLogger })
    const { broker, routePort } = await node.listen()
    const route = `http://127.0.0.1:${routePort}`
    expect((await getJson(`${route}/v1/nodes`)).body.items).toHaveLength(1)

    const mallory = (await postJson(`${route}/v1/users`, { userName: 'mallory' })).body.userId as number
    const refused = await RawClient.connectAndLogin(broker!.cimPort, mallory, 'mallory', { proto: '2' })
    const no = await refused.frame(BaseCommand.LOGIN_REPLY)
    expect(no.properties.code).toBe('CIM_UNAUTHORIZED')
    expect(no.resMsg).toContain('mallory is banned here')
    await refused.waitClosed()

    const alice = (await postJson(`${route}/v1/users`, { userName: 'alice' })).body.userId as number
    const accepted = await RawClient.connectAndLogin(broker!.cimPort, alice, 'alice', { proto: '2' })
    expect((await accepted.frame(BaseCommand.LOGIN_REPLY)).resMsg).toBe('ok')
    accepted.close()

    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker!.mqttPort}`, { clientId: 'sensor-7', reconnectPeriod: 0 })
    try {
      await device.publishAsync('uplink/temperature', '21.5', { qos: 1 })
      await eventually(() => seen.__cimHooksTest?.uplinks.length, 3000, 'the uplink hook')
      expect(seen.__cimHooksTest!.uplinks).toEqual([{ deviceId: 'sensor-7', topic: 'uplink/temperature', payload: '21.5' }])
    } finally {
      await device.endAsync()
    }

    expect((await postJson(`${route}/v1/publish`, { topic: 'lights/1', payload: 'on' })).status).toBe(200)
    expect(seen.__cimHooksTest!.chosen).toContain('lights/1')

    // The broker's /metrics counts MQTT traffic: the device's connection and its QoS 1 publish.
    const text = await (await fetch(`http://127.0.0.1:${broker!.httpPort}/metrics`)).text()
    expect(text).toMatch(/^mqtt_connects_total 1$/m)
    expect(text).toMatch(/^mqtt_messages_received_total\{qos="1"\} 1$/m)
    // Server-side subscriptions: the device's push topic and the broadcast topic.
    expect(text).toMatch(/^mqtt_subscribes_total 2$/m)
  })

  it('builds unstarted: a route-only node answers app.inject() before listen()', async () => {
    node = await createNode({ roles: { broker: false, route: true }, settings, logger: silentLogger })
    expect(node.broker).toBeUndefined()
    const res = await node.app!.inject({ method: 'GET', url: '/v1/nodes' })
    expect(res.json()).toEqual({ items: [] })
  })
})

describe('hooks module checks', () => {
  it('refuses an unknown export, an unknown auth hook and a hook of the wrong type', async () => {
    expect(() => checkHooks({ uplnk: () => {} }, 'h.mjs')).toThrow(/hooks module h.mjs: unknown export "uplnk"/)
    expect(() => checkHooks({ auth: { authenticate: async () => true } }, 'h.mjs')).toThrow(/"auth.authenticate" is not an auth hook/)
    expect(() => checkHooks({ uplink: 'log' }, 'h.mjs')).toThrow(/"uplink" must be a function/)
    expect(() => checkHooks({ balancer: {} }, 'h.mjs')).toThrow(/"balancer" must be an object with choose/)
    expect(checkHooks({ default: { uplink: () => {} } }, 'h.cjs').uplink).toBeTypeOf('function')
    await expect(loadHooks(join(tmpdir(), 'no-such-cim-hooks.mjs'))).rejects.toThrow(/hooks module .*no-such-cim-hooks.mjs/)
    await expect(createNode({ roles: { broker: true, route: false }, settings: { ...settings, hooks: hooksFile('export const nope = 1') } }))
      .rejects.toThrow(/unknown export "nope"/)
  })
})
