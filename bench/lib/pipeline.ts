/**
 * One pipelined fan-out run, shared by the broadcast and MQTT scenarios: the sender process issues
 * messages under credit (see credit.ts) while the fleets count deliveries; the run ends when the
 * last issued message reached every receiver. Throughput = deliveries / (last receipt − first send),
 * both read on the same wall clock by different processes.
 */
import { nowMs, type Proc } from './ipc.ts'
import type { Fleets } from './fleet.ts'
import { cpuPercent } from './stats.ts'
import type { DriveResult } from './credit.ts'

export interface PipelineArgs {
  /** Process with `drive` and `credit` handlers. */
  sender: Proc
  /** Process whose CPU is measured (the server). */
  server: Proc
  fleets: Fleets
  /** Receivers per message. */
  fanout: number
  durationMs: number
  window: number
}

export interface PipelineResult {
  messages: number
  deliveries: number
  expected: number
  seconds: number
  rate: number
  /** Server CPU over the run, % of one core. */
  cpu: number
  /** All client processes' CPU over the run, % of one core. */
  clientCpu: number
  /** Server CPU time per delivery (µs): less noisy than the rate on a shared 2-core machine. */
  cpuPerDelivery: number
  closed: number
}

export async function pipelinedRun(a: PipelineArgs): Promise<PipelineResult> {
  await a.fleets.mode('count')
  a.fleets.onProgress((total) => a.sender.notify('credit', Math.floor(total / a.fanout)))
  try {
    const t0 = nowMs()
    const [cpu0, fcpu0] = await Promise.all([a.server.call<NodeJS.CpuUsage>('cpu'), fleetCpu(a.fleets)])
    const res = await a.sender.call<DriveResult>('drive', { durationMs: a.durationMs, window: a.window })
    const rep = await a.fleets.waitFor(res.sent * a.fanout, 20_000)
    const [cpu1, fcpu1] = await Promise.all([a.server.call<NodeJS.CpuUsage>('cpu'), fleetCpu(a.fleets)])
    const wall = nowMs() - t0
    const seconds = (rep.lastAt - res.startAt) / 1000
    return {
      messages: res.sent, deliveries: rep.received, expected: res.sent * a.fanout, seconds,
      rate: rep.received / seconds, closed: rep.closed,
      cpu: cpuPercent(cpu1.user - cpu0.user, cpu1.system - cpu0.system, wall),
      clientCpu: cpuPercent(fcpu1.user - fcpu0.user, fcpu1.system - fcpu0.system, wall),
      cpuPerDelivery: (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / rep.received,
    }
  } finally {
    a.fleets.onProgress(null)
  }
}

/** Summed CPU time of every fleet process. */
async function fleetCpu(f: Fleets): Promise<NodeJS.CpuUsage> {
  const all = await f.callEach<NodeJS.CpuUsage>('cpu', () => undefined)
  return all.reduce((a, c) => ({ user: a.user + c.user, system: a.system + c.system }), { user: 0, system: 0 })
}
