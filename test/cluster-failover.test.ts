/**
 * Losing a broker process, two ways. SIGKILL: nothing is deregistered, so the routes learn it from
 * ZooKeeper when the broker's session expires; from then on nobody is assigned to it, its users
 * read offline, and clients that reconnect through the route are reachable on the other broker.
 * SIGTERM: the broker leaves discovery first, then tells its clients to log in again through the
 * route (KICK CIM_DRAINING), which sends them elsewhere, and exits 0.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import mqtt, { type MqttClient } from 'mqtt'
import { BaseCommand } from '../proto/codec.ts'
import { listedIds, type BrokerProcess, type RouteProcess } from './support/cluster.ts'
import { eventually, useCluster, type Sdk } from './support/cluster-fixtures.ts'
import { type RawClient, getJson, postJson } from './support/wire.ts'

/**
 * A crashed broker leaves the routes' lists after ~2 s (the test ZooKeeper ticks every 500 ms).
 * The presence TTL stays longer than the session, as the defaults are (30 s vs 10 s): a crashed
 * broker's users must read offline because discovery dropped the broker, not because their
 * entries happened to expire first.
 */
const ZK_SESSION_MS = 2_000
const PRESENCE_TTL_MS = 6_000

const fx = useCluster({ brokers: 2, routes: 2, settings: { zkSessionTimeoutMs: ZK_SESSION_MS, presenceTtlMs: PRESENCE_TTL_MS } })
const { closers } = fx
let A: BrokerProcess, B: BrokerProcess, route1: RouteProcess, route2: RouteProcess
beforeAll(() => { [A, B] = fx.cluster.brokers; [route1, route2] = fx.cluster.routes })

let seq = 0
const register = (userName: string) => fx.register(route1, userName)

/** SDK clients logging in through route 1 until at least `onA` of them landed on broker A. */
async function sdkClientsWithSomeOn(broker: BrokerProcess, onA: number): Promise<Sdk[]> {
  const out: Sdk[] = []
  while (out.filter((s) => s.client.broker?.brokerId === broker.id).length < onA) {
    if (out.length >= 40) throw new Error(`only ${out.filter((s) => s.client.broker?.brokerId === broker.id).length} of 40 logins landed on ${broker.id}`)
    const s = fx.sdk(route1, `sdk-${++seq}`, { minMs: 100, maxMs: 800 })
    await s.client.connect()
    out.push(s)
  }
  return out
}

/** A raw proto=2 peer logged in on `broker` directly; it never reconnects. */
async function peerOn(broker: BrokerProcess): Promise<{ userId: number; peer: RawClient }> {
  const { userId, peer, reply } = await fx.rawUser(route1, broker, `peer-${++seq}`)
  expect(reply!.properties.code).toBe('9000')
  return { userId, peer }
}

/** An MQTT device that knows both brokers and moves to the next one when its broker goes away. */
async function roamingDevice(clientId: string): Promise<{ client: MqttClient; got: string[] }> {
  const client = await mqtt.connectAsync({
    servers: [{ host: '127.0.0.1', port: A.mqttPort }, { host: '127.0.0.1', port: B.mqttPort }],
    clientId, reconnectPeriod: 100, connectTimeout: 2_000,
  })
  closers.push(() => client.endAsync(true))
  const got: string[] = []
  client.on('message', (_topic, payload) => got.push(payload.toString()))
  return { client, got }
}

async function pushDelivered(route: RouteProcess, s: Sdk, text: string): Promise<void> {
  const res = await postJson(`${route.url}/v1/push/users/${s.client.userId}`, { message: text })
  if (res.body.results?.[0]?.status !== 'delivered') {
    const presence = await getJson(`${route.url}/v1/users/${s.client.userId}/presence`)
    expect.fail(`push to ${s.client.userId} (${s.client.state} on ${s.client.broker?.brokerId}): ${JSON.stringify(res.body)}; presence ${JSON.stringify(presence.body)}`)
  }
  await eventually(() => s.got.some((m) => m.text === text))
}

