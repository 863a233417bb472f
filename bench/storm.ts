/**
 * Reconnect storm: 10,000 SDK clients (client/index.ts, in 4 processes: bench/lib/sdk-fleet.ts)
 * log in through the routes of a cluster (2 routes over real Redis and ZooKeeper, bench/cluster.ts's
 * rig) while broker A is its only broker, so all of them land on A; then broker B starts, a few
 * hundred other users connect to B, and A is killed (SIGKILL). Measured: from the kill until every
 * SDK client is logged in again (on B, through a route's POST /v1/users/{userId}/connect, with the
 * SDK's own backoff and jitter) AND has received a REST push sent through a route once it was back.
 * Meanwhile a paced sender pushes to the other users through a route: the p99 of those requests'
 * HTTP latency during the storm says what the burst does to everyone else.
 * `npx tsx bench/run.ts storm` (BENCH_QUICK=1: 1,000 clients).
 */
import { fmt, percentile, verdict, type Verdict } from './lib/stats.ts'
import { Fleets, split } from './lib/fleet.ts'
import { nowMs, sleep, spawn, stopAll, type Proc } from './lib/ipc.ts'
import type { FleetUser } from './lib/cim-fleet.ts'
import type { PacedResult } from './lib/paced-http.ts'
import type { SdkFleetReport } from './lib/sdk-fleet.ts'
import { pool, postJson, procCpuUs, startRig, stopRig, type Rig } from './cluster.ts'
import type { Scenario } from './run.ts'

/** All back and pushed to within this many seconds of the kill, on this 2-core machine. */
const TARGET_RECOVERY_S = 10
const SDK_PROCESSES = 4
const OTHER_USERS = 300
/** Pushes per second to the other users during the storm. */
const OTHER_RATE = 200

async function register(routeUrls: string[], prefix: string, n: number): Promise<FleetUser[]> {
  return pool(Array.from({ length: n }, (_, i) => `${prefix}${i}`), 64, async (name, i) =>
    ({ id: (await postJson(`${routeUrls[i % routeUrls.length]}/v1/users`, { userName: name })).userId as number, name }))
}

function sum(reports: SdkFleetReport[]): SdkFleetReport & { brokersShown: string } {
  const brokers: Record<string, number> = {}
  for (const r of reports) for (const [id, n] of Object.entries(r.brokers)) brokers[id] = (brokers[id] ?? 0) + n
  const add = (k: 'clients' | 'reconnected' | 'received' | 'attemptsFailed' | 'pushes' | 'pushRetries') => reports.reduce((a, r) => a + r[k], 0)
  return {
    clients: add('clients'), brokers, reconnected: add('reconnected'), received: add('received'), reconnectAts: reports.flatMap((r) => r.reconnectAts),
    lastReconnectAt: Math.max(...reports.map((r) => r.lastReconnectAt)), lastReceivedAt: Math.max(...reports.map((r) => r.lastReceivedAt)),
    attemptsFailed: add('attemptsFailed'), firstError: reports.find((r) => r.firstError)?.firstError,
    pushes: add('pushes'), pushRetries: add('pushRetries'),
    brokersShown: Object.entries(brokers).map(([id, n]) => `${id} ${fmt(n)}`).join(', ') || 'none',
  }
}

