/**
 * The cluster scenarios: 2 broker + 2 route processes (`cli.ts broker|route`, test/support/cluster.ts)
 * over a real Redis and ZooKeeper, measured with the same harness as the single node (`cim start`
 * style, servers/ours.ts) in the same run, printed as ratios cluster/single. No targets: every
 * figure is "ratio to single node". On a small machine every process (servers, Redis, ZooKeeper,
 * clients, load generators) shares the same cores, so a ratio below 1 says what the extra hops
 * (bus, presence look-ups) cost there, not what more machines would give.
 *
 * - cluster-push: POST /v1/push/users/{id} to online users (logged in through the routes'
 *   POST /login, so they spread over both brokers): two autocannon processes of 25 connections each
 *   (one per route; both on the one route for the single node), then HTTP → client latency at half
 *   that rate (two paced senders).
 * - cluster-broadcast: pipelined broadcasts (bench/lib/pipeline.ts) from a BrokerClient over the
 *   Redis bus (servers/cluster-driver.ts) to clients split evenly over the brokers.
 */
import { readFileSync } from 'node:fs'
import { Fleets, split } from './lib/fleet.ts'
import { nowMs, sleep, spawn, stopAll, type Proc } from './lib/ipc.ts'
import type { CannonArgs, CannonResult } from './lib/cannon.ts'
import type { FleetUser } from './lib/cim-fleet.ts'
import type { PacedResult } from './lib/paced-http.ts'
import { pipelinedRun, type PipelineResult } from './lib/pipeline.ts'
import { cpuPercent, fmt, percentile, ratio, table, verdict, type Verdict } from './lib/stats.ts'
import type { DriverStart } from './servers/cluster-driver.ts'
import { Cluster, type Settings } from '../test/support/cluster.ts'
import { startRedis, startZooKeeper, type RedisServer, type ZooKeeperServer } from '../test/support/servers.ts'
import type { Scenario } from './run.ts'

const CONNECTIONS = 50
/** Long session and presence TTLs: a loaded 2-core machine must not expire a live broker mid-run. */
export const CLUSTER_SETTINGS = {
  readTimeoutMs: 3_600_000, strategy: 'round-robin', zkSessionTimeoutMs: 30_000, presenceTtlMs: 60_000,
  deliveryTimeoutMs: 10_000, logLevel: 'warn',
} as const

// ---------------------------------------------------------------------------------------------
// The cluster rig

export interface Rig { redis?: RedisServer; zk?: ZooKeeperServer; cluster?: Cluster }

/** Redis, ZooKeeper and the cluster (2 brokers + 2 routes unless `shape` says otherwise). */
export async function startRig(rig: Rig, shape: { brokers?: number; routes?: number; settings?: Settings } = {}): Promise<Cluster> {
  ;[rig.redis, rig.zk] = await Promise.all([startRedis(), startZooKeeper()])
  rig.cluster = await Cluster.start({
    redisUrl: rig.redis.url, zookeeper: rig.zk.connectString, brokers: shape.brokers ?? 2, routes: shape.routes ?? 2,
    settings: { ...CLUSTER_SETTINGS, ...shape.settings },
  })
  return rig.cluster
}

export async function stopRig(rig: Rig): Promise<void> {
  // Profiles (CLUSTER_CPU_PROF_DIR, test/support/cluster-process.ts) are written on SIGTERM only.
  if (process.env.CLUSTER_CPU_PROF_DIR) await Promise.all([...rig.cluster?.routes ?? [], ...rig.cluster?.brokers ?? []].map((p) => p.stop()))
  await rig.cluster?.close()
  await Promise.all([rig.redis?.stop(), rig.zk?.stop()])
}

/** Runs `fn` over `items` with `concurrency` calls in flight. */
export async function pool<T, R>(items: T[], concurrency: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i], i)
    }
  }))
  return out
}

export async function postJson(url: string, body: unknown): Promise<any> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const json = await res.json()
  if (res.status >= 300) throw new Error(`POST ${url}: HTTP ${res.status} ${JSON.stringify(json)}`)
  return json
}

/**
 * Registers `n` users (POST /v1/users) and logs each in through a route's POST /login (routes in
 * turn), as the upstream client does; then connects them to the broker that login named.
 */
