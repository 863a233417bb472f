/**
 * Child process: a fleet of the project's SDK clients (client/index.ts CimClient), each logging in
 * through a route (POST /v1/users/{userId}/connect picks the broker) and reconnecting by itself,
 * with the SDK's own backoff and jitter, when its connection drops. For the reconnect storm
 * (bench/storm.ts): every reconnected client gets one REST push through a route, sent from here
 * as soon as it is back, and the fleet reports when each user had it.
 *
 * Calls: `connect` {routeUrls, users, concurrency} → {connected, ms, brokers}; `arm` {text} (the
 * push text from now on; counts reset); `report` → SdkFleetReport; `close`.
 */
import { Agent, request as httpRequest } from 'node:http'
import { CimClient } from '../../client/index.ts'
import type { FleetUser } from './cim-fleet.ts'
import { nowMs, serve, sleep } from './ipc.ts'

export interface SdkConnectArgs { routeUrls: string[]; users: FleetUser[]; concurrency: number }

export interface SdkFleetReport {
  clients: number
  /** Clients logged in now, by broker id. */
  brokers: Record<string, number>
  /** Clients logged in again since `arm`, and when the last of them did (nowMs). */
  reconnected: number
  lastReconnectAt: number
  /** When each client logged in again (nowMs), for the percentiles. */
  reconnectAts: number[]
  /** Clients that had the armed push, and when the last of them did (nowMs). */
  received: number
  lastReceivedAt: number
  /** Failed reconnect attempts the SDK reported (its 'error' event), and the first one's message. */
  attemptsFailed: number
  firstError?: string
  /** Pushes sent, and those re-sent because the first did not answer "delivered". */
  pushes: number
  pushRetries: number
}

interface Member { client: CimClient; user: FleetUser; route: string; got: boolean; back: boolean }

const members: Member[] = []
let armed: string | undefined
let report = fresh()
/** Pushes in flight from this process (keeps the burst from opening thousands of sockets). */
const MAX_IN_FLIGHT = 32
let inFlight = 0
const waiting: Array<() => void> = []

function fresh(): Omit<SdkFleetReport, 'clients' | 'brokers'> {
  return { reconnected: 0, lastReconnectAt: 0, reconnectAts: [], received: 0, lastReceivedAt: 0, attemptsFailed: 0, pushes: 0, pushRetries: 0 }
}

async function slot<T>(fn: () => Promise<T>): Promise<T> {
  while (inFlight >= MAX_IN_FLIGHT) await new Promise<void>((r) => waiting.push(r))
  inFlight++
  try {
    return await fn()
  } finally {
    inFlight--
    waiting.shift()?.()
  }
}

/** POST over node:http with keep-alive (fetch costs several times the CPU, and this fleet shares the machine). */
function postText(url: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, {
      method: 'POST', agent: keepAlive, signal: AbortSignal.timeout(10_000),
      headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', reject)
      res.on('end', () => resolve(Buffer.concat(chunks).toString()))
    })
    req.on('error', reject)
    req.end(body)
  })
}
const keepAlive = new Agent({ keepAlive: true, maxSockets: 64 })

/** One push to `m`'s user through its route; re-sent (after a pause) until the route says delivered or the client has it. */
async function pushTo(m: Member, text: string): Promise<void> {
  for (let attempt = 0; !m.got && armed === text && attempt < 20; attempt++) {
    if (attempt > 0) {
      report.pushRetries++
      await sleep(500)
      if (m.got || armed !== text) return
    }
    report.pushes++
    const status = await slot(async () => {
      const body = JSON.parse(await postText(`${m.route}/v1/push/users/${m.user.id}`, JSON.stringify({ message: text }))) as { results?: Array<{ status?: string }> }
      return body.results?.[0]?.status
    }).catch(() => undefined)
    if (status === 'delivered') return
  }
}

async function connect(a: SdkConnectArgs): Promise<{ connected: number; ms: number; brokers: Record<string, number> }> {
  const t0 = nowMs()
  let next = 0
  const worker = async () => {
    while (next < a.users.length) {
      const i = next++
      const user = a.users[i]
      const route = a.routeUrls[i % a.routeUrls.length]
      const client = new CimClient({ routeUrl: route, userId: user.id, userName: user.name })
      const m: Member = { client, user, route, got: false, back: false }
      client.on('error', (err) => {
        report.attemptsFailed++
        report.firstError ??= err.message
      })
      client.on('connected', (info) => {
        if (!info.reconnect || armed === undefined || m.back) return
        m.back = true
        report.reconnected++
        report.lastReconnectAt = nowMs()
        report.reconnectAts.push(report.lastReconnectAt)
        void pushTo(m, armed)
      })
      client.on('message', (msg) => {
        if (armed === undefined || m.got || msg.text !== armed) return
        m.got = true
        report.received++
        report.lastReceivedAt = nowMs()
      })
      members.push(m)
      await client.connect()
    }
  }
  await Promise.all(Array.from({ length: Math.min(a.concurrency, a.users.length) }, worker))
  return { connected: members.length, ms: nowMs() - t0, brokers: byBroker() }
}

function byBroker(): Record<string, number> {
  const out: Record<string, number> = {}
  for (const m of members) {
    if (m.client.state !== 'connected') continue
    const id = m.client.broker?.brokerId ?? '?'
    out[id] = (out[id] ?? 0) + 1
  }
  return out
}

serve({
  connect,
  arm({ text }: { text: string }) {
    armed = text
    report = fresh()
    for (const m of members) { m.got = false; m.back = false }
    return { clients: members.length }
  },
  report(): SdkFleetReport {
    return { clients: members.length, brokers: byBroker(), ...report }
  },
  close() {
    for (const m of members) m.client.close()
  },
})
