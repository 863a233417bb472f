/**
 * Batch REST push: POST /v1/push/users (`{userIds, message}`, qos 0) with 100 and with 1,000
 * distinct online users per request, on one node (`cim start` style, servers/ours.ts) and on
 * 2 routes + 2 brokers over real Redis + ZooKeeper (the rig of cluster.ts; users log in through
 * the routes, so they spread over both brokers and every request fans out to both).
 *
 * Load: closed loop, autocannon (lib/cannon.ts, one process per route) with a few requests in
 * flight, cycling through request bodies that each name a window of distinct users taken in turn
 * from shuffled copies of the online users. Deliveries are counted twice: `"status":"delivered"`
 * in the JSON answers, and the frames the CIM client fleets received (count mode). The fleets may
 * get more than the answers say (requests in flight when autocannon stops were delivered but not
 * answered to it), never fewer.
 *
 * Target: ≥ 300,000 deliveries/s with 100 users per request on one node. 1,000 per request and
 * the cluster are informational (cluster figures as a ratio to the single node). On a 2-core
 * machine the server, the client fleets and autocannon share the cores.
 *
 * BENCH_BATCH_SIZES=100 and BENCH_BATCH_TARGETS=single narrow a run (e.g. for BENCH_PROF=ours);
 * BENCH_BATCH_CONNECTIONS sets the requests in flight per size (default 8 for 100, 4 for 1,000).
 */
import os from 'node:os'
import { readFileSync } from 'node:fs'
import { Fleets, split } from './lib/fleet.ts'
import { nowMs, sleep, spawn, stopAll, type Proc } from './lib/ipc.ts'
import type { CannonArgs, CannonResult } from './lib/cannon.ts'
import type { FleetUser } from './lib/cim-fleet.ts'
import { cpuPercent, fmt, ratio, table, verdict, type Verdict } from './lib/stats.ts'
import { info, loginAll, pool, postJson, shuffle, startRig, stopRig, type Rig } from './cluster.ts'
import type { Scenario } from './run.ts'

const TARGET_DELIVERIES_PER_SEC = 300_000
const DELIVERED = '"status":"delivered"'
const MESSAGE = 'bench batch'
/** Distinct request bodies per size (autocannon cycles through them). */
const BODIES = 256

interface Target {
  label: string
  routeUrls: string[]
  /** The server processes (route + broker, or every route and broker of the cluster). */
  pids: () => number[]
}

interface ProcCounters {
  userUs: number
  systemUs: number
  /** write-family system calls (/proc/<pid>/io syscw): the CIM socket writes plus the HTTP answers. */
  writes: number
}

/** CPU time (utime, stime: clock ticks of 10 ms) and write system calls of processes so far, from /proc. */
function procCounters(pids: number[]): ProcCounters {
  const c: ProcCounters = { userUs: 0, systemUs: 0, writes: 0 }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      c.userUs += Number(f[11]) * 10_000
      c.systemUs += Number(f[12]) * 10_000
      c.writes += Number(/^syscw: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0)
    } catch { /* exited */ }
  }
  return c
}

interface BatchFigures {
  label: string
  size: number
  connections: number
  requests: number
  seconds: number
  rps: number
  /** Users answered `delivered`. */
  delivered: number
  /** Frames the client fleets received over the same rounds. */
  received: number
  failed: number
  p50: number
  p99: number
  cpu: number
  /** Share of the server's CPU time spent in the kernel. */
  systemShare: number
  cpuUsPerDelivery: number
  writesPerDelivery: number
  load: number
}

interface Options { sizes: number[]; rounds: number; durationSec: number; warmSec: number; connections: Record<number, number> }

/** Request bodies naming `size` distinct users each, in windows taken in turn from shuffled copies of `users`. */
function batchBodies(users: FleetUser[], size: number, count: number): Array<{ path: string; body: string }> {
  if (size > users.length) throw new Error(`${size} users per request but only ${users.length} online`)
  const out: Array<{ path: string; body: string }> = []
  let order = shuffle(users.map((u) => u.id))
  let at = 0
  while (out.length < count) {
    if (at + size > order.length) { order = shuffle(order); at = 0 }
    out.push({ path: '/v1/push/users', body: JSON.stringify({ userIds: order.slice(at, at + size), message: MESSAGE }) })
    at += size
  }
  return out
}

/** Every user once, in batches of 100 through the routes in turn: each answer and each frame must be right. */
async function verifyBatch(t: Target, users: FleetUser[], fleets: Fleets): Promise<void> {
  await fleets.mode('verify')
  const batches = split(users, Math.ceil(users.length / 100))
  const delivered = await pool(batches, 8, async (b, i) => {
    const answer = await postJson(`${t.routeUrls[i % t.routeUrls.length]}/v1/push/users`, { userIds: b.map((u) => u.id), message: 'verify' })
    return (answer.results as Array<{ status: string }>).filter((r) => r.status === 'delivered').length
  })
  const answered = delivered.reduce((a, n) => a + n, 0)
  const v = await fleets.waitFor(users.length, 15_000)
  if (answered !== users.length || v.verified !== users.length || v.bad) {
    throw new Error(`${t.label}: verify batches: ${answered}/${users.length} delivered, ${v.verified} verified, ${v.bad} wrong ${v.badSample ?? ''}`)
  }
}