export async function loginAll(cluster: Cluster, fleets: Fleets, prefix: string, n: number): Promise<{ users: FleetUser[]; perBroker: Map<number, number>; ms: number }> {
  const routes = cluster.routes.map((r) => r.url)
  const names = Array.from({ length: n }, (_, i) => `${prefix}${i}`)
  const users = await pool(names, 64, async (name, i) => {
    const b = await postJson(`${routes[i % routes.length]}/v1/users`, { userName: name })
    return { id: b.userId as number, name }
  })
  const ports = await pool(users, 64, async (u, i) => {
    const b = await postJson(`${routes[i % routes.length]}/login`, { userId: u.id, userName: u.name })
    if (b.code !== '9000') throw new Error(`login ${u.name}: ${JSON.stringify(b)}`)
    return b.dataBody.cimServerPort as number
  })
  const groups = new Map<number, FleetUser[]>()
  users.forEach((u, i) => { if (!groups.has(ports[i])) groups.set(ports[i], []); groups.get(ports[i])!.push(u) })
  const t0 = nowMs()
  for (const [port, group] of groups) {
    const parts = split(group, fleets.procs.length)
    await fleets.callEach('connect', (i) => ({ host: '127.0.0.1', port, users: parts[i], concurrency: 100 }))
  }
  const ms = nowMs() - t0
  // Sessions counted by each broker's /health (real time, unlike the registration heartbeat).
  const end = Date.now() + 60_000
  for (;;) {
    const counts = await Promise.all(cluster.brokers.map(async (b) =>
      ((await (await fetch(`http://127.0.0.1:${b.httpPort}/health`)).json()) as { connections: number }).connections))
    if (counts.reduce((a, c) => a + c, 0) >= n) break
    if (Date.now() > end) throw new Error(`only ${counts.join(' + ')} of ${n} clients connected`)
    await sleep(50)
  }
  return { users, perBroker: new Map([...groups].map(([p, g]) => [p, g.length])), ms }
}

/** CPU time (µs) of processes by pid, from /proc/<pid>/stat (utime + stime, clock ticks of 10 ms). */
export function procCpuUs(pids: Array<number | undefined>): number {
  let ticks = 0
  for (const pid of pids) {
    if (!pid) continue
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      ticks += Number(f[11]) + Number(f[12])
    } catch { /* exited */ }
  }
  return ticks * 10_000
}

// ---------------------------------------------------------------------------------------------
// cluster-push

interface PushTarget {
  label: string
  routeUrls: string[]
  /** Total CPU time (µs) of the server processes so far. */
  cpuUs: () => Promise<number>
}

interface PushFigures {
  label: string
  total: number
  rps: number
  failed: number
  httpP50: number
  httpP99: number
  cpu: number
  received: number
  rate: number
  lat: { ok: number; failed: number; seconds: number; backlog: number; httpP99: number }
  e2e: number[]
  perRound: number[]
}

export function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[xs[i], xs[j]] = [xs[j], xs[i]]
  }
  return xs
}

