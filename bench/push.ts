/**
 * (b) REST push to one online user: requests/s of POST /v1/push/users/{userId} over 50 HTTP
 * connections (autocannon, own process), targets spread over many connected CIM clients, against
 * two references in the same alternating rounds: a bare push server (servers/bare-push.ts: the
 * same schema, a Map of logged-in sockets, one protobuf frame written — the smallest program doing
 * the same job) and a bare fastify route with the schema (informational: it pushes nothing). Then,
 * at half our measured rate, latency from the HTTP call to the client's receipt of the push, for
 * ours and for the bare push server at that same rate.
 */
import { Fleets } from './lib/fleet.ts'
import { nowMs, spawn, stopAll, type Proc } from './lib/ipc.ts'
import type { CannonArgs, CannonResult } from './lib/cannon.ts'
import type { PacedResult } from './lib/paced-http.ts'
import { cpuPercent, fmt, percentile, rateKept, ratio, table, verdict, type Verdict } from './lib/stats.ts'
import type { Scenario } from './run.ts'

const CONNECTIONS = 50
/** Issue 10: ours ≥ 0.7× the bare push server's req/s, at ≤ 1.5× its CPU per push. */
const TARGET_RATIO = 0.7
const TARGET_CPU_RATIO = 1.5
const TARGET_P99_MS = 5

interface Measured extends CannonResult { cpu: number }

/** One autocannon run, with the server's CPU over it. */
async function cannonRun(cannon: Proc, server: Proc, args: CannonArgs): Promise<Measured> {
  const t0 = nowMs()
  const cpu0 = await server.call<NodeJS.CpuUsage>('cpu')
  const r = await cannon.call<CannonResult>('run', args)
  const cpu1 = await server.call<NodeJS.CpuUsage>('cpu')
  return { ...r, cpu: cpuPercent(cpu1.user - cpu0.user, cpu1.system - cpu0.system, nowMs() - t0) }
}

/** Sums alternating rounds: total requests over total seconds. */
function combine(rs: Measured[]): Measured {
  const sum = (f: (r: Measured) => number) => rs.reduce((a, r) => a + f(r), 0)
  const seconds = sum((r) => r.seconds)
  const total = sum((r) => r.total)
  return {
    rps: total / seconds, total, seconds, non2xx: sum((r) => r.non2xx), errors: sum((r) => r.errors),
    p50: Math.max(...rs.map((r) => r.p50)), p99: Math.max(...rs.map((r) => r.p99)),
    cpu: sum((r) => r.cpu * r.seconds) / seconds,
  }
}

/** Server CPU per request, µs (cpu is % of one core). */
const cpuPerRequestUs = (m: Measured) => (m.cpu * 1e4) / m.rps

function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[xs[i], xs[j]] = [xs[j], xs[i]]
  }
  return xs
}