/** Waits until the fleets received nothing for 200 ms (the tail of a run), so the next count starts clean. */
async function settle(fleets: Fleets): Promise<void> {
  for (let last = -1; fleets.total() !== last;) {
    last = fleets.total()
    await sleep(200)
  }
}

/** One size on one target: a warm-up, then measured rounds with the server's CPU over them. */
async function measureSize(t: Target, users: FleetUser[], fleets: Fleets, cannons: Proc[], size: number, o: Options): Promise<BatchFigures> {
  const connections = o.connections[size] ?? 4
  const parts = split(batchBodies(users, size, BODIES), cannons.length)
  const args = (durationSec: number): CannonArgs[] => cannons.map((_, i) => ({
    url: t.routeUrls[i % t.routeUrls.length], connections: Math.max(1, Math.round(connections / cannons.length)),
    durationSec, requests: parts[i], countInBody: DELIVERED,
  }))
  const runAll = (durationSec: number) => Promise.all(cannons.map((c, i) => c.call<CannonResult>('run', args(durationSec)[i])))
  await fleets.mode('count')
  await runAll(o.warmSec) // JIT warm-up, discarded
  await settle(fleets)
  await fleets.mode('count')
  let requests = 0, seconds = 0, delivered = 0, failed = 0, p50 = 0, p99 = 0, wall = 0
  const used: ProcCounters = { userUs: 0, systemUs: 0, writes: 0 }
  for (let r = 0; r < o.rounds; r++) {
    const t0 = nowMs()
    const c0 = procCounters(t.pids())
    const rs = await runAll(o.durationSec)
    const c1 = procCounters(t.pids())
    wall += nowMs() - t0
    used.userUs += c1.userUs - c0.userUs
    used.systemUs += c1.systemUs - c0.systemUs
    used.writes += c1.writes - c0.writes
    requests += rs.reduce((a, x) => a + x.total, 0)
    seconds += Math.max(...rs.map((x) => x.seconds))
    delivered += rs.reduce((a, x) => a + (x.bodyMatches ?? 0), 0)
    failed += rs.reduce((a, x) => a + x.non2xx + x.errors, 0)
    p50 = Math.max(p50, ...rs.map((x) => x.p50))
    p99 = Math.max(p99, ...rs.map((x) => x.p99))
  }
  const load = os.loadavg()[0]
  await settle(fleets)
  const received = (await fleets.waitFor(delivered, 10_000)).received
  const cpuUs = used.userUs + used.systemUs
  return {
    label: t.label, size, connections, requests, seconds, rps: requests / seconds, delivered, received, failed, p50, p99,
    cpu: cpuPercent(cpuUs, 0, wall), systemShare: used.systemUs / cpuUs, cpuUsPerDelivery: cpuUs / delivered,
    writesPerDelivery: used.writes / delivered, load,
  }
}

async function singleNode(userCount: number, o: Options): Promise<BatchFigures[]> {
  let server: Proc | undefined
  let fleets: Fleets | undefined
  let cannon: Proc | undefined
  try {
    ;[server, fleets, cannon] = await Promise.all([
      spawn('ours', 'servers/ours.ts'), Fleets.start('cim', 'lib/cim-fleet.ts', 2), spawn('autocannon-0', 'lib/cannon.ts'),
    ])
    const s = server
    const started = await s.call<{ cimPort: number; routeUrl: string; pid: number }>('start')
    const users = await s.call<FleetUser[]>('register', { prefix: 'bench-batch', count: userCount })
    await fleets.connectCim({ host: '127.0.0.1', port: started.cimPort, concurrency: 200 }, users)
    const online = await s.call<{ online: number }>('waitOnline', { count: userCount })
    if (online.online < userCount) throw new Error(`single node: only ${online.online} of ${userCount} users online`)
    const t: Target = { label: 'single node (cim start)', routeUrls: [started.routeUrl], pids: () => [started.pid] }
    await verifyBatch(t, users, fleets)
    const out: BatchFigures[] = []
    for (const size of o.sizes) out.push(await measureSize(t, users, fleets, [cannon], size, o))
    return out
  } finally {
    await stopAll([cannon, fleets, server])
  }
}

