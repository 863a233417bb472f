/**
 * UNIT-TEST DOUBLE — NOT A BROKER. It answers the broker's bus API (broker/api/index.ts) on the
 * memory bus, from a set of userIds it pretends to hold, and records every request, so route unit
 * tests can see what the route sends and how it reads the answers. The end-to-end proof with a
 * real broker (real CIM TCP and MQTT clients) lives in test/.
 */
import { BROADCAST_CHANNEL, brokerChannel, type BusMessage, type Unsubscribe } from '../../adapters/bus/index.ts'
import { BusRpc } from '../../adapters/bus/rpc.ts'
import type { Adapters } from '../../adapters/index.ts'
import type { BrokerInfo, Registration } from '../../adapters/discovery/index.ts'
import {
  callHandler, errorReply, isRequest, type BrokerHandlers, type BrokerRequest, type RequestKind,
} from '../../broker/api/index.ts'
import { buildApp } from '../../route/app.ts'
import { resolveConfig, type Config } from '../../config.ts'
import { createMemoryAdapters } from '../../adapters/index.ts'
import type { FastifyInstance } from 'fastify'

export class FakeBroker {
  /** Every request received, in order (bus fields corr/replyTo stripped). */
  readonly requests: BrokerRequest[] = []
  /** Kinds received that the API does not define (answered CIM_UNKNOWN_REQUEST, as the real broker does). */
  readonly unknownKinds: string[] = []
  readonly users = new Set<number>()
  /** Users answered `queued` (held behind a replay in progress, as the real broker does). */
  readonly queuedUsers = new Set<number>()
  /** When true, requests are recorded but never answered (a hung or dead broker). */
  silent = false
  private readonly rpc: BusRpc
  private offs: Unsubscribe[] = []
  private registration: Registration | undefined

  constructor(private readonly adapters: Adapters, readonly info: BrokerInfo) {
    this.rpc = new BusRpc(adapters.bus)
  }

  static async start(adapters: Adapters, info: Partial<BrokerInfo> & { id: string }): Promise<FakeBroker> {
    const b = new FakeBroker(adapters, {
      host: '10.0.0.1', cimPort: 11211, httpPort: 8081, mqttPort: 1883, wsPort: 9001,
      connections: 0, draining: false, startedAt: 1, ...info,
    })
    b.offs.push(await adapters.bus.subscribe(brokerChannel(b.info.id), (m) => void b.handle(m)))
    b.offs.push(await adapters.bus.subscribe(BROADCAST_CHANNEL, (m) => void b.handle(m)))
    b.registration = await adapters.discovery.register(b.info)
    return b
  }

  /** Pretends `userId` logged in here: a presence entry, as the real broker claims at login. */
  async connect(userId: number, userName: string): Promise<void> {
    this.users.add(userId)
    await this.adapters.presence.users.claim(
      { id: String(userId), name: userName, brokerId: this.info.id, connId: `${this.info.id}/${userId}`, since: 1000 },
      { replace: true, ttlMs: 60_000 },
    )
  }

  async connectDevice(deviceId: string): Promise<void> {
    await this.adapters.presence.devices.claim(
      { id: deviceId, brokerId: this.info.id, connId: `${this.info.id}/${deviceId}`, since: 2000 },
      { replace: true, ttlMs: 60_000 },
    )
  }

  /** Requests of one kind. */
  of<K extends RequestKind>(type: K): Array<Extract<BrokerRequest, { type: K }>> {
    return this.requests.filter((r): r is Extract<BrokerRequest, { type: K }> => r.type === type)
  }

  async setDraining(draining: boolean): Promise<void> {
    await this.registration?.update({ draining })
  }

  /** The answers, one per kind of the bus API: a kind added there does not compile until it is here. */
  private readonly handlers: BrokerHandlers = {
    push: (r) => ({
      type: 'push-result',
      delivered: r.userIds.filter((id) => this.users.has(id) && !this.queuedUsers.has(id)),
      offline: r.userIds.filter((id) => !this.users.has(id)),
      queued: r.userIds.filter((id) => this.users.has(id) && this.queuedUsers.has(id)),
    }),
    broadcast: () => ({ type: 'broadcast-result', brokerId: this.info.id, users: this.users.size }),
    kick: async (r) => {
      const kicked = this.users.delete(r.userId)
      if (kicked) await this.adapters.presence.users.release(String(r.userId), `${this.info.id}/${r.userId}`)
      return { type: 'kick-result', kicked }
    },
    publish: () => ({ type: 'publish-result', ok: true }),
    replay: async (r) => ({ type: 'replay-result', delivered: (await this.adapters.inbox.list(r.userId)).length }),
    disconnectDevice: async (r) => {
      const entry = await this.adapters.presence.devices.get(r.deviceId)
      const disconnected = entry?.brokerId === this.info.id
      if (disconnected) await this.adapters.presence.devices.release(r.deviceId, entry.connId)
      return { type: 'disconnectDevice-result', brokerId: this.info.id, disconnected }
    },
  }

  private async handle(m: BusMessage): Promise<void> {
    const { corr: _c, replyTo: _r, ...req } = m
    if (!isRequest(req)) {
      this.unknownKinds.push(req.type)
      if (!this.silent) await this.rpc.reply(m, errorReply(req.type, 'UnknownRequest', req.type))
      return
    }
    this.requests.push(req)
    if (this.silent) return
    return this.rpc.reply(m, await callHandler(this.handlers, req.type, req))
  }

  async stop(): Promise<void> {
    await this.registration?.deregister()
    for (const off of this.offs) await off()
    this.offs = []
  }
}

export interface RouteHarness {
  app: FastifyInstance
  adapters: Adapters
  config: Config
  close(): Promise<void>
}

/** A route app over fresh memory adapters; `close` closes the app, then the adapters. */
export async function routeHarness(overrides: Partial<Config> = {}): Promise<RouteHarness> {
  // The env is ignored so CIM_* variables on the test machine cannot change the results.
  const config = resolveConfig({ deliveryTimeoutMs: 300, advertiseHost: '127.0.0.1', compat: true, ...overrides }, {})
  const adapters = createMemoryAdapters(config)
  const app = await buildApp({ config, adapters })
  await app.ready()
  return { app, adapters, config, async close() { await app.close(); await adapters.close() } }
}
