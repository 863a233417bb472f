/**
 * The backing services restart under a running cluster, and the cluster recovers without any of
 * our processes restarting: Redis (bus subscriptions, the MQTT emitter, Lua scripts, presence
 * heartbeats come back) and ZooKeeper (routes keep serving from their cached broker list while
 * it is down; sessions, znodes and watches are back afterwards).
 */
import { beforeAll, describe, expect, it } from 'vitest'
import mqtt, { type MqttClient } from 'mqtt'
import { Redis } from 'ioredis'
import { CimClient } from '../client/index.ts'
import type { BrokerProcess, RouteProcess } from './support/cluster.ts'
import { WAIT, eventually, useCluster, type Sdk } from './support/cluster-fixtures.ts'
import { type RawClient, getJson, postJson } from './support/wire.ts'

const fx = useCluster({ brokers: 2, routes: 2 })
const { closers } = fx
let A: BrokerProcess, B: BrokerProcess, route1: RouteProcess, route2: RouteProcess

interface Device { id: string; client: MqttClient; got: string[] }
const sdks: Sdk[] = []
const peers: Array<{ userId: number; peer: RawClient }> = []
const devices: Device[] = []

beforeAll(async () => {
  ;[A, B] = fx.cluster.brokers
  ;[route1, route2] = fx.cluster.routes

  // Connections that live through both restarts: SDK clients (logged in through the route),
  // raw CIM peers pinned to each broker, and an MQTT device on each broker.
  for (let i = 0; i < 4; i++) sdks.push(fx.sdk(route1, `sdk-${i}`, { minMs: 100, maxMs: 1_000 }))
  await Promise.all(sdks.map((s) => s.client.connect()))
  for (const broker of [A, B]) {
    const { userId, peer } = await fx.rawUser(route2, broker, `peer-on-${broker.id}`)
    peers.push({ userId, peer })
    const id = `dev-on-${broker.id}`
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.mqttPort}`, { clientId: id, reconnectPeriod: 200 })
    closers.push(() => client.endAsync(true))
    const got: string[] = []
    client.on('message', (_t, payload) => got.push(payload.toString()))
    devices.push({ id, client, got })
  }
}, 120_000)

/** Our processes' pids: the same before and after means none of them was restarted. */
const pids = () => [A, B, route1, route2].map((p) => p.pid)

/**
 * Everything still works end to end: every user (SDK and raw, on both brokers) gets a push through
 * either route, every device a device push, and a broadcast reaches them all.
 */
async function checkEverythingReachable(tag: string, timeoutMs: number): Promise<void> {
  const users = [
    ...sdks.map((s) => ({ userId: s.client.userId!, has: (t: string) => s.got.some((m) => m.text === t) })),
    ...peers.map((p) => ({ userId: p.userId, has: (t: string) => p.peer.messages().some((f) => f.resMsg === t) })),
  ]
  let n = 0
  for (const [i, u] of users.entries()) {
    const route = i % 2 ? route2 : route1
    // Pub/sub is at-most-once while a connection re-subscribes: push until one is delivered.
    await eventually(async () => {
      const text = `${tag} ${u.userId} #${++n}`
      const res = await postJson(`${route.url}/v1/push/users/${u.userId}`, { message: text })
      return res.body.results?.[0]?.status === 'delivered' && (await eventually(() => u.has(text), 2_000).then(() => true, () => false))
    }, timeoutMs)
  }
  for (const d of devices) {
    await eventually(async () => {
      const payload = `${tag} ${d.id} #${++n}`
      const res = await postJson(`${route2.url}/v1/push/devices/${d.id}`, { payload })
      return res.body.results?.[0]?.status === 'delivered' && (await eventually(() => d.got.includes(payload), 2_000).then(() => true, () => false))
    }, timeoutMs)
  }
  const all = `${tag} to everyone`
  const res = await postJson(`${route1.url}/v1/push/all`, { message: all })
  expect(res.status).toBe(200)
  expect(res.body.users).toBe(users.length)
  await eventually(() => users.every((u) => u.has(all)) && devices.every((d) => d.got.includes(all)))
}

describe('cluster recovery', () => {
  it('serves before any restart', async () => {
    await checkEverythingReachable('before', WAIT)
  })

  it('Redis restarts: brokers and routes reconnect, re-subscribe and deliver again; logins work', async () => {
    const before = pids()
    // A production Redis keeps its data across a restart (RDB/AOF); the test server persists
    // nothing by itself, so snapshot it first. The restart is a kill -9, 1.5 s down (every
    // reconnect attempt meanwhile is refused), and a fresh start on the same port that loads the
    // snapshot.
    const admin = new Redis(fx.redis.url)
    await admin.call('SAVE')
    admin.disconnect()
    await fx.redis.restart(1_500)

    await checkEverythingReachable('after redis', 15_000)
    // A new user registers and logs in through the route to a broker of the route's choosing.
    const fresh = new CimClient({ routeUrl: route2.url, userName: 'after-redis', reconnect: false })
    closers.push(() => fresh.close())
    await fresh.connect()
    expect([A.id, B.id]).toContain(fresh.broker?.brokerId)
    const presence = await getJson(`${route1.url}/v1/users/${fresh.userId}/presence`)
    expect(presence.body).toMatchObject({ online: true, brokerId: fresh.broker?.brokerId })
    await fresh.offline()
    expect((await getJson(`${route1.url}/v1/users/${fresh.userId}/presence`)).body).toEqual({ online: false })
    expect(pids()).toEqual(before)
    expect(before.every((pid) => pid !== undefined)).toBe(true)
  })

  it('ZooKeeper restarts: routes keep serving from their cached list meanwhile; registrations and watches come back', async () => {
    const before = pids()
    // Down for 1 s plus the JVM's start: less than the 5 s session timeout, so sessions survive.
    const restarting = fx.zookeeper.restart(1_000)
    // While ZooKeeper is down or starting, pushes and logins still use the cached broker list.
    const during = await postJson(`${route2.url}/v1/push/users/${peers[0].userId}`, { message: 'during zk restart' })
    expect(during.body.results[0].status).toBe('delivered')
    expect((await getJson(`${route1.url}/v1/nodes`)).body.items.map((b: { id: string }) => b.id)).toEqual([A.id, B.id])
    await restarting

    await fx.cluster.waitListed([A.id, B.id])
    await checkEverythingReachable('after zk', 15_000)
    // Watches are armed again: a broker that joins, and one that leaves, show up on both routes.
    const C = await fx.cluster.startBroker('broker-c')
    await fx.cluster.waitListed([A.id, B.id, C.id])
    expect(await C.stop()).toBe(0)
    await fx.cluster.waitListed([A.id, B.id])
    expect(pids()).toEqual(before)
  })
})
