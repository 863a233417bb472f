/**
 * Events to the backend (README "Events to your backend"):
 * 1. 1,000 MQTT devices (2 processes) publish uplink to `cim start` (a child process) whose
 *    --webhook-url points at a receiver child process: uplink events/s the receiver got.
 * 2. The MQTT fan-out of scenario (c) on our node with and without a webhook (the fan-out topic
 *    is not uplink, which devices may not subscribe to: the webhook sees the connects, and every
 *    publish pays the check): the added cost as a deliveries/s ratio.
 */
import type { ChildProcess } from 'node:child_process'
import { Fleets } from './lib/fleet.ts'
import { nowMs, sleep, spawn, stopAll, type Proc } from './lib/ipc.ts'
import { startNodeProcess } from './lib/node-process.ts'
import { pipelinedRun, type PipelineResult } from './lib/pipeline.ts'
import { fmt, ratio, table, verdict } from './lib/stats.ts'
import { combine, setup, teardown, type Rig } from './mqtt.ts'
import type { Scenario } from './run.ts'

interface ReceiverReport { events: number; uplinks: number; requests: number; firstAt: number; lastAt: number }

/** Uplink to a webhook: devices × perDevice messages; events/s from the first publish to the last event received. */
async function uplinkRate(receiver: Proc, url: string, devices: number, perDevice: number): Promise<void> {
  let node: { child: ChildProcess; mqttPort: number } | undefined
  let fleet: Fleets | undefined
  try {
    node = await startNodeProcess(['--webhook-url', url, '--insecure'])
    fleet = await Fleets.start('devices', 'lib/mqtt-fleet.ts', 2)
    const per = Math.ceil(devices / fleet.procs.length)
    const mqttUrl = `mqtt://127.0.0.1:${node.mqttPort}`
    await fleet.callEach('devices', (i) => ({ url: mqttUrl, n: Math.min(per, devices - i * per), idPrefix: `dev-${i}-` }))
    await sleep(500)
    await receiver.call('reset')
    const sent = await fleet.callEach<{ sent: number; startAt: number }>('uplink', () => ({ perDevice }))
    const total = sent.reduce((a, s) => a + s.sent, 0)
    const startAt = Math.min(...sent.map((s) => s.startAt))
    let rep: ReceiverReport
    const end = nowMs() + 120_000
    while ((rep = await receiver.call<ReceiverReport>('report')).uplinks < total && nowMs() < end) await sleep(100)
    const seconds = (rep.lastAt - startAt) / 1000
    table([
      ['devices', 'uplink publishes', 'uplink events received', 'webhook requests', 'seconds', 'uplink events/s', 'events per request'],
      [devices, total, rep.uplinks, rep.requests, fmt(seconds, 2), fmt(rep.uplinks / seconds), fmt(rep.events / Math.max(1, rep.requests), 1)],
    ])
    if (rep.uplinks < total) console.log(`  only ${rep.uplinks} of ${total} uplink events arrived within 120 s`)
  } finally {
    await stopAll([fleet])
    node?.child.kill('SIGTERM')
  }
}

export const events: Scenario = async ({ quick }) => {
  const devices = quick ? 200 : 1_000
  const perDevice = quick ? 5 : 20
  const receiver = await spawn('webhook-receiver', 'servers/webhook-receiver.ts')
  let plain: Rig | undefined
  let hooked: Rig | undefined
  try {
    const { url } = await receiver.call<{ url: string }>('start')
    console.log(`${fmt(devices)} MQTT devices (2 processes) publish ${perDevice} QoS 0 uplink messages each to cim start --webhook-url (receiver: a child process answering 200 at once)`)
    await uplinkRate(receiver, url, devices, perDevice)

    // Fan-out, same as scenario (c).
    const n = quick ? 100 : 1_000
    const rounds = quick ? 1 : 3
    const durationMs = quick ? 1_500 : 4_000
    const window = Math.min(1024, Math.max(64, Math.round((quick ? 32_000 : 128_000) / n)))
    console.log(`MQTT fan-out: ${fmt(n)} QoS 0 subscribers, 1 publisher; our node without vs with --webhook-url; ${rounds} alternating round(s) of ${durationMs / 1000} s`)
    plain = await setup('ours', n)
    hooked = await setup('ours', n, { webhookUrl: url })
    const run = (r: Rig, ms: number) => pipelinedRun({ sender: r.pub, server: r.server, fleets: r.subs, fanout: n, durationMs: ms, window })
    await run(plain, 1_000)
    await run(hooked, 1_000)
    const p: PipelineResult[] = []
    const h: PipelineResult[] = []
    for (let i = 0; i < rounds; i++) {
      p.push(await run(plain, durationMs))
      h.push(await run(hooked, durationMs))
    }
    const [rp, rh] = [combine(p), combine(h)]
    const rec = await receiver.call<ReceiverReport>('report')
    table([
      ['node', 'messages', 'deliveries/s', 'server CPU %', 'server µs CPU/delivery'],
      ['no webhook', rp.messages, rp.rate, fmt(rp.cpu), fmt(rp.cpuPerDelivery, 2)],
      ['with webhook', rh.messages, rh.rate, fmt(rh.cpu), fmt(rh.cpuPerDelivery, 2)],
    ])
    const q = ratio(rh.rate, rp.rate)
    console.log(`  ratio with/without webhook deliveries/s: ${fmt(q, 3)}; CPU per delivery with/without: ${fmt(ratio(rh.cpuPerDelivery, rp.cpuPerDelivery), 3)}; receiver got ${fmt(rec.events)} events`)
    // CPU per delivery: on a shared 2-core machine less noisy than the rate (see bench/mqtt.ts).
    const c = ratio(rh.cpuPerDelivery, rp.cpuPerDelivery)
    return [verdict('events', 'MQTT fan-out server CPU per delivery with/without webhook', c, '<=', 1.05, fmt(c, 3))]
  } finally {
    await Promise.all([teardown(plain), teardown(hooked)])
    await stopAll([receiver])
  }
}
