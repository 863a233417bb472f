/**
 * Child process: CIM Relay as `cim start` runs it (route + one broker over memory adapters, from
 * test/support/allinone.ts), plus a broadcast driver that goes through the real path: the route's
 * BrokerClient → memory bus → the broker's broadcast handler → every CIM session.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import { startAllInOne, type AllInOne } from '../../test/support/allinone.ts'
import { BrokerClient } from '../../broker/api/client.ts'
import { testConfig } from '../../test/support/config.ts'
import type { Config } from '../../config.ts'
import { createMemoryAdapters } from '../../adapters/index.ts'
import { createEvents } from '../../events/create.ts'
import { silentLogger } from '../../test/support/config.ts'
import { CreditDriver, type DriveOptions } from '../lib/credit.ts'
import { serve, sleep } from '../lib/ipc.ts'
import { SENDER, broadcastText, memoryAfterGc } from '../lib/payload.ts'

let app: AllInOne | undefined
let brokers: BrokerClient | undefined
let driver: CreditDriver | undefined
let failures = 0
let eld: IntervalHistogram | undefined

function need(): AllInOne {
  if (!app) throw new Error('not started')
  return app
}

serve({
  async start(overrides: Partial<Config> = {}) {
    // Idle bench clients never ping: keep the read timeout out of the way.
    const settings = { readTimeoutMs: 3_600_000, ...overrides }
    // With a webhookUrl, events go to it as `cim start` sends them (node.ts builds them the same way).
    const adapters = createMemoryAdapters(settings)
    const events = settings.webhookUrl ? createEvents(testConfig(settings), adapters, silentLogger, 'bench') : undefined
    app = await startAllInOne(settings, adapters, events)
    brokers = new BrokerClient(app.adapters.bus, app.adapters.discovery, app.config.deliveryTimeoutMs, 'bench-driver')
    await brokers.start()
    return { ...app.ports, routeUrl: app.routeUrl, brokerId: app.broker.id, pid: process.pid }
  },

  /** Registers accounts through adapters.accounts (what POST /v1/users does). */
  async register({ prefix, count }: { prefix: string; count: number }) {
    const out: Array<{ id: number; name: string }> = []
    for (let i = 0; i < count; i++) {
      const a = await need().adapters.accounts.register(`${prefix}${i}`)
      out.push({ id: a.userId, name: a.userName })
    }
    return out
  },

  async waitOnline({ count, timeoutMs = 60_000 }: { count: number; timeoutMs?: number }) {
    const end = Date.now() + timeoutMs
    let online = 0
    while ((online = await need().adapters.presence.users.count()) < count && Date.now() < end) await sleep(25)
    return { online, connections: need().broker.connections() }
  },

  async broadcastOnce({ text }: { text: string }) {
    return brokers!.broadcast({ text, properties: SENDER })
  },

  /** Broadcasts as fast as credit allows for durationMs; resolves when issuing stopped. */
  async drive(opts: DriveOptions) {
    failures = 0
    const b = brokers!
    driver = new CreditDriver((i) => {
      b.broadcast({ text: broadcastText(i), properties: SENDER }).catch(() => { failures++ })
    }, opts)
    const res = await driver.run()
    return { ...res, failures }
  },

  credit(delivered: number) {
    driver?.credit(delivered)
  },

  cpu() {
    return process.cpuUsage()
  },

  /** Event-loop delay over a phase (ms): tells stalls inside this process from machine contention. */
  loopDelayStart() {
    (eld ??= monitorEventLoopDelay({ resolution: 1 })).reset()
    eld.enable()
  },
  loopDelayStop() {
    eld!.disable()
    return { p50: eld!.percentile(50) / 1e6, p99: eld!.percentile(99) / 1e6, max: eld!.max / 1e6 }
  },

  mem() {
    return memoryAfterGc()
  },

  async close() {
    await brokers?.close()
    await app?.close()
  },
})
