/**
 * The route's broker selection at login, measured over real processes: three brokers registered in
 * a real ZooKeeper, one route per strategy, 1,000 registered users logging in through
 * POST /login. Each strategy spreads them the way its algorithm promises, and consistent hashing
 * moves only about 1/N of the users when a fourth broker joins.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import mqtt, { type MqttClient } from 'mqtt'
import type { BalanceStrategy } from '../config.ts'
import type { RouteProcess } from './support/cluster.ts'
import { eventually, useCluster } from './support/cluster-fixtures.ts'
import { getJson, postJson } from './support/wire.ts'
import { hash32 } from '../route/balancer.ts'

const USERS = 1_000
const STRATEGIES: BalanceStrategy[] = ['consistent-hash', 'round-robin', 'random', 'least-connections']

// Heartbeats every 500 ms, so the connection counts least-connections balances on are fresh.
// One route per strategy, and a second consistent-hash route to check that routes agree.
const fx = useCluster({
  brokers: 3, settings: { presenceTtlMs: 1_500 },
  routes: [...STRATEGIES, 'consistent-hash' as const].map((strategy) => ({ strategy })),
})
const { closers } = fx
const routes = new Map<BalanceStrategy, RouteProcess>()
let otherHashRoute: RouteProcess
let users: Array<{ userId: number; userName: string }> = []

/** Runs `fn` over `items`, `limit` at a time. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) { const i = next++; out[i] = await fn(items[i]) }
  }))
  return out
}

beforeAll(async () => {
  const { cluster } = fx
  STRATEGIES.forEach((strategy, i) => routes.set(strategy, cluster.routes[i]))
  otherHashRoute = cluster.routes[STRATEGIES.length]
  const url = routes.get('round-robin')!.url
  users = await mapLimit(Array.from({ length: USERS }, (_, i) => `spread-${i}`), 32, async (userName) => {
    const res = await postJson(`${url}/registerAccount`, { userName })
    return { userId: res.body.dataBody.userId as number, userName }
  })
}, 120_000)

/** Logs every user in through the route of `strategy`; the broker id each was sent to, by userId. */
async function loginAll(strategy: BalanceStrategy): Promise<Map<number, string>> {
  const route = routes.get(strategy)!
  const byPort = new Map(fx.cluster.brokers.map((b) => [b.cimPort, b.id]))
  const assigned = await mapLimit(users, 32, async (u) => {
    const res = await postJson(`${route.url}/login`, u)
    expect(res.body.code, JSON.stringify(res.body)).toBe('9000')
    return [u.userId, byPort.get(res.body.dataBody.cimServerPort) ?? `?${res.body.dataBody.cimServerPort}`] as const
  })
  return new Map(assigned)
}

function counts(assigned: Map<number, string>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const id of assigned.values()) out[id] = (out[id] ?? 0) + 1
  return out
}

/** 1,000 draws over 3 brokers at p = 1/3: sd ≈ 15, so [250, 420] is more than 5 sd either way. */
function expectEvenSpread(c: Record<string, number>, ids: string[]): void {
  expect(Object.keys(c).sort()).toEqual(ids)
  for (const id of ids) {
    expect(c[id], JSON.stringify(c)).toBeGreaterThanOrEqual(250)
    expect(c[id], JSON.stringify(c)).toBeLessThanOrEqual(420)
  }
}

/**
 * Each broker's share of the consistent-hash ring (the arcs its virtual nodes own): the ring is
 * fixed by the broker ids, so the shares are not a third each (here 0.36 / 0.35 / 0.29).
 */
function ringShares(ids: string[], virtualNodes = 160): Record<string, number> {
  const points = ids.flatMap((id) => Array.from({ length: virtualNodes }, (_, v) => [hash32(`${id}#${v}`), id] as const))
  points.sort((a, b) => a[0] - b[0])
  const share: Record<string, number> = {}
  points.forEach(([p, id], i) => {
    const prev = i === 0 ? points[points.length - 1][0] - 2 ** 32 : points[i - 1][0]
    share[id] = (share[id] ?? 0) + (p - prev) / 2 ** 32
  })
  return share
}

