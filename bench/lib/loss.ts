/**
 * The loss check: a real cluster (2 brokers, 2 routes, Redis, ZooKeeper — every node its own
 * process, test/support/cluster.ts), users' apps in client processes (loss-client.ts), and a
 * backend that pushes `qos: 1` messages through both routes while clients disconnect at random, one
 * broker is SIGKILLed and restarted and one route is SIGKILLed and restarted. At the end every app
 * must have seen every message sent to its user exactly once, in order.
 *
 * The backend is an honest at-least-once sender: one message at a time per user (so "in order" has
 * a meaning), each with its own idempotencyKey, retried — on the other route — until a route
 * answers. A message counts as sent when a route answered `delivered` or `queued`.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { Cluster } from '../../test/support/cluster.ts'
import { startRedis, startZooKeeper } from '../../test/support/servers.ts'
import type { ClientReport, LossUser, UserRecord } from './loss-client.ts'
import { setTimeout as sleep } from 'node:timers/promises'

export interface LossOptions {
  /** Users (each one CimClient). Default 200. */
  users?: number
  /** qos 1 pushes in total. Default 20,000. */
  pushes?: number
  /** Processes the clients are spread over. Default 4. */
  clientProcesses?: number
  /** Users pushed to concurrently (each user's messages go one at a time). Default 64. */
  lanes?: number
  /** Pace of the pushes (per second); 0 = as fast as the routes answer. Default 0. */
  ratePerSecond?: number
  /** Client disconnects per second while pushing, across all users. Default 10. */
  churnPerSecond?: number
  /** The broker's ack timeout during the run. Default 1,000 ms. */
  ackTimeoutMs?: number
  /** Give up waiting for deliveries after this long without progress. Default 30 s. */
  settleMs?: number
  /** Crash and restart a broker and a route while pushing. Default true. */
  chaos?: boolean
  /** Progress lines. Default: none. */
  log?: (line: string) => void
}

export interface LossReport {
  users: number
  /** Pushes a route answered `delivered` or `queued`. */
  sent: number
  /** Distinct sent messages the apps were handed. */
  delivered: number
  /** Redelivered copies the clients dropped (by seq or msgId) before the app saw them. */
  duplicatesSuppressed: number
  /** Messages an app was handed more than once (must be 0). */
  duplicatesSeen: number
  /** Sent messages no app was handed (must be 0). */
  lost: number
  /** Messages an app was handed after a later one of the same user (must be 0). */
  outOfOrder: number
  /** Pushes answered `rejected` (inbox full; none expected). */
  rejected: number
  /** Push attempts that failed (route down, 5xx) and were retried. */
  retries: number
  /** Answers per status. */
  statuses: Record<string, number>
  disconnects: number
  /** What was done to the cluster, with the time since the first push. */
  chaos: string[]
  pushSeconds: number
  /** Messages still stored (not yet acked) at the end, from GET /v1/stats. */
  inboxStored: number
  /** Push answer times (ms), retries included: median, 99th percentile, max. */
  latencyMs: { p50: number; p99: number; max: number }
}

const CLIENT = fileURLToPath(new URL('./loss-client.ts', import.meta.url))

function startClients(n: number): ChildProcess[] {
  return Array.from({ length: n }, () => fork(CLIENT, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }))
}

/** Sends a command and resolves with the child's next message of type `ev`. */
function ask<T>(child: ChildProcess, msg: object, ev: string, timeoutMs = 120_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.off('message', on); reject(new Error(`client process: no ${ev} within ${timeoutMs} ms`)) }, timeoutMs)
    const on = (m: { ev?: string; message?: string }) => {
      if (m.ev === 'error') { clearTimeout(timer); child.off('message', on); reject(new Error(m.message)) }
      if (m.ev !== ev) return
      clearTimeout(timer)
      child.off('message', on)
      resolve(m as T)
    }
    child.on('message', on)
    child.send(msg)
  })
}

