/**
 * Child process: an open-loop HTTP load generator for latency at a fixed rate. autocannon's rate
 * option sends each connection's quota for the second in one burst and then waits, which measures
 * queueing in bursts rather than latency at a rate; this sends request k at start + k/rate (1 ms
 * timer granularity) over keep-alive connections, one request in flight per connection.
 *
 * Each body is `{"message":"<process.hrtime.bigint() at send>"}`: the CIM clients subtract it from
 * their own hrtime at receipt (CLOCK_MONOTONIC is one clock for every process on the machine).
 */
import net from 'node:net'
import { percentile } from './stats.ts'
import { serve, sleep } from './ipc.ts'

export interface PacedArgs {
  host: string
  port: number
  connections: number
  /** Requests per second. */
  rate: number
  durationSec: number
  paths: string[]
}

export interface PacedResult {
  sent: number
  ok: number
  failed: number
  seconds: number
  /** HTTP response latency (send → full response), ms. */
  httpP50: number
  httpP99: number
  /** Most requests that were due while every connection was busy. */
  maxBacklog: number
  /**
   * Requests sent more than lateAfterMs after their scheduled time (start + (k+1)/rate): the sender
   * fell behind — its timer fired late or every connection was busy. Their latency is measured
   * from when they were sent, so it leaves out the wait (rateKept in stats.ts judges this).
   */
  late: number
  lateAfterMs: number
  /** The most any request was sent after its scheduled time, ms. */
  maxLagMs: number
  /** Requests due by the end that were never sent. */
  unsent: number
}

/**
 * The 1 ms timer fires every 1–1.2 ms, and on a shared 2-core machine this process is itself
 * descheduled for a few ms now and then (the bare push server's sender shows the same 2–5 ms
 * lags): such a send leaves late without the offered rate dropping, and its latency is measured
 * from when it left. A sender more than 10 ms behind its schedule is falling behind.
 */
const LATE_AFTER_MS = 10

const HEADER_END = Buffer.from('\r\n\r\n')

class HttpConn {
  busy = false
  private pending: Buffer | null = null
  private sentAt = 0n

  constructor(readonly socket: net.Socket, private readonly done: (c: HttpConn, status: number, ns: bigint) => void) {
    socket.on('data', (chunk) => this.onData(chunk))
  }

  send(path: string, host: string): void {
    this.busy = true
    this.sentAt = process.hrtime.bigint()
    const body = `{"message":"${this.sentAt}"}`
    this.socket.write(`POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
  }

  private onData(chunk: Buffer): void {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk
    const h = buf.indexOf(HEADER_END)
    if (h < 0) { this.pending = buf; return }
    const head = buf.toString('latin1', 0, h)
    const len = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0)
    if (buf.length < h + 4 + len) { this.pending = buf; return }
    this.pending = null
    this.busy = false
    this.done(this, Number(head.slice(9, 12)), process.hrtime.bigint() - this.sentAt)
  }
}

async function run(a: PacedArgs): Promise<PacedResult> {
  const idle: HttpConn[] = []
  const conns: HttpConn[] = []
  const httpMs: number[] = []
  let sent = 0
  let ok = 0
  let failed = 0
  let due = 0
  let maxBacklog = 0
  let late = 0
  let maxLagNs = 0
  let stopping = false
  let start = 0n
  const nsPerRequest = 1e9 / a.rate
  const next = (c: HttpConn) => {
    // Request k is due once floor(elapsed × rate) > k, at (k + 1) / rate.
    const lagNs = Number(process.hrtime.bigint() - start) - (sent + 1) * nsPerRequest
    if (lagNs > LATE_AFTER_MS * 1e6) late++
    if (lagNs > maxLagNs) maxLagNs = lagNs
    c.send(a.paths[sent++ % a.paths.length], a.host)
  }

  const onDone = (c: HttpConn, status: number, ns: bigint) => {
    if (status >= 200 && status < 300) ok++
    else failed++
    httpMs.push(Number(ns) / 1e6)
    if (!stopping && sent < due) next(c)
    else idle.push(c)
  }
  for (let i = 0; i < a.connections; i++) {
    const s = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: a.host, port: a.port, noDelay: true }, () => resolve(s))
      s.once('error', reject)
    })
    s.on('error', () => { failed++ })
    const c = new HttpConn(s, onDone)
    conns.push(c)
    idle.push(c)
  }

  start = process.hrtime.bigint()
  const end = start + BigInt(Math.round(a.durationSec * 1e9))
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const t = process.hrtime.bigint()
      if (t >= end) {
        clearInterval(timer)
        return resolve()
      }
      due = Math.floor((Number(t - start) / 1e9) * a.rate)
      while (sent < due && idle.length) next(idle.pop()!)
      if (due - sent > maxBacklog) maxBacklog = due - sent
    }, 1)
  })
  stopping = true
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const unsent = Math.max(0, due - sent)
  const drainEnd = Date.now() + 5_000
  while (conns.some((c) => c.busy) && Date.now() < drainEnd) await sleep(10)
  for (const c of conns) c.socket.destroy()
  return { sent, ok, failed, seconds, httpP50: percentile(httpMs, 50), httpP99: percentile(httpMs, 99), maxBacklog,
    late, lateAfterMs: LATE_AFTER_MS, maxLagMs: maxLagNs / 1e6, unsent }
}

serve({ run })
