/**
 * Retained-message caps (issue 9, item 10; README "Limits"): count, total payload bytes and
 * per-message size, refused with CIM_RETAINED_FULL (507 over REST; an MQTT publisher is
 * disconnected). The tally is shared state: in memory per process, in Redis for the cluster, so
 * both run, with two brokers (the Redis tally is one for the whole cluster).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startNodes, type StoreKind, type TestNodes } from '../../test/support/nodes.ts'
import { startRedis, type RedisServer } from '../../test/support/servers.ts'
import { closed, connectMqtt, inbox, settled } from '../../test/support/mqtt.ts'
import { postJson } from '../../test/support/wire.ts'

let redis: RedisServer
beforeAll(async () => { redis = await startRedis() })
afterAll(async () => { await redis?.stop() })

let nodes: TestNodes | undefined
afterEach(async () => { await nodes?.close(); nodes = undefined })

const CAPS = { retainedMaxCount: 2, retainedMaxBytes: 100, retainedMaxMessageBytes: 60 }

describe.each<StoreKind>(['memory', 'redis'])('retained caps (%s)', (kind) => {
  async function retain(n: TestNodes, topic: string, size: number): Promise<{ status: number; code?: string }> {
    const res = await postJson(`${n.routeUrl}/v1/publish`, { topic, payload: 'x'.repeat(size), retain: true })
    return res.status === 200 ? { status: 200 } : { status: res.status, code: res.body.code }
  }
  const FULL = { status: 507, code: 'CIM_RETAINED_FULL' }
  const OK = { status: 200 }

  it('counts topics, bytes and message size; replacing and clearing free what they held', async () => {
    const n = nodes = await startNodes(kind, CAPS, { brokers: 2, redisUrl: redis.url })
    expect(await retain(n, 'r/1', 10)).toEqual(OK)
    expect(await retain(n, 'r/2', 10)).toEqual(OK)
    expect(await retain(n, 'r/3', 10)).toEqual(FULL) // a third topic
    expect(await retain(n, 'r/1', 61)).toEqual(FULL) // above the per-message size
    expect(await retain(n, 'r/1', 60)).toEqual(OK) // replacing: still two topics, 70 bytes
    expect(await retain(n, 'r/2', 41)).toEqual(FULL) // 60 + 41 > 100 bytes
    expect(await retain(n, 'r/2', 0)).toEqual(OK) // clearing is always allowed and frees the slot
    expect(await retain(n, 'r/3', 40)).toEqual(OK)
    // What a new subscriber finds is exactly what was admitted.
    const sub = await connectMqtt(`mqtt://127.0.0.1:${n.brokers[1].ports.mqttPort}`, 'reader')
    const got = inbox(sub)
    await sub.subscribeAsync(['r/#', 'marker'])
    await postJson(`${n.routeUrl}/v1/publish`, { topic: 'marker', payload: 'm' })
    const retained = (await settled(got, 'marker')).filter((m) => m.retain).map((m) => `${m.topic}:${m.payload.length}`)
    expect(retained.sort()).toEqual(['r/1:60', 'r/3:40'])
    // Each broker's /metrics reads the same tally (README "Operations").
    for (const b of n.brokers) {
      const text = await (await fetch(`http://127.0.0.1:${b.ports.httpPort}/metrics`)).text()
      expect(text).toMatch(/^mqtt_retained_messages 2$/m)
      expect(text).toMatch(/^mqtt_retained_bytes 100$/m)
    }
  })

  it('an MQTT client retaining past the caps is disconnected and nothing is delivered; the count is cluster-wide', async () => {
    const n = nodes = await startNodes(kind, CAPS, { brokers: 2, redisUrl: redis.url })
    expect(await retain(n, 'r/1', 10)).toEqual(OK)
    const sub = await connectMqtt(`mqtt://127.0.0.1:${n.brokers[0].ports.mqttPort}`, 'watcher')
    const got = inbox(sub)
    await sub.subscribeAsync(['r/#', 'marker'])
    const pub = await connectMqtt(`mqtt://127.0.0.1:${n.brokers[1].ports.mqttPort}`, 'pub')
    await pub.publishAsync('r/2', 'second', { qos: 1, retain: true })
    const gone = closed(pub)
    pub.publish('r/3', 'third', { qos: 0, retain: true })
    await gone
    expect(await retain(n, 'r/4', 10)).toEqual(FULL)
    await postJson(`${n.routeUrl}/v1/publish`, { topic: 'marker', payload: 'm' })
    // r/1 as retained at SUBSCRIBE, then the admitted publish; never `third`.
    expect((await settled(got, 'marker')).map((m) => m.payload)).toEqual(['x'.repeat(10), 'second', 'm'])
  })
})