export async function runLossCheck(options: LossOptions = {}): Promise<LossReport> {
  const o = {
    users: 200, pushes: 20_000, clientProcesses: 4, lanes: 64, ratePerSecond: 0, churnPerSecond: 10,
    ackTimeoutMs: 1_000, settleMs: 30_000, chaos: true, log: () => {}, ...options,
  }
  const log = o.log
  // Starting the servers is not what is checked: on a busy machine a free port can be taken between
  // probe and bind, so one failed start is retried.
  const twice = async <T>(what: string, start: () => Promise<T>): Promise<T> => {
    try { return await start() } catch (err) { log(`${what} failed to start (${(err as Error).message.split('\n')[0]}); retrying`); return start() }
  }
  const [redis, zookeeper] = await Promise.all([twice('redis', startRedis), twice('zookeeper', startZooKeeper)])
  let cluster: Cluster | undefined
  const children: ChildProcess[] = []
  try {
    log('starting 2 brokers and 2 routes on Redis + ZooKeeper ...')
    cluster = await Cluster.start({
      redisUrl: redis.url, zookeeper: zookeeper.connectString, brokers: 2, routes: 2,
      settings: { ackTimeoutMs: o.ackTimeoutMs },
    })
    const { brokers, routes } = cluster
    const run = randomUUID().slice(0, 8)

    const users: LossUser[] = []
    for (let i = 0; i < o.users; i++) {
      const res = await fetch(`${routes[0].url}/v1/users`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userName: `loss-${run}-${i}` }),
      })
      const body = await res.json() as { userId: number; userName: string }
      users.push({ userId: body.userId, userName: body.userName })
    }
    log(`${users.length} users registered; logging them in from ${o.clientProcesses} client processes ...`)
    children.push(...startClients(o.clientProcesses))
    const slices = children.map((_, c) => users.filter((_, i) => i % children.length === c))
    const perProcessChurn = o.churnPerSecond / children.length
    await Promise.all(children.map((child, c) => ask(child, {
      cmd: 'start', users: slices[c], routeUrls: routes.map((r) => r.url), churnPerSecond: perProcessChurn,
    }, 'started')))

    // Each user's messages in order; user i gets its share of the total.
    const quota = users.map((_, i) => Math.floor(o.pushes / users.length) + (i < o.pushes % users.length ? 1 : 0))
    const sentOf = new Map<number, number[]>(users.map((u) => [u.userId, []]))
    const statuses: Record<string, number> = {}
    let sent = 0
    let attempted = 0
    let rejected = 0
    let retries = 0
    const t0 = Date.now()
    const chaos: string[] = []
    const stamp = (what: string) => { const line = `${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`; chaos.push(line); log(line) }

    const latencies: number[] = []
    async function pushOne(u: LossUser, n: number): Promise<void> {
      const started = Date.now()
      const body = JSON.stringify({ message: `${u.userId}:${n}`, qos: 1, idempotencyKey: `${run}-${u.userId}-${n}` })
      const deadline = Date.now() + 120_000
      for (let attempt = 0; ; attempt++) {
        // Alternate routes per message, and switch on every retry.
        const route = routes[(n + attempt) % routes.length]
        try {
          const res = await fetch(`${route.url}/v1/push/users/${u.userId}`, {
            method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(15_000),
          })
          if (res.status === 200) {
            const status = ((await res.json()) as { results: Array<{ status: string }> }).results[0].status
            statuses[status] = (statuses[status] ?? 0) + 1
            if (status === 'rejected') rejected++
            else { sent++; sentOf.get(u.userId)!.push(n) }
            latencies.push(Date.now() - started)
            return
          }
          await res.arrayBuffer()
        } catch { /* the route is down or restarting: try the other one */ }
        retries++
        if (Date.now() > deadline) throw new Error(`push ${u.userId}:${n} failed for 120 s`)
        await sleep(100)
      }
    }

    // Lanes own disjoint users and go round-robin over them, one message in flight per user.
    const lanes = Math.min(o.lanes, users.length)
    const pace = o.ratePerSecond > 0 ? 1000 / o.ratePerSecond : 0
    const lane = async (w: number) => {
      const mine = users.map((u, i) => ({ u, i })).filter(({ i }) => i % lanes === w)
      for (let n = 0; mine.some(({ i }) => n < quota[i]); n++) {
        for (const { u, i } of mine) {
          if (n >= quota[i]) continue
          const k = attempted++
          if (pace) { const due = t0 + k * pace - Date.now(); if (due > 0) await sleep(due) }
          await pushOne(u, n)
        }
      }
    }

    // Chaos, keyed to the share of pushes answered, one step at a time.
    let pushing = true
    const steps: Array<[number, string, () => Promise<unknown>]> = !o.chaos ? [] : [
      [0.25, `SIGKILL ${brokers[0].name}`, () => brokers[0].kill()],
      [0.4, `restart ${brokers[0].name}`, () => brokers[0].restart()],
      [0.6, `SIGKILL + restart ${routes[0].name}`, () => routes[0].restart()],
    ]
    const chaosDone = (async () => {
      for (const [at, what, act] of steps) {
        while (sent + rejected < at * o.pushes && pushing) await sleep(20)
        stamp(`${what} (${sent} sent)`)
        await act()
        stamp(`${what}: done`)
      }
    })()
    const progress = setInterval(() => log(`${sent} / ${o.pushes} sent, ${retries} retries`), 2_000)
    try {
      await Promise.all(Array.from({ length: lanes }, (_, w) => lane(w)))
    } finally {
      pushing = false
      clearInterval(progress)
    }
    const pushSeconds = (Date.now() - t0) / 1000
    stamp(`${sent} pushes answered (${rejected} rejected, ${retries} retried attempts)`)
    await chaosDone

    // Everyone back online; wait until every sent message reached an app (or nothing moves).
    await Promise.all(children.map((c) => ask(c, { cmd: 'calm' }, 'calm')))
    const collect = () => Promise.all(children.map((c) => ask<ClientReport>(c, { cmd: 'report' }, 'report')))
    let reports = await collect()
    let last = -1
    let lastChange = Date.now()
    for (;;) {
      const got = reports.reduce((n, r) => n + r.users.reduce((m, u) => m + u.got.length, 0), 0)
      if (got !== last) { last = got; lastChange = Date.now() }
      if (got >= sent || Date.now() - lastChange > o.settleMs) break
      await sleep(500)
      reports = await collect()
    }
    // Let redeliveries in flight land too: a duplicate that slips past the client would show now.
    await sleep(o.ackTimeoutMs + 1_000)
    reports = await collect()
    stamp(`apps report ${reports.reduce((n, r) => n + r.connected, 0)} / ${users.length} users connected`)

    const stats = await (await fetch(`${routes[1].url}/v1/stats`)).json() as { inbox: { stored: number } }
    return {
      users: users.length, sent, rejected, retries, statuses, pushSeconds, chaos,
      duplicatesSuppressed: reports.reduce((n, r) => n + r.duplicatesDropped, 0),
      disconnects: reports.reduce((n, r) => n + r.disconnects, 0),
      inboxStored: stats.inbox.stored,
      latencyMs: percentiles(latencies),
      ...verify(reports.flatMap((r) => r.users), sentOf),
    }
  } finally {
    for (const c of children) { if (c.connected) c.send({ cmd: 'stop' }); setTimeout(() => c.kill('SIGKILL'), 2_000).unref() }
    await cluster?.close()
    await Promise.all([redis.stop(), zookeeper.stop()])
  }
}

