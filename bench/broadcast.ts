/**
 * (a) Broadcast to N logged-in CIM TCP clients: deliveries/s (frames counted by the client
 * processes) through our broker vs a naive server (per-recipient encode, one socket.write() per
 * message per socket), same clients, same sender pacing, same run.
 */
import { Fleets } from './lib/fleet.ts'
import { spawn, stopAll, type Proc } from './lib/ipc.ts'
import { pipelinedRun, type PipelineResult } from './lib/pipeline.ts'
import { syntheticUsers } from './lib/payload.ts'
import { fmt, ratio, table, verdict, type Verdict } from './lib/stats.ts'
import type { Scenario } from './run.ts'

const TARGET = 500_000

interface Run extends PipelineResult {
  name: string
  clients: number
  connectMs: number
}

async function runOne(kind: 'ours' | 'naive', n: number, durationMs: number, window: number, warmMs: number): Promise<Run> {
  let server: Proc | undefined
  let fleets: Fleets | undefined
  try {
    ;[server, fleets] = await Promise.all([spawn(kind, `servers/${kind}.ts`), Fleets.start('cim', 'lib/cim-fleet.ts', 2)])
    const info = await server.call<{ cimPort: number }>('start')
    const users = kind === 'ours'
      ? await server.call<Array<{ id: number; name: string }>>('register', { prefix: 'bench-b', count: n })
      : syntheticUsers('naive', n)
    const conn = await fleets.connectCim({ host: '127.0.0.1', port: info.cimPort, concurrency: 200 }, users)
    const online = await server.call<{ online: number }>('waitOnline', { count: n })
    if (online.online < n) throw new Error(`${kind}: only ${online.online} of ${n} clients logged in`)

    // One decoded broadcast first: every client must get exactly its own frame (receiveUserId).
    await fleets.mode('verify')
    await server.call('broadcastOnce', { text: 'verify' })
    const v = await fleets.waitFor(n, 15_000)
    if (v.verified !== n || v.bad) throw new Error(`${kind}: verify broadcast: ${v.verified}/${n} correct, ${v.bad} wrong ${v.badSample ?? ''}`)

    const run = (ms: number) => pipelinedRun({ sender: server!, server: server!, fleets: fleets!, fanout: n, durationMs: ms, window })
    await run(warmMs) // JIT warm-up, discarded
    const r = await run(durationMs)
    return { name: kind === 'ours' ? 'CIM Relay broker' : 'naive server', clients: n, connectMs: conn.ms, ...r }
  } finally {
    await stopAll([fleets, server])
  }
}

export const broadcast: Scenario = async ({ quick }) => {
  const n = quick ? 2_000 : 10_000
  const durationMs = quick ? 1_500 : 6_000
  const warmMs = quick ? 500 : 1_500
  const window = Number(process.env.BENCH_WINDOW ?? 64)
  console.log(`${fmt(n)} CIM clients (upstream login frame) in 2 processes; broadcasts pipelined ${window} ahead of the clients' mean progress; ${durationMs / 1000} s each`)
  const ours = await runOne('ours', n, durationMs, window, warmMs)
  const naive = await runOne('naive', n, durationMs, window, warmMs)
  table([
    ['server', 'clients', 'connect s', 'broadcasts', 'deliveries', 'lost', 'seconds', 'deliveries/s', 'server CPU %', 'server µs CPU/delivery', 'clients CPU %', 'closed'],
    ...[ours, naive].map((r) => [r.name, r.clients, fmt(r.connectMs / 1000, 1), r.messages, r.deliveries, r.expected - r.deliveries, fmt(r.seconds, 2), r.rate, fmt(r.cpu), fmt(r.cpuPerDelivery, 2), fmt(r.clientCpu), r.closed]),
  ])
  const q = ratio(ours.rate, naive.rate)
  console.log(`  ratio ours/naive deliveries/s: ${fmt(q, 2)}×`)
  const out: Verdict[] = [verdict('broadcast', 'deliveries/s to ' + fmt(n) + ' clients', ours.rate, '>=', TARGET)]
  if (ours.deliveries < ours.expected) out.push(verdict('broadcast', 'frames lost', ours.expected - ours.deliveries, '<=', 0))
  return out
}
