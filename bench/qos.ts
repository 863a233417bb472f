/**
 * qos 1 vs qos 0 push-to-user throughput on one node (`cim start`: route + broker, memory
 * adapters, its own process). Targets: online proto=2 users (CimClient, acking every stored
 * message, in client processes). Load: autocannon (this process) POSTing
 * /v1/push/users/{userId} round-robin over the users, `qos: 0` and `qos: 1` in alternating rounds.
 *
 * qos 1 does more per push: an inbox append (seq) before the delivery, and the client's ACK
 * removing it afterwards. Printed: req/s of each, the ratio, and that the inbox is empty at the end
 * (every qos 1 message was acked). `npx tsx bench/qos.ts` alone, or `npm run bench -- qos`.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { startNodeProcess } from './lib/node-process.ts'
import { procCpuUs } from './cluster.ts'
import type { ClientReport, LossUser } from './lib/loss-client.ts'
import { fmt, verdict, type Verdict } from './lib/stats.ts'
import { setTimeout as sleep } from 'node:timers/promises'

interface CannonResult { requests: { total: number }; duration: number; non2xx: number; errors: number; timeouts: number; latency: { p50: number; p99: number } }
// autocannon ships no type declarations; this is the part of its API used here.
const autocannon = createRequire(import.meta.url)('autocannon') as (opts: object) => Promise<CannonResult>

const CLIENT = fileURLToPath(new URL('./lib/loss-client.ts', import.meta.url))
const CONNECTIONS = 32
/** qos 1 stores and acks every message; a ratio below this would say the inbox path is the bottleneck. */
const TARGET_RATIO = 0.75

function ask<T>(child: ChildProcess, msg: object, ev: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: { ev?: string }) => { if (m.ev === ev) { child.off('message', on); resolve(m as T) } }
    child.on('message', on)
    child.send(msg)
  })
}

async function round(url: string, users: LossUser[], qos: 0 | 1, seconds: number): Promise<CannonResult> {
  const requests = users.map((u) => ({
    method: 'POST', path: `/v1/push/users/${u.userId}`, headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message: `qos ${qos} push`, qos }),
  }))
  return autocannon({ url, connections: CONNECTIONS, duration: seconds, requests })
}

export async function qos({ quick }: { quick: boolean }): Promise<Verdict[]> {
  const userCount = quick ? 50 : 200
  const rounds = quick ? 1 : 3
  const seconds = quick ? 2 : 5
  console.log(`${userCount} online proto=2 users (CimClient, 2 processes); autocannon ${CONNECTIONS} connections; ` +
    `${rounds} alternating round(s) of ${seconds} s per qos after a warm-up`)
  const { url, child: server } = await startNodeProcess()
  const clients = [0, 1].map(() => fork(CLIENT, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }))
  try {
    const users: LossUser[] = []
    for (let i = 0; i < userCount; i++) {
      const res = await fetch(`${url}/v1/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userName: `qos-${i}` }) })
      const b = await res.json() as { userId: number; userName: string }
      users.push({ userId: b.userId, userName: b.userName })
    }
    await Promise.all(clients.map((c, k) => ask(c, { cmd: 'start', users: users.filter((_, i) => i % 2 === k), routeUrls: [url], churnPerSecond: 0 }, 'started')))
    await round(url, users, 0, 1)
    await round(url, users, 1, 1)

    const totals = { 0: { n: 0, s: 0, bad: 0, p99: 0, cpuUs: 0 }, 1: { n: 0, s: 0, bad: 0, p99: 0, cpuUs: 0 } }
    for (let r = 0; r < rounds; r++) {
      for (const q of [0, 1] as const) {
        const cpu0 = procCpuUs([server.pid])
        const res = await round(url, users, q, seconds)
        const t = totals[q]
        t.cpuUs += procCpuUs([server.pid]) - cpu0
        t.n += res.requests.total
        t.s += res.duration
        t.bad += res.non2xx + res.errors + res.timeouts
        t.p99 = Math.max(t.p99, res.latency.p99)
      }
    }
    const rps0 = totals[0].n / totals[0].s
    const rps1 = totals[1].n / totals[1].s
    // Every qos 1 message acked: the inbox drains once the clients caught up.
    let stored = -1
    for (let i = 0; i < 50 && stored !== 0; i++) {
      await sleep(200)
      stored = (await (await fetch(`${url}/v1/stats`)).json() as { inbox: { stored: number } }).inbox.stored
    }
    const reports = await Promise.all(clients.map((c) => ask<ClientReport>(c, { cmd: 'report' }, 'report')))
    const received = reports.reduce((n, r) => n + r.users.reduce((m, u) => m + u.got.length, 0), 0)
    // Server CPU per push (route + broker process, from /proc): what a qos 1 push costs the node
    // itself, apart from the clients' acks that share this machine's cores.
    const cpuPer = (q: 0 | 1) => fmt(totals[q].cpuUs / totals[q].n, 1)
    console.log(`  qos 0: ${fmt(rps0)} pushes/s (p99 ${totals[0].p99} ms, ${totals[0].bad} failed), server CPU ${cpuPer(0)} µs per push`)
    console.log(`  qos 1: ${fmt(rps1)} pushes/s (p99 ${totals[1].p99} ms, ${totals[1].bad} failed), server CPU ${cpuPer(1)} µs per push`)
    console.log(`  ratio qos 1 / qos 0: ${(rps1 / rps0).toFixed(2)}; inbox stored at the end: ${stored}; messages the apps received: ${fmt(received)}`)
    return [verdict('qos', 'qos 1 / qos 0 push throughput', rps1 / rps0, '>=', TARGET_RATIO, (rps1 / rps0).toFixed(2), String(TARGET_RATIO))]
  } finally {
    for (const c of clients) { if (c.connected) c.send({ cmd: 'stop' }); setTimeout(() => c.kill('SIGKILL'), 2_000).unref() }
    server.kill('SIGTERM')
    setTimeout(() => server.kill('SIGKILL'), 5_000).unref()
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  qos({ quick: /^(1|true|yes)$/i.test(process.env.BENCH_QUICK ?? '') }).then((vs) => {
    for (const v of vs) console.log(`VERDICT ${v.scenario}: ${v.what} = ${v.shown} (target ≥ ${v.targetShown}) — ${v.met ? 'met' : 'NOT MET'}`)
    process.exit(0)
  }, (err: Error) => { console.error(err.stack ?? err); process.exit(1) })
}