/** One measured target: verify every user gets a push, autocannon rounds, then latency at half rate. */
async function measurePush(t: PushTarget, users: FleetUser[], fleets: Fleets, cannons: Proc[], paced: Proc[],
  o: { rounds: number; durationSec: number; warmSec: number; latencySec: number }): Promise<PushFigures> {
  const url = (i: number) => t.routeUrls[i % t.routeUrls.length]
  // Every user once, through the routes in turn: each must answer "delivered" and reach its client.
  await fleets.mode('verify')
  const statuses = await pool(users, CONNECTIONS, async (u, i) =>
    (await postJson(`${url(i)}/v1/push/users/${u.id}`, { message: 'verify' })).results?.[0]?.status as string)
  const v = await fleets.waitFor(users.length, 15_000)
  const notDelivered = statuses.filter((s) => s !== 'delivered').length
  if (notDelivered || v.verified !== users.length || v.bad) {
    throw new Error(`${t.label}: verify pushes: ${notDelivered} not delivered, ${v.verified}/${users.length} verified, ${v.bad} wrong ${v.badSample ?? ''}`)
  }

  const requests = shuffle(users.map((u) => ({ path: `/v1/push/users/${u.id}`, body: '{"message":"bench push"}' })))
  const halves = split(requests, cannons.length)
  const argsOf = (durationSec: number): CannonArgs[] => cannons.map((_, i) => ({
    url: url(i), connections: CONNECTIONS / cannons.length, durationSec, requests: halves[i],
  }))
  const runAll = (durationSec: number) => Promise.all(cannons.map((c, i) => c.call<CannonResult>('run', argsOf(durationSec)[i])))
  await runAll(o.warmSec) // JIT warm-up, discarded
  await fleets.mode('count')
  let total = 0, seconds = 0, failed = 0, httpP50 = 0, httpP99 = 0, cpuUs = 0, wall = 0
  const perRound: number[] = []
  for (let r = 0; r < o.rounds; r++) {
    const t0 = nowMs()
    const c0 = await t.cpuUs()
    const rs = await runAll(o.durationSec)
    cpuUs += (await t.cpuUs()) - c0
    wall += nowMs() - t0
    const n = rs.reduce((a, x) => a + x.total, 0)
    const s = Math.max(...rs.map((x) => x.seconds))
    perRound.push(n / s)
    total += n
    seconds += s
    failed += rs.reduce((a, x) => a + x.non2xx + x.errors, 0)
    httpP50 = Math.max(httpP50, ...rs.map((x) => x.p50))
    httpP99 = Math.max(httpP99, ...rs.map((x) => x.p99))
  }
  const rps = total / seconds
  const got = await fleets.waitFor(total, 10_000)

  // Latency at half the measured rate, open loop, split over the paced senders (one per route).
  const rate = Math.max(1, Math.floor(rps / 2))
  await fleets.mode('latency')
  const lats = await Promise.all(paced.map((p, i) => {
    const u = new URL(url(i))
    return p.call<PacedResult>('run', {
      host: u.hostname, port: Number(u.port), connections: CONNECTIONS / paced.length,
      rate: rate / paced.length, durationSec: o.latencySec, paths: split(requests, paced.length)[i].map((q) => q.path),
    })
  }))
  const ok = lats.reduce((a, l) => a + l.ok, 0)
  const recv = await fleets.waitFor(ok, 10_000, true)
  return {
    label: t.label, total, rps, failed, httpP50, httpP99, cpu: cpuPercent(cpuUs, 0, wall), received: got.received, rate,
    lat: {
      ok, failed: lats.reduce((a, l) => a + l.failed, 0), seconds: Math.max(...lats.map((l) => l.seconds)),
      backlog: Math.max(...lats.map((l) => l.maxBacklog)), httpP99: Math.max(...lats.map((l) => l.httpP99)),
    },
    e2e: recv.latenciesUs ?? [], perRound,
  }
}

