/**
 * Child process: a fleet of CIM TCP clients that log in with the real upstream login frame
 * (`{reqMsg: userName, requestId: userId}`, no cmd) and then count what the server sends them.
 *
 * Modes (switched by the parent while the stream is quiet, so no frame is half-read):
 * - `verify`: full decode (FrameDecoder + decodeResponse); each frame must be a MESSAGE addressed to
 *   this connection's user (responseId and receiveUserId), which checks per-recipient tails.
 * - `count`: counts varint-framed messages without decoding — the cheapest honest receiver, so the
 *   clients take as little CPU from the server as possible on a 2-core machine.
 * - `latency`: full decode; resMsg carries the sender's process.hrtime.bigint() (CLOCK_MONOTONIC,
 *   shared by every process on the machine), so receipt minus that is the end-to-end latency.
 */
import net from 'node:net'
import { BaseCommand, FrameDecoder, decodeResponse, encodeRequest } from '../../proto/codec.ts'
import { emit, nowMs, serve } from './ipc.ts'

export interface FleetUser { id: number; name: string }
export interface ConnectArgs {
  host: string
  port: number
  users: FleetUser[]
  /** Connects in flight at once (the server's accept backlog is 511 by default). */
  concurrency?: number
  /** Extra login properties (e.g. proto=2). */
  properties?: Record<string, string>
}
export type Mode = 'idle' | 'verify' | 'count' | 'latency'

export interface FleetReport {
  received: number
  lastAt: number
  closed: number
  verified: number
  bad: number
  badSample?: string
  latenciesUs?: number[]
}

class Conn {
  // count mode: the varint being read, then the body bytes still to skip
  len = 0
  shift = 0
  skip = -1
  decoder: FrameDecoder | null = null
  constructor(readonly socket: net.Socket, readonly user: FleetUser) {}
}

const conns: Conn[] = []
let mode: Mode = 'idle'
let received = 0
let lastAt = 0
let closed = 0
let verified = 0
let bad = 0
let badSample: string | undefined
let latencies: number[] = []
let lastReported = -1

function count(c: Conn, buf: Buffer): number {
  let n = 0
  let i = 0
  const end = buf.length
  while (i < end) {
    if (c.skip >= 0) {
      const take = Math.min(c.skip, end - i)
      c.skip -= take
      i += take
      if (c.skip === 0) { n++; c.skip = -1 }
      continue
    }
    const b = buf[i++]
    c.len += (b & 0x7f) * 2 ** c.shift
    if (b & 0x80) { c.shift += 7; continue }
    if (c.len === 0) n++
    else c.skip = c.len
    c.len = 0
    c.shift = 0
  }
  return n
}

function onData(c: Conn, chunk: Buffer): void {
  if (mode === 'count') {
    const n = count(c, chunk)
    if (n > 0) { received += n; lastAt = nowMs() }
    return
  }
  const at = process.hrtime.bigint()
  const dec = (c.decoder ??= new FrameDecoder(1 << 20))
  dec.push(chunk, (body) => {
    received++
    const f = decodeResponse(body)
    if (mode === 'latency') {
      if (f.cmd === BaseCommand.MESSAGE && /^\d+$/.test(f.resMsg)) latencies.push(Number(at - BigInt(f.resMsg)) / 1000)
    } else if (f.cmd === BaseCommand.MESSAGE && f.responseId === c.user.id && f.properties.receiveUserId === String(c.user.id)) {
      verified++
    } else {
      bad++
      badSample ??= JSON.stringify({ user: c.user.id, frame: f })
    }
  })
  lastAt = nowMs()
}

function connectOne(args: ConnectArgs, user: FleetUser): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: args.host, port: args.port })
    const c = new Conn(s, user)
    s.once('connect', () => {
      s.write(encodeRequest({ reqMsg: user.name, requestId: user.id, properties: args.properties }))
      conns.push(c)
      resolve()
    })
    s.on('data', (chunk) => onData(c, chunk))
    s.on('error', (err) => reject(err))
    s.on('close', () => { closed++ })
  })
}

async function connect(args: ConnectArgs): Promise<{ connected: number; ms: number }> {
  const t0 = nowMs()
  let next = 0
  const worker = async () => {
    while (next < args.users.length) await connectOne(args, args.users[next++])
  }
  await Promise.all(Array.from({ length: Math.min(args.concurrency ?? 200, args.users.length) }, worker))
  return { connected: conns.length, ms: nowMs() - t0 }
}

setInterval(() => {
  if (received !== lastReported) {
    lastReported = received
    emit('progress', { received, lastAt })
  }
}, 10).unref()

serve({
  connect,
  mode(m: Mode) {
    mode = m
    received = 0
    lastAt = 0
    verified = 0
    bad = 0
    badSample = undefined
    latencies = []
    lastReported = -1
    for (const c of conns) c.decoder = null
    return { connections: conns.length, closed }
  },
  report(opts?: { latencies?: boolean }): FleetReport {
    return { received, lastAt, closed, verified, bad, badSample, latenciesUs: opts?.latencies ? latencies : undefined }
  },
  cpu() {
    return process.cpuUsage()
  },
  close() {
    for (const c of conns) c.socket.destroy()
  },
})