/** 1,000 users hashed onto the ring: each broker gets its share, within 5 sd (sd ≈ 15). */
function expectRingSpread(c: Record<string, number>, ids: string[]): void {
  expect(Object.keys(c).sort()).toEqual(ids)
  const shares = ringShares(ids)
  for (const id of ids) {
    const expected = 1000 * shares[id]
    const sd = Math.sqrt(1000 * shares[id] * (1 - shares[id]))
    expect(Math.abs(c[id] - expected), `${JSON.stringify(c)} vs ring shares ${JSON.stringify(shares)}`).toBeLessThanOrEqual(5 * sd)
    expect(shares[id]).toBeGreaterThan(0.2) // 160 virtual nodes keep every share near a third
  }
}

describe('login strategies over 3 real brokers', () => {
  const three = ['broker-a', 'broker-b', 'broker-c']

  it('round-robin: exactly 333/333/334, in turn', async () => {
    const c = counts(await loginAll('round-robin'))
    expect(Object.values(c).sort()).toEqual([333, 333, 334])
    expect(Object.keys(c).sort()).toEqual(three)
  })

  it('random: about a third each, and not sticky per user', async () => {
    const first = await loginAll('random')
    expectEvenSpread(counts(first), three)
    const second = await loginAll('random')
    const changed = users.filter((u) => first.get(u.userId) !== second.get(u.userId)).length
    // Two independent draws differ 2/3 of the time.
    expect(changed).toBeGreaterThan(500)
  })

  it('consistent hash: about a third each, the same broker for a user on every login and every route', async () => {
    const first = await loginAll('consistent-hash')
    expectRingSpread(counts(first), three)
    expect(await loginAll('consistent-hash')).toEqual(first)
    // Another route node (another process, its own ring) agrees user by user: routes are stateless.
    const other = otherHashRoute
    const byPort = new Map(fx.cluster.brokers.map((b) => [b.cimPort, b.id]))
    for (const u of users.slice(0, 100)) {
      const res = await postJson(`${other.url}/login`, u)
      expect(byPort.get(res.body.dataBody.cimServerPort)).toBe(first.get(u.userId))
    }
  })

  it('least connections: spreads ties evenly, and sends nobody to the busiest broker', async () => {
    expectEvenSpread(counts(await loginAll('least-connections')), three)

    // Load broker-a with 30 MQTT connections; the routes see its count at its next heartbeat.
    const a = fx.cluster.broker('broker-a')
    const clients: MqttClient[] = await Promise.all(Array.from({ length: 30 }, (_, i) =>
      mqtt.connectAsync(`mqtt://127.0.0.1:${a.mqttPort}`, { clientId: `load-${i}`, reconnectPeriod: 0 })))
    closers.push(() => Promise.all(clients.map((c) => c.endAsync(true))))
    await eventually(async () => {
      const { body } = await getJson(`${routes.get('least-connections')!.url}/v1/nodes`)
      return body.items.find((b: { id: string }) => b.id === 'broker-a').connections >= 30
    })

    const c = counts(await loginAll('least-connections'))
    expect(c['broker-a'], JSON.stringify(c)).toBeUndefined()
    // The two idle brokers tie, and ties are broken at random: ~500 each (sd ≈ 16).
    expect(c['broker-b'], JSON.stringify(c)).toBeGreaterThanOrEqual(400)
    expect(c['broker-c'], JSON.stringify(c)).toBeGreaterThanOrEqual(400)
  })

  it('consistent hash when a 4th broker joins: ~1/4 of the users move, all of them to the new broker', async () => {
    const before = await loginAll('consistent-hash')
    await fx.cluster.startBroker('broker-d')
    await fx.cluster.waitListed([...three, 'broker-d'])
    const after = await loginAll('consistent-hash')
    const moved = users.filter((u) => before.get(u.userId) !== after.get(u.userId))
    // Ideal 25%; 160 virtual nodes per broker keep it within a few points.
    expect(moved.length, JSON.stringify(counts(after))).toBeGreaterThanOrEqual(150)
    expect(moved.length, JSON.stringify(counts(after))).toBeLessThanOrEqual(350)
    expect(new Set(moved.map((u) => after.get(u.userId)))).toEqual(new Set(['broker-d']))
  })
})