export const clusterPush: Scenario = async ({ quick }) => {
  const users = quick ? 200 : 2_000
  const o = { rounds: quick ? 1 : 3, durationSec: quick ? 2 : 4, warmSec: quick ? 1 : 2, latencySec: quick ? 2 : 8 }
  console.log(`${fmt(users)} online CIM users (2 client processes); 2 autocannon processes × ${CONNECTIONS / 2} connections ` +
    `(one per route in the cluster); ${o.rounds} round(s) of ${o.durationSec} s after a ${o.warmSec} s warm-up; ` +
    `latency at half the measured rate for ${o.latencySec} s (2 paced senders). Single node first, then the cluster.`)
  const ms = (us: number[], p: number) => percentile(us, p) / 1000

  // Load generators live across both phases; servers and clients are started per phase.
  let cannons: Proc[] = []
  let paced: Proc[] = []
  const figures: PushFigures[] = []
  let split2 = ''
  try {
    ;[cannons, paced] = await Promise.all([
      Promise.all([0, 1].map((i) => spawn(`autocannon-${i}`, 'lib/cannon.ts'))),
      Promise.all([0, 1].map((i) => spawn(`paced-http-${i}`, 'lib/paced-http.ts'))),
    ])

    // Single node (`cim start`: route + broker in one process over memory adapters).
    {
      let server: Proc | undefined
      let fleets: Fleets | undefined
      try {
        ;[server, fleets] = await Promise.all([spawn('ours', 'servers/ours.ts'), Fleets.start('cim', 'lib/cim-fleet.ts', 2)])
        const info = await server.call<{ cimPort: number; routeUrl: string }>('start')
        const accounts = await server.call<FleetUser[]>('register', { prefix: 'bench-cp', count: users })
        await fleets.connectCim({ host: '127.0.0.1', port: info.cimPort, concurrency: 200 }, accounts)
        const online = await server.call<{ online: number }>('waitOnline', { count: users })
        if (online.online < users) throw new Error(`single node: only ${online.online} of ${users} users online`)
        const s = server
        figures.push(await measurePush({
          label: 'single node (cim start)', routeUrls: [info.routeUrl],
          cpuUs: async () => { const c = await s.call<NodeJS.CpuUsage>('cpu'); return c.user + c.system },
        }, accounts, fleets, cannons, paced, o))
      } finally {
        await stopAll([fleets, server])
      }
    }

    // The cluster.
    {
      const rig: Rig = {}
      let fleets: Fleets | undefined
      try {
        const [cluster, f] = await Promise.all([startRig(rig), Fleets.start('cim', 'lib/cim-fleet.ts', 2)])
        fleets = f
        const logged = await loginAll(cluster, fleets, 'bench-cp', users)
        split2 = cluster.brokers.map((b) => `${b.id} ${fmt(logged.perBroker.get(b.cimPort) ?? 0)}`).join(', ')
        const pids = () => [...cluster.brokers, ...cluster.routes].map((p) => p.pid)
        figures.push(await measurePush({
          label: '2 brokers + 2 routes', routeUrls: cluster.routes.map((r) => r.url), cpuUs: async () => procCpuUs(pids()),
        }, logged.users, fleets, cannons, paced, o))
      } finally {
        await fleets?.stop()
        await stopRig(rig)
      }
    }
  } finally {
    await stopAll([...cannons, ...paced])
  }

  const [single, cluster] = figures
  console.log(`  cluster users per broker: ${split2}`)
  table([
    ['server', 'requests', 'req/s', 'non-2xx+errors', 'HTTP p50 ms', 'HTTP p99 ms', 'server CPU %', 'pushes received',
      'latency rate', 'e2e p50 ms', 'e2e p99 ms', 'e2e p99.9 ms', 'e2e max ms', 'rate kept'],
    ...figures.map((f) => [f.label, f.total, f.rps, f.failed, f.httpP50, f.httpP99, fmt(f.cpu), f.received,
      f.rate, fmt(ms(f.e2e, 50), 2), fmt(ms(f.e2e, 99), 2), fmt(ms(f.e2e, 99.9), 2), fmt(ms(f.e2e, 100), 2),
      f.lat.backlog === 0 ? 'yes' : `no (${f.lat.backlog})`]),
  ])
  for (const f of figures) {
    console.log(`  ${f.label}: per round req/s ${f.perRound.map((r) => fmt(r)).join(', ')}; server CPU per request ${fmt((f.cpu * 1e4) / f.rps, 1)} µs; ` +
      `latency phase ${fmt(f.lat.ok)} ok, ${fmt(f.lat.failed)} failed, ${fmt(f.e2e.length)} received, HTTP p99 ${fmt(f.lat.httpP99, 2)} ms`)
  }
  console.log('  (cluster server CPU = brokers + routes from /proc; Redis and ZooKeeper not included)')
  const qr = ratio(cluster.rps, single.rps)
  const q99 = ratio(ms(cluster.e2e, 99), ms(single.e2e, 99))
  const out: Verdict[] = [
    info('cluster-push', 'req/s ratio cluster/single node', qr, `${fmt(qr, 2)} (${fmt(cluster.rps)} vs ${fmt(single.rps)} req/s)`),
    info('cluster-push', 'p99 HTTP call → client receipt ratio cluster/single node', q99,
      `${fmt(q99, 2)} (${fmt(ms(cluster.e2e, 99), 2)} ms at ${fmt(cluster.rate)} req/s vs ${fmt(ms(single.e2e, 99), 2)} ms at ${fmt(single.rate)} req/s)`),
  ]
  for (const f of figures) if (f.failed > 0) out.push(verdict('cluster-push', `failed requests (${f.label})`, f.failed, '<=', 0))
  return out
}

/** A figure with no target: printed as a VERDICT line whose target reads "ratio to single node". */
export function info(scenario: string, what: string, measured: number, shown: string): Verdict {
  return { ...verdict(scenario, what, measured, '>=', 0, shown), met: Number.isFinite(measured), info: 'ratio to single node (no target)' }
}

// ---------------------------------------------------------------------------------------------
// cluster-broadcast

interface BroadcastFigures extends PipelineResult { label: string; connectMs: number; serverCpu: number; split: string }

async function verifyBroadcast(label: string, sender: Proc, fleets: Fleets, n: number): Promise<void> {
  await fleets.mode('verify')
  await sender.call('broadcastOnce', { text: 'verify' })
  const v = await fleets.waitFor(n, 20_000)
  if (v.verified !== n || v.bad) throw new Error(`${label}: verify broadcast: ${v.verified}/${n} correct, ${v.bad} wrong ${v.badSample ?? ''}`)
}