function percentiles(values: number[]): LossReport['latencyMs'] {
  const v = [...values].sort((a, b) => a - b)
  const at = (q: number) => v[Math.min(v.length - 1, Math.floor(q * v.length))] ?? 0
  return { p50: at(0.5), p99: at(0.99), max: v.at(-1) ?? 0 }
}

/** Compares what each app was handed with what was sent to its user. */
export function verify(records: UserRecord[], sentOf: Map<number, number[]>): Pick<LossReport, 'delivered' | 'lost' | 'duplicatesSeen' | 'outOfOrder'> {
  let delivered = 0
  let lost = 0
  let duplicatesSeen = 0
  let outOfOrder = 0
  for (const r of records) {
    const sentNs = new Set(sentOf.get(r.userId) ?? [])
    const seen = new Set<number>()
    let highest = -1
    let lastSeq = 0
    for (const [, seq, text] of r.got) {
      const [to, nText] = text.split(':')
      const n = Number(nText)
      // Another user's message, or a text nobody sent, counts as out of order (it must not happen either).
      if (Number(to) !== r.userId) { outOfOrder++; continue }
      if (seen.has(n)) { duplicatesSeen++; continue }
      seen.add(n)
      if (n < highest || seq <= lastSeq) outOfOrder++
      highest = Math.max(highest, n)
      lastSeq = seq
      if (sentNs.has(n)) delivered++
    }
    for (const n of sentNs) if (!seen.has(n)) lost++
  }
  return { delivered, lost, duplicatesSeen, outOfOrder }
}

/** The lines the loss check prints. */
export function formatLossReport(r: LossReport): string[] {
  return [
    `users                  ${r.users}`,
    `sent                   ${r.sent}  (${Object.entries(r.statuses).map(([k, v]) => `${k} ${v}`).join(', ')}; ${r.rejected} rejected; ${r.retries} retried attempts; ${(r.sent / r.pushSeconds).toFixed(0)} pushes/s)`,
    `push answer time       p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, max ${r.latencyMs.max} ms`,
    `delivered              ${r.delivered}`,
    `duplicates-suppressed  ${r.duplicatesSuppressed}  (redelivered copies dropped by the client; the apps saw ${r.duplicatesSeen})`,
    `lost                   ${r.lost}`,
    `out-of-order           ${r.outOfOrder}`,
    `client disconnects     ${r.disconnects}`,
    `inbox still stored     ${r.inboxStored}`,
    ...r.chaos.map((c) => `chaos  ${c}`),
  ]
}
