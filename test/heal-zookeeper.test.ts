/**
 * ZooKeeper restarts EMPTY under a running cluster (kill -9, its data dir wiped: every session and
 * znode gone, the root too). Each broker's client is told its session expired when it reconnects,
 * starts a new session, creates the root again and its znode with its BrokerInfo
 * (adapters/discovery/zookeeper.ts); the route's client does the same and lists them all again.
 * No process restarts. The time until ZooKeeper holds every broker again is printed, not asserted
 * (README "Durable data" quotes the target).
 */
import { beforeAll, describe, expect, it } from 'vitest'
import type { BrokerProcess, RouteProcess } from './support/cluster.ts'
import { listedIds } from './support/cluster.ts'
import { eventually, useCluster } from './support/cluster-fixtures.ts'
import { getJson, postJson, type RawClient } from './support/wire.ts'
import { ZooKeeperDiscovery } from '../adapters/discovery/zookeeper.ts'

const fx = useCluster({ brokers: 2, routes: 2, settings: { readTimeoutMs: 600_000 } })
let A: BrokerProcess, B: BrokerProcess, routes: RouteProcess[]
const peers: Array<{ userId: number; peer: RawClient }> = []

beforeAll(async () => {
  ;[A, B] = fx.cluster.brokers
  routes = fx.cluster.routes
  for (const broker of [A, B]) peers.push(await fx.rawUser(routes[0], broker, `zk-heal-${broker.id}`))
}, 120_000)

const pids = () => [A, B, ...routes].map((p) => p.pid)

async function delivered(routeUrl: string, userId: number, text: string, peer: RawClient): Promise<boolean> {
  const res = await postJson(`${routeUrl}/v1/push/users/${userId}`, { message: text })
  if (res.body.results?.[0]?.status !== 'delivered') return false
  return eventually(() => peer.messages().some((f) => f.resMsg === text), 2_000).then(() => true, () => false)
}

describe('ZooKeeper restarted empty', () => {
  it('every broker registers again with its data, every route lists them all; nothing restarts', async () => {
    const before = pids()
    const expected = [A.id, B.id].sort()
    for (const r of routes) expect((await listedIds(r.url)).sort()).toEqual(expected)

    await fx.zookeeper.restartEmpty(1_000)
    const answeredAt = Date.now()
    // A reader that starts now sees only what ZooKeeper holds (the routes' caches kept serving the
    // old list meanwhile, so they alone would prove nothing).
    const reader = await ZooKeeperDiscovery.create({ connectString: fx.zookeeper.connectString, root: fx.cluster.zkRoot })
    fx.closers.push(() => reader.close())
    await eventually(() => JSON.stringify(reader.brokers().map((b) => b.id).sort()) === JSON.stringify(expected), 30_000)
    const healedMs = Date.now() - answeredAt
    console.log(`heal after an empty ZooKeeper restart: both brokers registered again ${healedMs} ms after ZooKeeper answered`)
    // The znodes carry the brokers' data again (ports, not just names), and the routes list them.
    for (const b of [A, B]) expect(reader.brokers().find((n) => n.id === b.id)).toMatchObject({ cimPort: b.cimPort, mqttPort: b.mqttPort })
    for (const r of routes) await eventually(async () => JSON.stringify((await listedIds(r.url)).sort()) === JSON.stringify(expected))

    // The routes' watches are armed again: a broker that joins, then leaves, shows up on both.
    const C = await fx.cluster.startBroker('broker-c')
    await fx.cluster.waitListed([A.id, B.id, C.id])
    expect(await C.stop()).toBe(0)
    await fx.cluster.waitListed([A.id, B.id])
    const nodes = (await getJson(`${routes[1].url}/v1/nodes`)).body.items as Array<{ id: string }>
    expect(nodes.map((b) => b.id).sort()).toEqual(expected)
    let n = 0
    for (const [i, { userId, peer }] of peers.entries()) {
      await eventually(() => delivered(routes[i % 2].url, userId, `after zk #${++n}`, peer), 10_000)
    }
    expect(pids()).toEqual(before)
  }, 90_000)
})