export const clusterBroadcast: Scenario = async ({ quick }) => {
  const n = quick ? 2_000 : 10_000
  const durationMs = quick ? 1_500 : 6_000
  const warmMs = quick ? 500 : 1_500
  const window = Number(process.env.BENCH_WINDOW ?? 64)
  console.log(`${fmt(n)} CIM clients in 2 processes, split evenly over the brokers (round-robin login through a route); ` +
    `broadcasts pipelined ${window} ahead of the clients' mean progress; ${durationMs / 1000} s each. Single node first, then the cluster.`)
  const figures: BroadcastFigures[] = []

  {
    let server: Proc | undefined
    let fleets: Fleets | undefined
    try {
      ;[server, fleets] = await Promise.all([spawn('ours', 'servers/ours.ts'), Fleets.start('cim', 'lib/cim-fleet.ts', 2)])
      const info = await server.call<{ cimPort: number }>('start')
      const users = await server.call<FleetUser[]>('register', { prefix: 'bench-cb', count: n })
      const conn = await fleets.connectCim({ host: '127.0.0.1', port: info.cimPort, concurrency: 200 }, users)
      const online = await server.call<{ online: number }>('waitOnline', { count: n })
      if (online.online < n) throw new Error(`single node: only ${online.online} of ${n} clients logged in`)
      await verifyBroadcast('single node', server, fleets, n)
      const run = (ms: number) => pipelinedRun({ sender: server!, server: server!, fleets: fleets!, fanout: n, durationMs: ms, window })
      await run(warmMs)
      const r = await run(durationMs)
      figures.push({ label: 'single node (cim start)', connectMs: conn.ms, serverCpu: r.cpu, split: fmt(n), ...r })
    } finally {
      await stopAll([fleets, server])
    }
  }

  {
    const rig: Rig = {}
    let fleets: Fleets | undefined
    let driver: Proc | undefined
    try {
      let cluster: Cluster
      ;[cluster, fleets, driver] = await Promise.all([startRig(rig), Fleets.start('cim', 'lib/cim-fleet.ts', 2), spawn('cluster-driver', 'servers/cluster-driver.ts')])
      const d = driver
      const started = await d.call<{ brokers: string[] }>('start', {
        redisUrl: rig.redis!.url, zookeeper: rig.zk!.connectString, zkRoot: cluster.zkRoot,
        deliveryTimeoutMs: CLUSTER_SETTINGS.deliveryTimeoutMs, brokers: 2,
      } satisfies DriverStart)
      if (started.brokers.length !== 2) throw new Error(`driver sees brokers ${started.brokers.join(', ')}`)
      const logged = await loginAll(cluster, fleets, 'bench-cb', n)
      const f = fleets
      await verifyBroadcast('cluster', d, f, n)
      const pids = () => cluster.brokers.map((b) => b.pid)
      const run = async (ms: number) => {
        const t0 = nowMs()
        const c0 = procCpuUs(pids())
        const r = await pipelinedRun({ sender: d, server: d, fleets: f, fanout: n, durationMs: ms, window })
        return { r, brokersCpu: cpuPercent(procCpuUs(pids()) - c0, 0, nowMs() - t0), brokersUs: procCpuUs(pids()) - c0 }
      }
      await run(warmMs)
      const { r, brokersCpu, brokersUs } = await run(durationMs)
      figures.push({
        label: '2 brokers (BrokerClient over Redis)', connectMs: logged.ms, ...r, serverCpu: brokersCpu,
        cpuPerDelivery: brokersUs / r.deliveries,
        split: cluster.brokers.map((b) => fmt(logged.perBroker.get(b.cimPort) ?? 0)).join(' + '),
      })
      console.log(`  sender (BrokerClient process) CPU over the run: ${fmt(r.cpu)} %`)
    } finally {
      await stopAll([fleets, driver])
      await stopRig(rig)
    }
  }

  table([
    ['server', 'clients', 'connect s', 'broadcasts', 'deliveries', 'lost', 'seconds', 'deliveries/s', 'server CPU %', 'server µs CPU/delivery', 'clients CPU %', 'closed'],
    ...figures.map((r) => [r.label, r.split, fmt(r.connectMs / 1000, 1), r.messages, r.deliveries, r.expected - r.deliveries, fmt(r.seconds, 2), r.rate,
      fmt(r.serverCpu), fmt(r.cpuPerDelivery, 2), fmt(r.clientCpu), r.closed]),
  ])
  console.log('  (cluster server CPU = both brokers from /proc; the single node\'s includes its in-process sender)')
  const [single, cluster] = figures
  const q = ratio(cluster.rate, single.rate)
  const out: Verdict[] = [info('cluster-broadcast', `deliveries/s ratio cluster/single node to ${fmt(n)} clients`, q,
    `${fmt(q, 2)} (${fmt(cluster.rate)} vs ${fmt(single.rate)} deliveries/s)`)]
  for (const f of figures) if (f.deliveries < f.expected) out.push(verdict('cluster-broadcast', `frames lost (${f.label})`, f.expected - f.deliveries, '<=', 0))
  return out
}
