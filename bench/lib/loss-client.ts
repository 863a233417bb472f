/**
 * Child process of the loss check: the "apps" of a slice of the users. Each user is one CimClient
 * (proto=2: acks, drops duplicates, hands stored messages over in seq order), logged in through
 * one of the routes. The app records what it is handed — (msgId, seq, text) — and nothing else
 * checks or fixes it. While `churn` is on, a random user of this process disconnects now and then
 * and logs in again a moment later.
 *
 * Parent → child (fork IPC): {cmd:'start', users, routeUrls, churnPerSecond} → {ev:'started'};
 * {cmd:'calm'} (stop churning, make sure everyone is connected) → {ev:'calm'};
 * {cmd:'report'} → {ev:'report', ...}; {cmd:'stop'} → exit.
 */
import { CimClient, CimRouteError, type CimMessage } from '../../client/index.ts'
import { setTimeout as sleep } from 'node:timers/promises'

export interface LossUser { userId: number; userName: string }

export interface StartCommand {
  cmd: 'start'
  users: LossUser[]
  routeUrls: string[]
  /** Disconnects per second across this process's users while churning. */
  churnPerSecond: number
}

export interface UserRecord {
  userId: number
  /** What the app was handed, in order: [msgId, seq, text]. */
  got: Array<[string, number, string]>
}

export interface ClientReport {
  ev: 'report'
  users: UserRecord[]
  duplicatesDropped: number
  connected: number
  disconnects: number
}

const send = (m: object) => process.send?.(m)

interface Slot { user: LossUser; client: CimClient; got: UserRecord['got']; busy: boolean }
const slots: Slot[] = []
let churnTimer: NodeJS.Timeout | undefined
let stopping = false
let disconnects = 0

/** Logs in, retrying until it works (a route restarting, a broker just killed, a login still held). */
async function connect(slot: Slot): Promise<void> {
  for (let attempt = 0; !stopping; attempt++) {
    try {
      await slot.client.connect()
      return
    } catch (err) {
      // Our previous connection may still be registered (its broker has not noticed yet, or it
      // crashed): clear it as the client's own reconnect does, then try again.
      if (err instanceof CimRouteError && err.code === '5000') await slot.client.route.offLine(slot.user.userId).catch(() => {})
      await sleep(Math.min(1_000, 100 + attempt * 100))
    }
  }
}

function startChurn(perSecond: number): void {
  if (perSecond <= 0 || slots.length === 0) return
  const every = 1000 / perSecond
  churnTimer = setInterval(() => {
    const slot = slots[Math.floor(Math.random() * slots.length)]
    if (slot.busy || slot.client.state !== 'connected') return
    slot.busy = true
    disconnects++
    slot.client.close()
    void sleep(Math.random() * 300).then(() => connect(slot)).finally(() => { slot.busy = false })
  }, every)
}

process.on('message', (raw: unknown) => {
  const m = raw as { cmd: string }
  void (async () => {
    switch (m.cmd) {
      case 'start': {
        const s = m as StartCommand
        for (const [i, user] of s.users.entries()) {
          const got: UserRecord['got'] = []
          const client = new CimClient({
            routeUrl: s.routeUrls[i % s.routeUrls.length],
            userName: user.userName,
            userId: user.userId,
            reconnect: { minMs: 100, maxMs: 1_000 },
            onMessage: (msg: CimMessage) => got.push([msg.msgId ?? '', msg.seq ?? -1, msg.text]),
          })
          client.on('error', () => {}) // reconnect attempts fail while a route or broker is down
          slots.push({ user, client, got, busy: false })
        }
        await Promise.all(slots.map((slot) => connect(slot)))
        startChurn(s.churnPerSecond)
        send({ ev: 'started' })
        return
      }
      case 'calm': {
        clearInterval(churnTimer)
        while (slots.some((s) => s.busy)) await sleep(20)
        await Promise.all(slots.filter((s) => s.client.state !== 'connected' && s.client.state !== 'reconnecting').map((s) => connect(s)))
        send({ ev: 'calm' })
        return
      }
      case 'report': {
        const report: ClientReport = {
          ev: 'report',
          users: slots.map((s) => ({ userId: s.user.userId, got: s.got })),
          duplicatesDropped: slots.reduce((n, s) => n + s.client.duplicatesDropped, 0),
          connected: slots.filter((s) => s.client.state === 'connected').length,
          disconnects,
        }
        send(report)
        return
      }
      case 'stop':
        stopping = true
        clearInterval(churnTimer)
        for (const s of slots) s.client.close()
        process.exit(0)
    }
  })().catch((err: Error) => send({ ev: 'error', message: err.stack ?? err.message }))
})
process.on('disconnect', () => process.exit(0))
