/**
 * (b) REST push to one online user: requests/s of POST /v1/push/users/{userId} over 50 HTTP
 * connections (autocannon, own process), targets spread over many connected CIM clients, vs a bare
 * fastify route with a TypeBox schema; then, at half our measured rate, latency from the HTTP call
 * to the client's receipt of the push.
 */
import { Fleets } from './lib/fleet.ts'
import { nowMs, spawn, stopAll, type Proc } from './lib/ipc.ts'
import type { CannonArgs, CannonResult } from './lib/cannon.ts'
import type { PacedResult } from './lib/paced-http.ts'
import { cpuPercent, fmt, percentile, ratio, table, verdict, type Verdict } from './lib/stats.ts'
import type { Scenario } from './run.ts'

const CONNECTIONS = 50
const TARGET_RATIO = 0.6
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

function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[xs[i], xs[j]] = [xs[j], xs[i]]
  }
  return xs
}

export const push: Scenario = async ({ quick }) => {
  const users = quick ? 200 : 2_000
  const rounds = quick ? 1 : 3
  const durationSec = quick ? 2 : 4
  const warmSec = quick ? 1 : 2
  const latencySec = quick ? 2 : 8
  console.log(`${fmt(users)} online CIM users (2 client processes) as targets; autocannon ${CONNECTIONS} connections; ` +
    `${rounds} alternating round(s) of ${durationSec} s per server after a ${warmSec} s warm-up`)

  let server: Proc | undefined
  let fleets: Fleets | undefined
  let cannon: Proc | undefined
  let paced: Proc | undefined
  let bare: Proc | undefined
  try {
    ;[server, fleets, cannon, paced, bare] = await Promise.all([
      spawn('ours', 'servers/ours.ts'), Fleets.start('cim', 'lib/cim-fleet.ts', 2),
      spawn('autocannon', 'lib/cannon.ts'), spawn('paced-http', 'lib/paced-http.ts'),
      spawn('bare-fastify', 'servers/bare-fastify.ts'),
    ])
    const info = await server.call<{ cimPort: number; routeUrl: string }>('start')
    const bareInfo = await bare.call<{ url: string }>('start')
    const accounts = await server.call<Array<{ id: number; name: string }>>('register', { prefix: 'bench-p', count: users })
    await fleets.connectCim({ host: '127.0.0.1', port: info.cimPort, concurrency: 200 }, accounts)
    const online = await server.call<{ online: number }>('waitOnline', { count: users })
    if (online.online < users) throw new Error(`only ${online.online} of ${users} users online`)

    // One push by hand: it must answer 200 with status "delivered" and reach the client.
    await fleets.mode('verify')
    const probe = await fetch(`${info.routeUrl}/v1/push/users/${accounts[0].id}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'probe' }),
    })
    const probeBody = await probe.json() as { results?: Array<{ status: string }> }
    const probeRecv = await fleets.waitFor(1, 5_000)
    if (probe.status !== 200 || probeBody.results?.[0]?.status !== 'delivered' || probeRecv.verified !== 1) {
      throw new Error(`probe push: HTTP ${probe.status} ${JSON.stringify(probeBody)}, client verified ${probeRecv.verified}`)
    }

    const requests = shuffle(accounts.map((a) => ({ path: `/v1/push/users/${a.id}`, body: '{"message":"bench push"}' })))
    const oursArgs: CannonArgs = { url: info.routeUrl, connections: CONNECTIONS, durationSec, requests }
    const bareArgs: CannonArgs = { ...oursArgs, url: bareInfo.url }
    await cannon.call('run', { ...oursArgs, durationSec: warmSec }) // JIT warm-up, discarded
    await cannon.call('run', { ...bareArgs, durationSec: warmSec })
    await fleets.mode('count')
    const o: Measured[] = []
    const b: Measured[] = []
    for (let i = 0; i < rounds; i++) {
      o.push(await cannonRun(cannon, server, oursArgs))
      b.push(await cannonRun(cannon, bare, bareArgs))
    }
    const ours = combine(o)
    const base = combine(b)
    const got = await fleets.waitFor(ours.total, 5_000)

    // Latency at half our measured maximum, open loop.
    const rate = Math.max(1, Math.floor(ours.rps / 2))
    await fleets.mode('latency')
    await server.call('loopDelayStart')
    const url = new URL(info.routeUrl)
    const lat = await paced.call<PacedResult>('run', {
      host: url.hostname, port: Number(url.port), connections: CONNECTIONS, rate, durationSec: latencySec,
      paths: requests.map((r) => r.path),
    })
    const recv = await fleets.waitFor(lat.ok, 5_000, true)
    const eld = await server.call<{ p50: number; p99: number; max: number }>('loopDelayStop')
    const e2e = recv.latenciesUs ?? []
    const p50 = percentile(e2e, 50) / 1000
    const p99 = percentile(e2e, 99) / 1000

    table([
      ['server', 'requests', 'req/s', 'non-2xx+errors', 'HTTP p50 ms', 'HTTP p99 ms', 'server CPU %', 'pushes received'],
      ['CIM Relay route+broker', ours.total, ours.rps, ours.non2xx + ours.errors, ours.p50, ours.p99, fmt(ours.cpu), got.received],
      ['bare fastify + TypeBox', base.total, base.rps, base.non2xx + base.errors, base.p50, base.p99, fmt(base.cpu), '—'],
    ])
    const q = ratio(ours.rps, base.rps)
    if (rounds > 1) console.log(`  per round req/s — ours: ${o.map((r) => fmt(r.rps)).join(', ')}; bare: ${b.map((r) => fmt(r.rps)).join(', ')}`)
    console.log(`  ratio ours/bare req/s: ${fmt(q, 2)}; server CPU per request: ours ${fmt((ours.cpu * 1e4) / ours.rps, 1)} µs, bare ${fmt((base.cpu * 1e4) / base.rps, 1)} µs`)
    console.log(`  latency at ${fmt(rate)} req/s (half of ours) for ${fmt(lat.seconds, 1)} s: ${fmt(lat.ok)} ok, ${fmt(lat.failed)} failed, ` +
      `${fmt(e2e.length)} received; HTTP→client p50 ${fmt(p50, 2)} ms, p90 ${fmt(percentile(e2e, 90) / 1000, 2)} ms, ` +
      `p99 ${fmt(p99, 2)} ms, p99.9 ${fmt(percentile(e2e, 99.9) / 1000, 2)} ms, max ${fmt(percentile(e2e, 100) / 1000, 2)} ms; ` +
      `HTTP response p50 ${fmt(lat.httpP50, 2)} ms, p99 ${fmt(lat.httpP99, 2)} ms; rate kept: ${lat.maxBacklog === 0 ? 'yes' : `no (backlog up to ${lat.maxBacklog})`}; ` +
      `server event-loop delay p99 ${fmt(eld.p99, 2)} ms, max ${fmt(eld.max, 2)} ms`)
    const out: Verdict[] = [
      verdict('push', 'req/s ratio ours/bare fastify', q, '>=', TARGET_RATIO, `${fmt(q, 2)} (${fmt(ours.rps)} vs ${fmt(base.rps)} req/s)`),
      verdict('push', `p99 HTTP call → client receipt at ${fmt(rate)} req/s`, p99, '<=', TARGET_P99_MS, `${fmt(p99, 2)} ms (p50 ${fmt(p50, 2)} ms)`, `${TARGET_P99_MS} ms`),
    ]
    if (ours.non2xx + ours.errors > 0) out.push(verdict('push', 'failed requests (ours)', ours.non2xx + ours.errors, '<=', 0))
    return out
  } finally {
    await stopAll([fleets, server, paced, cannon, bare])
  }
}
