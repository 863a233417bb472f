/**
 * (d) Resident memory per idle, logged-in CIM connection: (RSS after − RSS before) / N of the
 * server process, each read after forced GC (--expose-gc), vs a bare net server holding N idle
 * sockets, measured the same way in the same run.
 */
import { Fleets } from './lib/fleet.ts'
import { sleep, spawn, stopAll, type Proc } from './lib/ipc.ts'
import { syntheticUsers } from './lib/payload.ts'
import { fmt, table, verdict } from './lib/stats.ts'
import type { Scenario } from './run.ts'

const TARGET_KB = 6

interface Reading { name: string; n: number; before: NodeJS.MemoryUsage; after: NodeJS.MemoryUsage }

async function measure(kind: 'ours' | 'bare-net', n: number): Promise<Reading> {
  let server: Proc | undefined
  let fleets: Fleets | undefined
  try {
    ;[server, fleets] = await Promise.all([
      spawn(kind, `servers/${kind}.ts`, { gc: true }),
      Fleets.start('cim', 'lib/cim-fleet.ts', 2),
    ])
    const info = await server.call<{ cimPort: number }>('start')
    // Accounts are registered before the first reading: they are the user base, not the connections.
    const users = kind === 'ours'
      ? await server.call<Array<{ id: number; name: string }>>('register', { prefix: 'bench-m', count: n })
      : syntheticUsers('bare', n)
    const before = await server.call<NodeJS.MemoryUsage>('mem')
    await fleets.connectCim({ host: '127.0.0.1', port: info.cimPort, concurrency: 200 }, users)
    const online = await server.call<{ online: number }>('waitOnline', { count: n })
    if (online.online < n) throw new Error(`${kind}: only ${online.online} of ${n} connections established`)
    await sleep(500) // let login bookkeeping (presence, registration heartbeats) settle
    const after = await server.call<NodeJS.MemoryUsage>('mem')
    const rep = await fleets.report()
    if (rep.closed) throw new Error(`${kind}: ${rep.closed} connections were closed while idle`)
    return { name: kind === 'ours' ? 'CIM Relay (logged in)' : 'bare net server', n, before, after }
  } finally {
    await stopAll([fleets, server])
  }
}

const kb = (bytes: number) => bytes / 1024
const perConn = (r: Reading, key: keyof NodeJS.MemoryUsage) => kb(r.after[key] - r.before[key]) / r.n

export const memory: Scenario = async ({ quick }) => {
  const n = quick ? 2_000 : 10_000
  console.log(`${fmt(n)} idle connections (clients in 2 processes); RSS read after 3 forced GCs`)
  const ours = await measure('ours', n)
  const bare = await measure('bare-net', n)
  table([
    ['server', 'connections', 'RSS before MB', 'RSS after MB', 'RSS KB/conn', 'heapUsed KB/conn', 'external KB/conn'],
    ...[ours, bare].map((r) => [
      r.name, r.n, fmt(r.before.rss / 2 ** 20, 1), fmt(r.after.rss / 2 ** 20, 1),
      fmt(perConn(r, 'rss'), 2), fmt(perConn(r, 'heapUsed'), 2), fmt(perConn(r, 'external'), 2),
    ]),
  ])
  const o = perConn(ours, 'rss')
  const b = perConn(bare, 'rss')
  // Our process starts with a larger heap that has free space left by startup (route, OpenAPI),
  // which new sessions fill without growing RSS, so the RSS delta can flatter us. The estimate
  // below charges our extra JS heap + external bytes on top of a bare socket's RSS instead.
  const js = (r: Reading) => perConn(r, 'heapUsed') + perConn(r, 'external')
  const estimate = b + Math.max(0, js(ours) - js(bare))
  console.log(`  ours − bare: ${fmt(o - b, 2)} KB RSS, ${fmt(js(ours) - js(bare), 2)} KB heap+external per connection ` +
    `(session, decoder, presence entry); bare RSS + our extra heap = ${fmt(estimate, 2)} KB`)
  const worst = Math.max(o, estimate)
  return [verdict('memory', 'RSS per idle logged-in CIM connection', worst, '<=', TARGET_KB,
    `${fmt(o, 2)} KB measured, ${fmt(estimate, 2)} KB heap-adjusted (bare socket ${fmt(b, 2)} KB)`, `${TARGET_KB} KB`)]
}
