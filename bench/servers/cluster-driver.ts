/**
 * Child process: the broadcast sender of the cluster scenario — a BrokerClient over the cluster's
 * Redis bus and ZooKeeper discovery (what a route holds), in its own process, so one broadcast is
 * one bus message that every broker delivers to its own sessions (broker/api/client.ts).
 */
import { createAdapters, type Adapters } from '../../adapters/index.ts'
import { BrokerClient } from '../../broker/api/client.ts'
import { CreditDriver, type DriveOptions } from '../lib/credit.ts'
import { serve, sleep } from '../lib/ipc.ts'
import { SENDER, broadcastText } from '../lib/payload.ts'

export interface DriverStart {
  redisUrl: string
  zookeeper: string
  zkRoot: string
  deliveryTimeoutMs: number
  /** Resolves once discovery lists this many brokers. */
  brokers: number
}

let adapters: Adapters | undefined
let client: BrokerClient | undefined
let driver: CreditDriver | undefined
let failures = 0

serve({
  async start(a: DriverStart) {
    adapters = await createAdapters({ redisUrl: a.redisUrl, zookeeper: a.zookeeper, zkRoot: a.zkRoot, inboxMaxPerUser: 1_000 })
    client = new BrokerClient(adapters.bus, adapters.discovery, a.deliveryTimeoutMs, 'bench-cluster-driver')
    await client.start()
    const end = Date.now() + 30_000
    while (adapters.discovery.brokers().length < a.brokers && Date.now() < end) await sleep(25)
    return { brokers: adapters.discovery.brokers().map((b) => b.id), pid: process.pid }
  },

  async broadcastOnce({ text }: { text: string }) {
    return client!.broadcast({ text, properties: SENDER })
  },

  /** Broadcasts as fast as credit allows for durationMs; resolves when issuing stopped. */
  async drive(opts: DriveOptions) {
    failures = 0
    const b = client!
    driver = new CreditDriver((i) => {
      b.broadcast({ text: broadcastText(i), properties: SENDER }).catch(() => { failures++ })
    }, opts)
    return { ...(await driver.run()), failures }
  },

  credit(delivered: number) {
    driver?.credit(delivered)
  },

  cpu() {
    return process.cpuUsage()
  },

  async close() {
    await client?.close()
    await adapters?.close()
  },
})
