/**
 * Heal after Redis restarts empty: 10,000 CIM TCP clients (bench/lib/cim-fleet.ts, 2 processes)
 * logged in over the 2 brokers of a cluster (2 routes, real Redis and ZooKeeper: bench/cluster.ts's
 * rig), then Redis is killed (SIGKILL) and started again on the same port with nothing in it (no
 * persistence: presence, accounts, everything gone). The brokers hold the connections and write
 * their presence back once Redis answers (broker/registration.ts, README "Durable data").
 * Measured from the moment the new Redis answers PING:
 *   - until presence counts all clients again (GET /v1/stats through a route);
 *   - until a sample of them, pushed to through the routes (qos 0), has every push delivered and read.
 * The presence TTL is 60 s (heartbeat every 20 s), so the figure is the reconnect path's, not a
 * heartbeat's. `npx tsx bench/run.ts heal` (BENCH_QUICK=1: 1,000 clients).
 */
import { fmt, verdict, type Verdict } from './lib/stats.ts'
import { Fleets } from './lib/fleet.ts'
import { nowMs, sleep, stopAll } from './lib/ipc.ts'
import { loginAll, pool, shuffle, startRig, stopRig, type Rig } from './cluster.ts'
import type { Scenario } from './run.ts'

/** Every connected client reachable again within this long after Redis answers (issue 12). */
const TARGET_HEAL_S = 2
const SAMPLE = 200
const TIMEOUT_S = 60

async function onlineUsers(routeUrl: string): Promise<number> {
  const res = await fetch(`${routeUrl}/v1/stats`, { signal: AbortSignal.timeout(2_000) })
  if (res.status !== 200) return -1 // Redis not answering the route yet
  return ((await res.json()) as { online: { users: number } }).online.users
}

/** One qos 0 push; true when the route answered `delivered` (a 404 CIM_USER_NOT_FOUND until healed). */
async function pushDelivered(routeUrl: string, userId: number, text: string): Promise<boolean> {
  const res = await fetch(`${routeUrl}/v1/push/users/${userId}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: text }),
  }).catch(() => undefined)
  if (!res) return false
  const body = await res.json() as { results?: Array<{ status: string }> }
  return body.results?.[0]?.status === 'delivered'
}

export const heal: Scenario = async ({ quick }) => {
  const n = quick ? 1_000 : 10_000
  console.log(`${fmt(n)} CIM clients over 2 brokers (2 routes); Redis SIGKILLed and restarted empty on the same port; ` +
    `time from its first PING answer until presence counts all ${fmt(n)} again, and until ${SAMPLE} sampled clients each got a REST push.`)
  const rig: Rig = {}
  let fleets: Fleets | undefined
  try {
    const [cluster] = await Promise.all([
      startRig(rig, { settings: { presenceTtlMs: 60_000 } }),
      Fleets.start('cim', 'lib/cim-fleet.ts', 2).then((f) => { fleets = f }),
    ])
    const routes = cluster.routes.map((r) => r.url)
    const { users, perBroker, ms } = await loginAll(cluster, fleets!, 'heal-', n)
    console.log(`  ${fmt(n)} logged in (${[...perBroker.values()].map((c) => fmt(c)).join(' + ')} per broker) in ${fmt(ms / 1000, 1)} s`)
    // Connected is not yet logged in: wait until every login's presence claim is in.
    for (const end = nowMs() + TIMEOUT_S * 1000; await onlineUsers(routes[0]) < n; await sleep(50)) {
      if (nowMs() > end) throw new Error(`presence counts ${await onlineUsers(routes[0])} before the restart, not ${n}`)
    }
    await fleets!.callEach('mode', () => 'count')

    await rig.redis!.restart(0) // SIGKILL, then an empty server on the same port; resolves at its first PONG
    const answeredAt = nowMs()
    let countedS = Infinity
    const counts: number[] = []
    for (const end = answeredAt + TIMEOUT_S * 1000; nowMs() < end; await sleep(20)) {
      counts.push(await onlineUsers(routes[0]).catch(() => -1))
      if (counts[counts.length - 1] >= n) { countedS = (nowMs() - answeredAt) / 1000; break }
    }
    // The counts read on the way (-1: the route's Redis connection was not back yet) show it was emptied.
    console.log(`  presence counts all ${fmt(n)} again ${Number.isFinite(countedS) ? `${fmt(countedS, 2)} s` : `not within ${TIMEOUT_S} s`} after Redis answered ` +
      `(counts read meanwhile: ${counts.slice(0, 12).join(', ')}${counts.length > 12 ? ', ...' : ''})`)

    // The sample: each pushed to (routes in turn) until the route says delivered; then all read.
    const sample = shuffle([...users]).slice(0, SAMPLE)
    let tag = 0
    await pool(sample, 32, async (u, i) => {
      for (const end = answeredAt + TIMEOUT_S * 1000; nowMs() < end; await sleep(20)) {
        if (await pushDelivered(routes[i % routes.length], u.id, `heal ${++tag}`)) return
      }
      throw new Error(`user ${u.id} not reachable within ${TIMEOUT_S} s`)
    })
    for (const end = answeredAt + TIMEOUT_S * 1000; fleets!.total() < SAMPLE && nowMs() < end;) await sleep(10)
    const reachedS = fleets!.total() >= SAMPLE ? (nowMs() - answeredAt) / 1000 : Infinity
    console.log(`  ${SAMPLE} sampled clients each got a push ${fmt(reachedS, 2)} s after Redis answered (${fmt(fleets!.total())} pushes read)`)
    return [
      verdict('heal', `s after an empty Redis restart until presence counts all ${fmt(n)} clients again`, countedS, '<=', TARGET_HEAL_S,
        Number.isFinite(countedS) ? fmt(countedS, 2) : `not within ${TIMEOUT_S} s`),
      verdict('heal', `s until ${SAMPLE} sampled clients were each reached by a REST push`, reachedS, '<=', TARGET_HEAL_S,
        Number.isFinite(reachedS) ? fmt(reachedS, 2) : `not within ${TIMEOUT_S} s`),
    ] satisfies Verdict[]
  } finally {
    await stopAll([fleets])
    await stopRig(rig)
  }
}
