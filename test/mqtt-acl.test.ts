/**
 * MQTT topic privacy (issue 8, docs/security.md, MQTT topic rules), end to end with real MQTT
 * clients against a route and brokers, in the open mode (no token key): the rules hold without
 * authentication. Retained messages and cross-broker delivery go through the shared aedes
 * persistence and mq, so both memory and Redis run.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startNodes, type StoreKind, type TestNodes } from './support/nodes.ts'
import { startRedis, type RedisServer } from './support/servers.ts'
import { closed, connectMqtt, deviceReady, granted, inbox, settled, subscriptionLive } from './support/mqtt.ts'
import { eventually } from './support/wait.ts'
import type { Config } from '../config.ts'

let redis: RedisServer
beforeAll(async () => { redis = await startRedis() })
afterAll(async () => { await redis?.stop() })

let nodes: TestNodes | undefined
afterEach(async () => { await nodes?.close(); nodes = undefined })

async function start(kind: StoreKind, overrides: Partial<Config> = {}, brokers = 1): Promise<TestNodes> {
  nodes = await startNodes(kind, overrides, { brokers, redisUrl: redis.url })
  return nodes
}

const urlOf = (n: TestNodes, i = 0) => `mqtt://127.0.0.1:${n.brokers[i].ports.mqttPort}`

async function publish(n: TestNodes, topic: string, payload: string, retain = false): Promise<void> {
  const res = await fetch(`${n.routeUrl}/v1/publish`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic, payload, qos: 1, retain }),
  })
  expect(res.status).toBe(200)
}

describe.each<StoreKind>(['memory', 'redis'])('MQTT topic privacy (%s)', (kind) => {
  it('wildcards never deliver another device’s pushes, live or retained; `#` still gets ordinary topics and its own', async () => {
    const n = await start(kind, {}, 2)
    const victim = await connectMqtt(urlOf(n, 1), 'victim')
    await deviceReady(n.adapters, 'victim')
    await publish(n, 'devices/victim/push', 'retained-secret', true)
    await publish(n, 'news/retained', 'retained-ordinary', true)
    const attacker = await connectMqtt(urlOf(n), 'attacker')
    await deviceReady(n.adapters, 'attacker')
    const got = inbox(attacker)
    // `devices/+/push` can only match server topics of others: refused. The rest overlap ordinary topics.
    expect(await granted(attacker, ['#', '+/+/push', '+/victim/push', 'devices/+/push', 'devices/victim/push', 'devices/#'])).toEqual([1, 1, 1, 128, 128, 128])
    const victimGot = inbox(victim)
    await subscriptionLive(victim, got, 'probe')
    await publish(n, 'devices/victim/push', 'live-secret')
    await publish(n, 'devices/attacker/push', 'mine')
    await publish(n, 'devices/broadcast', 'everyone')
    await publish(n, 'chat/x', 'ordinary')
    await publish(n, 'a/b/push', 'ordinary-push-shaped')
    await publish(n, 'marker', 'm')
    const seen = (await settled(got, 'marker')).map((m) => m.payload)
    expect(seen).toEqual(expect.arrayContaining(['retained-ordinary', 'mine', 'everyone', 'ordinary', 'ordinary-push-shaped']))
    expect(seen).not.toContain('retained-secret')
    expect(seen).not.toContain('live-secret')
    await settled(victimGot, 'devices/victim/push').catch(() => undefined)
    expect(victimGot.map((m) => m.payload)).toContain('live-secret')
  })

  it('`uplink/#` by a device gets only its own uplink; another device’s uplink and push topic cannot be published to', async () => {
    const n = await start(kind)
    const victim = await connectMqtt(urlOf(n), 'victim')
    const attacker = await connectMqtt(urlOf(n), 'attacker')
    await deviceReady(n.adapters, 'attacker')
    const got = inbox(attacker)
    expect(await granted(attacker, ['uplink/#', '#', 'uplink/victim/#', 'uplink/+'])).toEqual([1, 1, 128, 128])
    await subscriptionLive(victim, got, 'probe')
    await victim.publishAsync('uplink/victim/telemetry', 'theirs', { qos: 1 })
    await victim.publishAsync('uplink/temp', 'unaddressed', { qos: 1 })
    await attacker.publishAsync('uplink/attacker/telemetry', 'own', { qos: 1 })
    await victim.publishAsync('marker', 'm', { qos: 1 })
    const seen = (await settled(got, 'marker')).map((m) => m.payload)
    expect(seen).toContain('own')
    expect(seen).not.toContain('theirs')
    expect(seen).not.toContain('unaddressed')

    // A refused PUBLISH closes the connection (MQTT 3.1.1 has no negative PUBACK); nothing is delivered.
    const victimGot = inbox(victim)
    await victim.subscribeAsync('uplink/victim/#', { qos: 1 })
    await subscriptionLive(victim, victimGot, 'uplink/victim/probe')
    const forged = await connectMqtt(urlOf(n), 'forger')
    forged.publish('uplink/victim/telemetry', 'forged', { qos: 1 })
    await closed(forged)
    const pusher = await connectMqtt(urlOf(n), 'pusher')
    pusher.publish('devices/victim/push', 'forged-push', { qos: 1 })
    await closed(pusher)
    await victim.publishAsync('uplink/victim/marker', 'm2', { qos: 1 })
    const victimSeen = (await settled(victimGot, 'uplink/victim/marker')).map((m) => m.payload)
    expect(victimSeen).not.toContain('forged')
    expect(victimSeen).not.toContain('forged-push')
  })

  it('`$SYS/#` is refused to a device; ordinary pub/sub (retained, wildcards, QoS) is unchanged', async () => {
    const n = await start(kind)
    const dev = await connectMqtt(urlOf(n), 'dev')
    expect(await granted(dev, ['$SYS/#', '$SYS/+/new/clients', 'sensors/+/temp'])).toEqual([128, 128, 1])
    const got = inbox(dev)
    const other = await connectMqtt(urlOf(n), 'other')
    await subscriptionLive(other, got, 'sensors/probe/temp')
    // One at a time: aedes drops a packet that a later one from the same broker overtook on the Redis mq (its dedupe).
    const temps = () => got.filter((m) => m.payload !== 'probe').map((m) => m.payload)
    await other.publishAsync('sensors/a/temp', '21', { qos: 1, retain: true })
    await eventually(() => temps().includes('21'), 3000, 'the first temp')
    await other.publishAsync('sensors/a/humidity', 'no', { qos: 1 })
    await other.publishAsync('sensors/b/temp', '22', { qos: 0 })
    await eventually(() => temps().includes('22'), 3000, 'the second temp')
    expect(temps()).toEqual(['21', '22'])
    // A new subscriber gets the retained one.
    const late = await connectMqtt(urlOf(n), 'late')
    const lateGot = inbox(late)
    await late.subscribeAsync('sensors/#', { qos: 1 })
    await eventually(() => lateGot.some((m) => m.retain && m.payload === '21'), 3000, 'the retained temp')
  })

  it('operator rules (mqttAcl) allow and deny before the built-in rules', async () => {
    const n = await start(kind, {
      mqttAcl: [
        { permission: 'allow', action: 'subscribe', topic: 'uplink/+/temp' },
        { permission: 'deny', action: 'subscribe', topic: 'secret/#' },
        { permission: 'deny', action: 'publish', topic: 'readonly/#' },
      ],
    })
    const dash = await connectMqtt(urlOf(n), 'dash')
    const got = inbox(dash)
    expect(await granted(dash, ['uplink/+/temp', 'secret/x', '#'])).toEqual([1, 128, 1])
    const dev = await connectMqtt(urlOf(n), 'dev')
    await subscriptionLive(dev, got, 'probe')
    await dev.publishAsync('uplink/dev/temp', '20', { qos: 1 })
    await dev.publishAsync('uplink/dev/humidity', '50', { qos: 1 })
    await dev.publishAsync('secret/plans', 'hidden', { qos: 1 })
    await dev.publishAsync('marker', 'm', { qos: 1 })
    const seen = (await settled(got, 'marker')).map((m) => m.payload)
    expect(seen).toContain('20')
    expect(seen).not.toContain('50')
    expect(seen).not.toContain('hidden')
    dev.publish('readonly/x', 'no', { qos: 1 })
    await closed(dev)
  })
})