async function cluster(userCount: number, o: Options): Promise<{ figures: BatchFigures[]; split: string }> {
  const rig: Rig = {}
  let fleets: Fleets | undefined
  let cannons: Proc[] = []
  try {
    const [c, f, cs] = await Promise.all([
      startRig(rig), Fleets.start('cim', 'lib/cim-fleet.ts', 2),
      Promise.all([0, 1].map((i) => spawn(`autocannon-${i}`, 'lib/cannon.ts'))),
    ])
    fleets = f
    cannons = cs
    const logged = await loginAll(c, f, 'bench-batch', userCount)
    const t: Target = {
      label: '2 brokers + 2 routes', routeUrls: c.routes.map((r) => r.url),
      pids: () => [...c.brokers, ...c.routes].map((p) => p.pid ?? 0),
    }
    await verifyBatch(t, logged.users, f)
    const figures: BatchFigures[] = []
    for (const size of o.sizes) figures.push(await measureSize(t, logged.users, f, cannons, size, o))
    return { figures, split: c.brokers.map((b) => `${b.id} ${fmt(logged.perBroker.get(b.cimPort) ?? 0)}`).join(', ') }
  } finally {
    await stopAll([...cannons, fleets])
    await stopRig(rig)
  }
}

function listEnv(name: string, fallback: string): string[] {
  return (process.env[name] ?? fallback).split(',').map((x) => x.trim()).filter(Boolean)
}

export const batch: Scenario = async ({ quick }) => {
  const singleUsers = quick ? 2_000 : 10_000
  const clusterUsers = quick ? 2_000 : 10_000
  const sizes = listEnv('BENCH_BATCH_SIZES', '100,1000').map(Number)
  const targets = listEnv('BENCH_BATCH_TARGETS', 'single,cluster')
  const inFlight = listEnv('BENCH_BATCH_CONNECTIONS', '').map(Number)
  const defaults: Record<number, number> = { 100: 8, 1000: 4 }
  const connections = Object.fromEntries(sizes.map((s, i) => [s, inFlight[i] ?? defaults[s] ?? 4]))
  const o: Options = { sizes, rounds: quick ? 1 : 2, durationSec: quick ? 2 : 3, warmSec: quick ? 1 : 2, connections }
  console.log(`POST /v1/push/users, qos 0, ${sizes.map((s) => `${fmt(s)} users per request (${connections[s]} in flight)`).join(' and ')}; ` +
    `online CIM users: ${fmt(singleUsers)} on the single node, ${fmt(clusterUsers)} in the cluster (2 client processes, count mode); ` +
    `autocannon, one process per route; ${o.rounds} round(s) of ${o.durationSec} s after a ${o.warmSec} s warm-up per size.`)

  const figures: BatchFigures[] = []
  let split2 = ''
  if (targets.includes('single')) figures.push(...await singleNode(singleUsers, o))
  if (targets.includes('cluster')) {
    const c = await cluster(clusterUsers, o)
    figures.push(...c.figures)
    split2 = c.split
  }

  if (split2) console.log(`  cluster users per broker: ${split2}`)
  table([
    ['server', 'users/request', 'in flight', 'requests', 'req/s', 'deliveries/s', 'answered delivered', 'fleet received',
      'non-2xx+errors', 'HTTP p50 ms', 'HTTP p99 ms', 'server CPU %', 'kernel share', 'CPU µs/delivery', 'writes/delivery', 'load 1m'],
    ...figures.map((f) => [f.label, f.size, f.connections, f.requests, f.rps, f.delivered / f.seconds, f.delivered, f.received,
      f.failed, f.p50, f.p99, fmt(f.cpu), `${fmt(f.systemShare * 100)} %`, fmt(f.cpuUsPerDelivery, 2), fmt(f.writesPerDelivery, 2), fmt(f.load, 2)]),
  ])
  console.log('  (deliveries/s from the answers\' "delivered" results; the fleets\' count may exceed them by what was in flight when a round stopped.' +
    ' Server CPU and write system calls from /proc: route + broker, or the cluster\'s brokers + routes; Redis and ZooKeeper not included)')

  const out: Verdict[] = []
  const find = (label: string, size: number) => figures.find((f) => f.label === label && f.size === size)
  for (const size of sizes) {
    const single = find('single node (cim start)', size)
    const multi = find('2 brokers + 2 routes', size)
    const rate = (f: BatchFigures) => f.delivered / f.seconds
    if (single && size === 100) {
      out.push(verdict('batch', 'deliveries/s, 100 users per request, one node', rate(single), '>=', TARGET_DELIVERIES_PER_SEC))
    } else if (single) {
      out.push({ ...verdict('batch', `deliveries/s, ${fmt(size)} users per request, one node`, rate(single), '>=', 0), info: 'informational (no target)' })
    }
    if (single && multi) {
      const q = ratio(rate(multi), rate(single))
      out.push(info('batch', `deliveries/s ratio cluster/single node, ${fmt(size)} users per request`, q,
        `${fmt(q, 2)} (${fmt(rate(multi))} vs ${fmt(rate(single))} deliveries/s)`))
    }
  }
  for (const f of figures) {
    if (f.failed > 0) out.push(verdict('batch', `failed requests (${f.label}, ${fmt(f.size)} per request)`, f.failed, '<=', 0))
    if (f.received < f.delivered) out.push(verdict('batch', `frames answered delivered but not received (${f.label}, ${fmt(f.size)} per request)`, f.delivered - f.received, '<=', 0))
  }
  return out
}