describe('cluster failover', () => {
  it('SIGKILL broker A: routes stop assigning to it within the session timeout, its users read offline, reconnecting clients are reachable on B', async () => {
    const sdks = await sdkClientsWithSomeOn(A, 3)
    const stay = await Promise.all([peerOn(A), peerOn(A)])
    const dev = await roamingDevice('roamer-1')
    const onA = sdks.filter((s) => s.client.broker?.brokerId === A.id)
    expect((await getJson(`${route2.url}/v1/users/${stay[0].userId}/presence`)).body).toMatchObject({ online: true, brokerId: A.id })
    const moved: string[] = []
    for (const s of onA) s.client.on('connected', (info) => moved.push(info.brokerId ?? '?'))

    await A.kill()
    // ZooKeeper expires A's session after the session timeout (checked every 500 ms tick).
    await fx.cluster.waitListed([B.id], ZK_SESSION_MS + 4_000)

    // The raw peers do not come back: once the routes stopped listing A they read offline on
    // both routes, though their presence entries' TTL has not run out yet.
    for (const route of [route1, route2]) {
      for (const { userId } of stay) {
        expect((await getJson(`${route.url}/v1/users/${userId}/presence`)).body, fx.cluster.output()).toEqual({ online: false })
      }
      const online = (await getJson(`${route.url}/v1/users/online?limit=1000`)).body.items as Array<{ userId: number; brokerId: string }>
      expect(online.filter((u) => u.brokerId === A.id)).toEqual([])
      const push = await postJson(`${route.url}/v1/push/users/${stay[0].userId}`, { message: 'anyone?' })
      expect(push.body.results[0].status).toBe('offline')
    }
    // No login is assigned to A any more, whichever route and user asks.
    for (let i = 0; i < 10; i++) {
      const name = `after-kill-${i}`
      const userId = await register(name)
      for (const route of [route1, route2]) {
        const login = await postJson(`${route.url}/login`, { userId, userName: name })
        expect(login.body.code).toBe('9000')
        expect(login.body.dataBody.cimServerPort).toBe(B.cimPort)
      }
    }

    // Every SDK client that was on A logged in again through the route and is reachable on B.
    await eventually(() => onA.every((s) => s.client.state === 'connected' && s.client.broker?.brokerId === B.id), 10_000)
    expect(moved.every((id) => id === B.id)).toBe(true)
    for (const s of sdks) await pushDelivered(route2, s, `after the crash to ${s.client.userId}`)

    // The device moved to B by itself; a push finds it there.
    await eventually(async () => (await postJson(`${route1.url}/v1/push/devices/roamer-1`, { payload: 'found you' })).body.results[0].status === 'delivered', 8_000)
    await eventually(() => dev.got.includes('found you'))
  })

  it('SIGTERM broker A: it leaves discovery first, its clients move to B through the route, and it exits 0', async () => {
    await A.restart()
    await fx.cluster.waitListed([A.id, B.id])
    const sdks = await sdkClientsWithSomeOn(A, 3)
    const onA = sdks.filter((s) => s.client.broker?.brokerId === A.id)
    const { peer } = await peerOn(A)
    const kickedWhileListed: Array<Promise<boolean>> = []
    // When A tells a client to go, the routes must already send logins elsewhere.
    const watch = peer.next((f) => f.cmd === BaseCommand.KICK, 20_000).then((kick) => {
      for (const route of [route1, route2]) {
        kickedWhileListed.push(getJson(`${route.url}/v1/nodes`).then(({ body }) =>
          body.items.some((b: { id: string; draining: boolean }) => b.id === A.id && !b.draining)))
      }
      return kick
    })

    const code = await A.stop()
    expect(code, A.output()).toBe(0)
    const kick = await watch
    expect(kick.properties).toMatchObject({ code: 'CIM_DRAINING' })
    await peer.waitClosed()
    expect(await Promise.all(kickedWhileListed)).toEqual([false, false])
    // A deregistered itself: no session timeout to wait for.
    expect(await listedIds(route1.url)).toEqual([B.id])
    expect(await listedIds(route2.url)).toEqual([B.id])

    await eventually(() => onA.every((s) => s.client.state === 'connected' && s.client.broker?.brokerId === B.id))
    for (const s of sdks) await pushDelivered(route1, s, `after the drain to ${s.client.userId}`)
  })
})