/** One push by hand: it must answer 200 with status "delivered" and reach the user's client. */
async function probe(name: string, url: string, fleets: Fleets, userId: number): Promise<void> {
  await fleets.mode('verify')
  const res = await fetch(`${url}/v1/push/users/${userId}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'probe' }),
  })
  const body = await res.json() as { results?: Array<{ status: string }> }
  const recv = await fleets.waitFor(1, 5_000)
  if (res.status !== 200 || body.results?.[0]?.status !== 'delivered' || recv.verified !== 1) {
    throw new Error(`${name} probe push: HTTP ${res.status} ${JSON.stringify(body)}, client verified ${recv.verified} (bad ${recv.bad} ${recv.badSample ?? ''})`)
  }
}

interface Latency { lat: PacedResult; e2e: number[]; p50: number; p99: number; rate: string }

/** Open-loop pushes at `rate` for durationSec; HTTP call → client receipt, from the fleet's clocks. */
async function latencyAt(paced: Proc, fleets: Fleets, url: string, rate: number, durationSec: number, paths: string[]): Promise<Latency> {
  await fleets.mode('latency')
  const u = new URL(url)
  const lat = await paced.call<PacedResult>('run', { host: u.hostname, port: Number(u.port), connections: CONNECTIONS, rate, durationSec, paths })
  const e2e = (await fleets.waitFor(lat.ok, 5_000, true)).latenciesUs ?? []
  return { lat, e2e, p50: percentile(e2e, 50) / 1000, p99: percentile(e2e, 99) / 1000, rate: rateKept(lat).text }
}

function latencyLine(name: string, l: Latency): string {
  const ms = (p: number) => fmt(percentile(l.e2e, p) / 1000, 2)
  return `  ${name} for ${fmt(l.lat.seconds, 1)} s: ${fmt(l.lat.ok)} ok, ${fmt(l.lat.failed)} failed, ${fmt(l.e2e.length)} received; ` +
    `HTTP→client p50 ${ms(50)} ms, p90 ${ms(90)} ms, p99 ${ms(99)} ms, p99.9 ${ms(99.9)} ms, max ${ms(100)} ms; ` +
    `HTTP response p50 ${fmt(l.lat.httpP50, 2)} ms, p99 ${fmt(l.lat.httpP99, 2)} ms; rate kept: ${l.rate}`
}

export const push: Scenario = async ({ quick }) => {
  const users = quick ? 200 : 2_000
  const rounds = quick ? 1 : 3
  const durationSec = quick ? 2 : 4
  const warmSec = quick ? 1 : 2
  const latencySec = quick ? 2 : 8
  console.log(`${fmt(users)} online CIM users (2 client processes per push server, the same accounts on both) as targets; ` +
    `autocannon ${CONNECTIONS} connections; ${rounds} alternating round(s) of ${durationSec} s per server after a ${warmSec} s warm-up`)

  let server: Proc | undefined
  let fleets: Fleets | undefined
  let refFleets: Fleets | undefined
  let cannon: Proc | undefined
  let paced: Proc | undefined
  let bare: Proc | undefined
  let ref: Proc | undefined
  try {
    ;[server, fleets, refFleets, cannon, paced, bare, ref] = await Promise.all([
      spawn('ours', 'servers/ours.ts'), Fleets.start('cim', 'lib/cim-fleet.ts', 2),
      Fleets.start('cim-bare', 'lib/cim-fleet.ts', 2),
      spawn('autocannon', 'lib/cannon.ts'), spawn('paced-http', 'lib/paced-http.ts'),
      spawn('bare-fastify', 'servers/bare-fastify.ts'), spawn('bare-push', 'servers/bare-push.ts'),
    ])
    const info = await server.call<{ cimPort: number; routeUrl: string }>('start')
    const bareInfo = await bare.call<{ url: string }>('start')
    const refInfo = await ref.call<{ cimPort: number; url: string }>('start')
    const accounts = await server.call<Array<{ id: number; name: string }>>('register', { prefix: 'bench-p', count: users })
    // Each server pushes to its own connections, counted by its own fleet: nothing is counted twice.
    await fleets.connectCim({ host: '127.0.0.1', port: info.cimPort, concurrency: 200 }, accounts)
    await refFleets.connectCim({ host: '127.0.0.1', port: refInfo.cimPort, concurrency: 200 }, accounts)
    for (const [name, p] of [['ours', server], ['bare push', ref]] as const) {
      const online = await p.call<{ online: number }>('waitOnline', { count: users })
      if (online.online < users) throw new Error(`${name}: only ${online.online} of ${users} users online`)
    }
    await probe('ours', info.routeUrl, fleets, accounts[0].id)
    await probe('bare push', refInfo.url, refFleets, accounts[0].id)

    const requests = shuffle(accounts.map((a) => ({ path: `/v1/push/users/${a.id}`, body: '{"message":"bench push"}' })))
    const oursArgs: CannonArgs = { url: info.routeUrl, connections: CONNECTIONS, durationSec, requests }
    const servers = [
      { proc: server, args: oursArgs },
      { proc: bare, args: { ...oursArgs, url: bareInfo.url } },
      { proc: ref, args: { ...oursArgs, url: refInfo.url } },
    ]
    for (const s of servers) await cannon.call('run', { ...s.args, durationSec: warmSec }) // JIT warm-up, discarded
    await fleets.mode('count')
    await refFleets.mode('count')
    const runs: Measured[][] = servers.map(() => [])
    for (let i = 0; i < rounds; i++) {
      for (const [k, s] of servers.entries()) runs[k].push(await cannonRun(cannon, s.proc, s.args))
    }
    const [ours, base, bp] = runs.map(combine)
    const got = await fleets.waitFor(ours.total, 5_000)
    const gotRef = await refFleets.waitFor(bp.total, 5_000)

    // Latency at half our measured maximum, open loop, for ours and then the bare push server.
    const rate = Math.max(1, Math.floor(ours.rps / 2))
    const paths = requests.map((r) => r.path)
    await server.call('loopDelayStart')
    const lo = await latencyAt(paced, fleets, info.routeUrl, rate, latencySec, paths)
    const eld = await server.call<{ p50: number; p99: number; max: number }>('loopDelayStop')
    const lr = await latencyAt(paced, refFleets, refInfo.url, rate, latencySec, paths)

    table([
      ['server', 'requests', 'req/s', 'non-2xx+errors', 'HTTP p50 ms', 'HTTP p99 ms', 'server CPU %', 'CPU µs/req', 'pushes received'],
      ['CIM Relay route+broker', ours.total, ours.rps, ours.non2xx + ours.errors, ours.p50, ours.p99, fmt(ours.cpu), fmt(cpuPerRequestUs(ours), 1), got.received],
      ['bare push server', bp.total, bp.rps, bp.non2xx + bp.errors, bp.p50, bp.p99, fmt(bp.cpu), fmt(cpuPerRequestUs(bp), 1), gotRef.received],
      ['bare fastify + TypeBox', base.total, base.rps, base.non2xx + base.errors, base.p50, base.p99, fmt(base.cpu), fmt(cpuPerRequestUs(base), 1), '—'],
    ])
    const q = ratio(ours.rps, bp.rps)
    const qBare = ratio(ours.rps, base.rps)
    const cpuQ = ratio(cpuPerRequestUs(ours), cpuPerRequestUs(bp))
    if (rounds > 1) {
      console.log(`  per round req/s — ours: ${runs[0].map((r) => fmt(r.rps)).join(', ')}; bare push: ${runs[2].map((r) => fmt(r.rps)).join(', ')}; ` +
        `bare fastify: ${runs[1].map((r) => fmt(r.rps)).join(', ')}`)
    }
    console.log(`  req/s ratio ours/bare push ${fmt(q, 2)}, ours/bare fastify ${fmt(qBare, 2)}; server CPU per push ours/bare push ${fmt(cpuQ, 2)}`)
    console.log(`  latency at ${fmt(rate)} req/s (half of ours):`)
    console.log(latencyLine('ours', lo) + `; server event-loop delay p99 ${fmt(eld.p99, 2)} ms, max ${fmt(eld.max, 2)} ms`)
    console.log(latencyLine('bare push', lr))

    const what = `p99 HTTP call → client receipt at ${fmt(rate)} req/s`
    const p99 = verdict('push', what, lo.p99, '<=', TARGET_P99_MS, `${fmt(lo.p99, 2)} ms (p50 ${fmt(lo.p50, 2)} ms; bare push ${fmt(lr.p99, 2)} ms)`, `${TARGET_P99_MS} ms`)
    const out: Verdict[] = [
      verdict('push', 'req/s ratio ours/bare push server', q, '>=', TARGET_RATIO, `${fmt(q, 2)} (${fmt(ours.rps)} vs ${fmt(bp.rps)} req/s)`),
      verdict('push', 'server CPU per push ours/bare push server', cpuQ, '<=', TARGET_CPU_RATIO,
        `${fmt(cpuQ, 2)}× (${fmt(cpuPerRequestUs(ours), 1)} vs ${fmt(cpuPerRequestUs(bp), 1)} µs)`, `${fmt(TARGET_CPU_RATIO, 1)}×`),
      // A sender that fell behind did not measure at this rate: say so instead of judging the figure.
      rateKept(lo.lat).kept ? p99 : { ...p99, met: false, info: `rate not kept, not judged against ${TARGET_P99_MS} ms: ${lo.rate}` },
      { ...verdict('push', 'req/s ratio ours/bare fastify (no push)', qBare, '>=', 0, `${fmt(qBare, 2)} (${fmt(ours.rps)} vs ${fmt(base.rps)} req/s)`),
        info: 'informational: a route that validates and answers, pushing nothing' },
    ]
    if (ours.non2xx + ours.errors > 0) out.push(verdict('push', 'failed requests (ours)', ours.non2xx + ours.errors, '<=', 0))
    if (bp.non2xx + bp.errors > 0) out.push(verdict('push', 'failed requests (bare push)', bp.non2xx + bp.errors, '<=', 0))
    return out
  } finally {
    await stopAll([fleets, refFleets, server, paced, cannon, bare, ref])
  }
}
