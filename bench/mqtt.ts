/**
 * (c) MQTT QoS 0 fan-out: N subscribers (mqtt package, 2 processes) on one topic and a publisher
 * process; deliveries/s through our broker's MQTT node (inside createBroker) vs a bare aedes 1.2
 * with default options, same clients and pacing, same run.
 */
import { Fleets } from './lib/fleet.ts'
import { spawn, stopAll, type Proc } from './lib/ipc.ts'
import { pipelinedRun, type PipelineResult } from './lib/pipeline.ts'
import { fmt, ratio, table, verdict } from './lib/stats.ts'
import type { Scenario } from './run.ts'

const TARGET_RATIO = 0.95
const TOPIC = 'bench/fanout'
const PAYLOAD_BYTES = 64

export interface Rig {
  name: string
  server: Proc
  subs: Fleets
  pub: Proc
}

/** `start`: settings for our server (bench/servers/ours.ts), e.g. a webhookUrl. */
export async function setup(kind: 'ours' | 'bare-aedes', n: number, start: Record<string, unknown> = {}): Promise<Rig> {
  const [server, subs, pub] = await Promise.all([
    spawn(kind, `servers/${kind}.ts`), Fleets.start(`${kind}-sub`, 'lib/mqtt-fleet.ts', 2), spawn(`${kind}-pub`, 'lib/mqtt-fleet.ts'),
  ])
  const rig = { name: kind === 'ours' ? 'CIM Relay MQTT node' : 'bare aedes 1.2', server, subs, pub }
  try {
    const info = await server.call<{ mqttPort: number }>('start', start)
    const url = `mqtt://127.0.0.1:${info.mqttPort}`
    const per = Math.ceil(n / subs.procs.length)
    await subs.callEach('subscribe', (i) => ({ url, n: Math.min(per, n - i * per), topic: TOPIC, idPrefix: `sub-${i}-` }))
    await pub.call('publisher', { url, topic: TOPIC, payloadBytes: PAYLOAD_BYTES, clientId: 'bench-publisher' })
    // One message first: every subscriber must get it (subscriptions are in place).
    await subs.mode('count')
    await pub.call('publishOnce')
    const v = await subs.waitFor(n, 10_000)
    if (v.received !== n) throw new Error(`${kind}: first publish reached ${v.received} of ${n} subscribers`)
    return rig
  } catch (err) {
    await teardown(rig)
    throw err
  }
}

export function teardown(r: Rig | undefined): Promise<void> {
  return r ? stopAll([r.pub, r.subs, r.server]) : Promise.resolve()
}

/** Sums several runs: total deliveries over total seconds. */
export function combine(runs: PipelineResult[]): PipelineResult {
  const sum = (f: (r: PipelineResult) => number) => runs.reduce((a, r) => a + f(r), 0)
  const seconds = sum((r) => r.seconds)
  const deliveries = sum((r) => r.deliveries)
  return {
    messages: sum((r) => r.messages), deliveries, expected: sum((r) => r.expected), seconds,
    rate: deliveries / seconds,
    cpu: sum((r) => r.cpu * r.seconds) / seconds,
    clientCpu: sum((r) => r.clientCpu * r.seconds) / seconds,
    cpuPerDelivery: sum((r) => r.cpuPerDelivery * r.deliveries) / deliveries,
    closed: Math.max(...runs.map((r) => r.closed)),
  }
}

export const mqtt: Scenario = async ({ quick }) => {
  const n = quick ? 100 : 1_000
  // Several short alternating rounds: a 5 % target needs more than one run per side on a shared machine.
  const rounds = quick ? 1 : 4
  const durationMs = quick ? 1_500 : 4_000
  const warmMs = quick ? 500 : 3_000
  // Enough messages in flight (~128k deliveries) that the broker, not the credit loop, sets the pace;
  // a quarter of that in quick mode, where draining the window would dominate the short runs.
  const inFlight = quick ? 32_000 : 128_000
  const window = Number(process.env.BENCH_WINDOW ?? Math.min(1024, Math.max(64, Math.round(inFlight / n))))
  console.log(`${fmt(n)} QoS 0 subscribers on one topic (2 processes), 1 publisher process, ${PAYLOAD_BYTES}-byte payloads ` +
    `pipelined ${window} ahead; ${rounds} alternating round(s) of ${durationMs / 1000} s per server after a ${warmMs / 1000} s warm-up`)
  let ours: Rig | undefined
  let bare: Rig | undefined
  try {
    ours = await setup('ours', n)
    bare = await setup('bare-aedes', n)
    const run = (r: Rig, ms: number) => pipelinedRun({ sender: r.pub, server: r.server, fleets: r.subs, fanout: n, durationMs: ms, window })
    await run(ours, warmMs) // JIT warm-up, discarded
    await run(bare, warmMs)
    const o: PipelineResult[] = []
    const b: PipelineResult[] = []
    for (let i = 0; i < rounds; i++) {
      o.push(await run(ours, durationMs))
      b.push(await run(bare, durationMs))
    }
    const rows = [[ours.name, combine(o)], [bare.name, combine(b)]] as const
    table([
      ['server', 'subscribers', 'messages', 'deliveries', 'lost', 'seconds', 'deliveries/s', 'server CPU %', 'server µs CPU/delivery', 'clients CPU %', 'closed'],
      ...rows.map(([name, r]) => [name, n, r.messages, r.deliveries, r.expected - r.deliveries, fmt(r.seconds, 2), r.rate, fmt(r.cpu), fmt(r.cpuPerDelivery, 2), fmt(r.clientCpu), r.closed]),
    ])
    if (rounds > 1) console.log(`  per round deliveries/s — ours: ${o.map((r) => fmt(r.rate)).join(', ')}; bare: ${b.map((r) => fmt(r.rate)).join(', ')}`)
    const [ro, rb] = [rows[0][1], rows[1][1]]
    const q = ratio(ro.rate, rb.rate)
    console.log(`  ratio ours/bare aedes deliveries/s: ${fmt(q, 3)}; server CPU per delivery ours/bare: ${fmt(ratio(ro.cpuPerDelivery, rb.cpuPerDelivery), 3)}`)
    return [verdict('mqtt', 'deliveries/s ratio ours/bare aedes', q, '>=', TARGET_RATIO, `${fmt(q, 3)} (${fmt(ro.rate)} vs ${fmt(rb.rate)}/s)`)]
  } finally {
    await Promise.all([teardown(ours), teardown(bare)])
  }
}
