/**
 * Parent side of the client fleets: several child processes (each well under the 20,000
 * descriptor limit), with their progress summed so a scenario can give credit to its sender and
 * wait for the last delivery.
 */
import { spawn, sleep, stopAll, type Proc } from './ipc.ts'
import type { ConnectArgs, FleetReport, FleetUser, Mode } from './cim-fleet.ts'

export class Fleets {
  private readonly progress: number[]
  private readonly lastAt: number[]
  private listener: ((total: number) => void) | null = null

  private constructor(readonly procs: Proc[]) {
    this.progress = procs.map(() => 0)
    this.lastAt = procs.map(() => 0)
    procs.forEach((p, i) => p.on('progress', (d: { received: number; lastAt: number }) => {
      this.progress[i] = d.received
      this.lastAt[i] = d.lastAt
      this.listener?.(this.total())
    }))
  }

  /** Starts `count` processes running `file` (bench-relative). */
  static async start(name: string, file: string, count: number): Promise<Fleets> {
    const procs = await Promise.all(Array.from({ length: count }, (_, i) => spawn(`${name}-${i}`, file)))
    return new Fleets(procs)
  }

  total(): number {
    let t = 0
    for (const n of this.progress) t += n
    return t
  }

  /** Called with the summed received count on every progress event. */
  onProgress(fn: ((total: number) => void) | null): void {
    this.listener = fn
  }

  /** Splits users evenly over the processes and connects them all. */
  async connectCim(args: Omit<ConnectArgs, 'users'>, users: FleetUser[]): Promise<{ connected: number; ms: number }> {
    const parts = split(users, this.procs.length)
    const res = await Promise.all(this.procs.map((p, i) => p.call<{ connected: number; ms: number }>('connect', { ...args, users: parts[i] })))
    return { connected: res.reduce((a, r) => a + r.connected, 0), ms: Math.max(...res.map((r) => r.ms)) }
  }

  /** Calls `cmd` in every process, with `argsOf(i)` as its argument. */
  callEach<T>(cmd: string, argsOf: (i: number) => unknown): Promise<T[]> {
    return Promise.all(this.procs.map((p, i) => p.call<T>(cmd, argsOf(i))))
  }

  async mode(m: Mode): Promise<void> {
    await Promise.all(this.procs.map((p) => p.call('mode', m)))
    // Progress sent before a child reset arrives before its reply (one ordered channel), so zeroing
    // here, not before the calls, leaves no stale count to over-credit the next run.
    this.progress.fill(0)
    this.lastAt.fill(0)
  }

  async report(latencies = false): Promise<FleetReport> {
    const rs = await Promise.all(this.procs.map((p) => p.call<FleetReport>('report', { latencies })))
    return {
      received: rs.reduce((a, r) => a + r.received, 0),
      lastAt: Math.max(...rs.map((r) => r.lastAt)),
      closed: rs.reduce((a, r) => a + r.closed, 0),
      verified: rs.reduce((a, r) => a + r.verified, 0),
      bad: rs.reduce((a, r) => a + r.bad, 0),
      badSample: rs.find((r) => r.badSample)?.badSample,
      latenciesUs: latencies ? rs.flatMap((r) => r.latenciesUs ?? []) : undefined,
    }
  }

  /** Waits until the fleets together received `expected` frames (or the timeout), then reports. */
  async waitFor(expected: number, timeoutMs: number, latencies = false): Promise<FleetReport> {
    const end = Date.now() + timeoutMs
    while (this.total() < expected && Date.now() < end) await sleep(10)
    // Progress events run every 10 ms; the report is exact.
    let r = await this.report(latencies)
    while (r.received < expected && Date.now() < end) {
      await sleep(50)
      r = await this.report(latencies)
    }
    return r
  }

  stop(): Promise<void> {
    return stopAll(this.procs)
  }
}

export function split<T>(items: T[], parts: number): T[][] {
  const out: T[][] = Array.from({ length: parts }, () => [])
  items.forEach((x, i) => out[i % parts].push(x))
  return out
}