export const storm: Scenario = async ({ quick }) => {
  const n = quick ? 1_000 : 10_000
  const timeoutS = 60
  console.log(`${fmt(n)} SDK clients (${SDK_PROCESSES} processes) all on broker A of a cluster (2 routes, brokers A then B, ` +
    `repeat-login kick-old); SIGKILL A; time until every client is logged in on B and has a push sent through a route ` +
    `after it came back. Meanwhile ${OTHER_RATE} pushes/s to ${OTHER_USERS} other users on B through a route.`)
  const rig: Rig = {}
  let sdk: Proc[] = []
  let others: Fleets | undefined
  let paced: Proc | undefined
  try {
    // Broker A alone first, so every route sends every login to it.
    let cim: Fleets
    const [cluster] = await Promise.all([
      startRig(rig, { brokers: 1, settings: { repeatLogin: 'kick-old' } }),
      Promise.all(Array.from({ length: SDK_PROCESSES }, (_, i) => spawn(`sdk-fleet-${i}`, 'lib/sdk-fleet.ts'))).then((p) => { sdk = p }),
      Fleets.start('cim', 'lib/cim-fleet.ts', 1).then((f) => { others = cim = f }),
      spawn('paced-http', 'lib/paced-http.ts').then((p) => { paced = p }),
    ])
    const routeUrls = cluster.routes.map((r) => r.url)
    const users = await register(routeUrls, 'storm-', n)
    const otherUsers = await register(routeUrls, 'storm-other-', OTHER_USERS)
    const parts = split(users, sdk.length)
    const t0 = nowMs()
    await Promise.all(sdk.map((p, i) => p.call('connect', { routeUrls, users: parts[i], concurrency: 32 }, 300_000)))
    const before = sum(await Promise.all(sdk.map((p) => p.call<SdkFleetReport>('report'))))
    console.log(`  ${fmt(n)} SDK logins through the routes in ${fmt((nowMs() - t0) / 1000, 1)} s; on ${before.brokersShown}`)

    const b = await cluster.startBroker()
    await cim!.connectCim({ host: '127.0.0.1', port: b.cimPort, concurrency: 50 }, otherUsers)
    await cluster.waitListed(['broker-a', b.id])
    await Promise.all(sdk.map((p) => p.call('arm', { text: 'storm' })))

    // The paced sender runs through the kill and the storm; its figures are the storm's.
    const route = new URL(routeUrls[0])
    const pacedRun = paced!.call<PacedResult>('run', {
      host: route.hostname, port: Number(route.port), connections: 16, rate: OTHER_RATE, durationSec: quick ? 6 : 10,
      paths: otherUsers.map((u) => `/v1/push/users/${u.id}`),
    }, 120_000)
    await sleep(200)
    // Where the CPU goes during the storm: on this machine the 10,000 clients share its 2 cores.
    const sdkPids = sdk.map((p) => p.pid)
    const serverPids = [...cluster.routes.map((r) => r.pid), b.pid]
    const cpu0 = { sdk: procCpuUs(sdkPids), servers: procCpuUs(serverPids) }
    const killedAt = nowMs()
    await cluster.broker('broker-a').kill()
    let now = before
    for (const end = killedAt + timeoutS * 1000; nowMs() < end; await sleep(250)) {
      now = sum(await Promise.all(sdk.map((p) => p.call<SdkFleetReport>('report'))))
      if (now.received >= n) break
    }
    const cpuWindowS = (nowMs() - killedAt) / 1000
    const cpu1 = { sdk: procCpuUs(sdkPids), servers: procCpuUs(serverPids) }
    const lat = await pacedRun
    const recoveredS = now.received >= n ? (now.lastReceivedAt - killedAt) / 1000 : Infinity
    const backS = (p: number) => fmt((percentile(now.reconnectAts, p) - killedAt) / 1000, 2)
    console.log(`  after the kill: ${fmt(now.reconnected)} logged in again (p10 ${backS(10)} s, p50 ${backS(50)} s, p90 ${backS(90)} s, last at ${fmt((now.lastReconnectAt - killedAt) / 1000, 2)} s), ` +
      `${fmt(now.received)} had their push (last at ${fmt((now.lastReceivedAt - killedAt) / 1000, 2)} s); now on ${now.brokersShown}`)
    console.log(`  SDK reconnect attempts that failed: ${fmt(now.attemptsFailed)}${now.firstError ? ` (first: ${now.firstError})` : ''}; ` +
      `pushes ${fmt(now.pushes)} (${fmt(now.pushRetries)} re-sent: not yet delivered)`)
    console.log(`  CPU from the kill until all were back (${fmt(cpuWindowS, 1)} s, ${fmt(2 * cpuWindowS, 1)} CPU-s on 2 cores): ` +
      `SDK client processes ${fmt((cpu1.sdk - cpu0.sdk) / 1e6, 1)} s, routes + broker B ${fmt((cpu1.servers - cpu0.servers) / 1e6, 1)} s`)
    console.log(`  other users' pushes during the storm: ${fmt(lat.ok)} ok, ${fmt(lat.failed)} failed in ${fmt(lat.seconds, 1)} s at ` +
      `${OTHER_RATE}/s; HTTP p50 ${fmt(lat.httpP50, 2)} ms, p99 ${fmt(lat.httpP99, 2)} ms; late sends ${fmt(lat.late)}`)
    return [
      verdict('storm', `s from SIGKILL of broker A until all ${fmt(n)} SDK clients are back on B and had a push`, recoveredS, '<=', TARGET_RECOVERY_S,
        Number.isFinite(recoveredS) ? fmt(recoveredS, 2) : `not within ${timeoutS} s (${fmt(now.received)} of ${fmt(n)})`),
      { ...verdict('storm', 'p99 HTTP latency of pushes to other users during the storm (ms)', lat.httpP99, '<=', Infinity, fmt(lat.httpP99, 2)), met: true, info: `${fmt(lat.ok)} ok, ${fmt(lat.failed)} failed (no target)` },
    ] satisfies Verdict[]
  } finally {
    await stopAll([...sdk, others, paced])
    await stopRig(rig)
  }
}
