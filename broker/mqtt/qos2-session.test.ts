/**
 * aedes' fix for GHSA-p8r9-qf8w-p73r is in force (issue 9, item 16; README "Upgrading"): a clean
 * session starts with an empty inbound QoS 2 table ([MQTT-3.1.2-6]). aedes 1.2 applies it only
 * when the persistence has `cleanIncoming`: aedes-persistence 11 (memory) has it,
 * aedes-persistence-redis has it from 12. Without it, a client that left a QoS 2 PUBLISH without
 * its PUBREL and came back with a clean session had its next PUBLISH under the same message id
 * acknowledged as a duplicate and silently dropped.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startNodes, type StoreKind, type TestNodes } from '../../test/support/nodes.ts'
import { startRedis, type RedisServer } from '../../test/support/servers.ts'
import { connectMqtt, inbox, settled } from '../../test/support/mqtt.ts'
import { rawConnect } from '../../test/support/raw-mqtt.ts'

let redis: RedisServer
beforeAll(async () => { redis = await startRedis() })
afterAll(async () => { await redis?.stop() })

let nodes: TestNodes | undefined
afterEach(async () => { await nodes?.close(); nodes = undefined })

describe.each<StoreKind>(['memory', 'redis'])('QoS 2 state of a clean session (%s)', (kind) => {
  it('the persistence offers cleanIncoming, so aedes applies the fix', async () => {
    const n = nodes = await startNodes(kind, {}, { redisUrl: redis.url })
    const { persistence } = n.adapters.mqtt()
    expect(typeof (persistence as { cleanIncoming?: unknown }).cleanIncoming).toBe('function')
  })

  it('a message id left without PUBREL by an earlier clean session does not swallow the next PUBLISH', async () => {
    const n = nodes = await startNodes(kind, {}, { redisUrl: redis.url })
    const port = n.brokers[0].ports.mqttPort
    const watcher = await connectMqtt(`mqtt://127.0.0.1:${port}`, 'watcher')
    const got = inbox(watcher)
    await watcher.subscribeAsync(['q2/#', 'marker'], { qos: 2 })

    const { c: first } = await rawConnect(port, 'sender')
    first.send({ cmd: 'publish', topic: 'q2/a', payload: Buffer.from('first'), qos: 2, messageId: 7, retain: false, dup: false })
    await first.next('pubrec')
    first.socket.destroy() // gone before its PUBREL: the id stays in the inbound table of a v11 store

    const { c: again } = await rawConnect(port, 'sender')
    again.send({ cmd: 'publish', topic: 'q2/a', payload: Buffer.from('second'), qos: 2, messageId: 7, retain: false, dup: false })
    await again.next('pubrec')
    again.send({ cmd: 'pubrel', messageId: 7 })
    await again.next('pubcomp')
    await watcher.publishAsync('marker', 'm')
    expect((await settled(got, 'marker')).map((m) => m.payload)).toEqual(['first', 'second', 'm'])
  })
})
