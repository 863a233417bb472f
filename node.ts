/**
 * One CIM Relay node for embedding: a broker, a route, or both, over one adapter set, built
 * unstarted. `cim start|broker|route` (cli.ts) is this plus flags and signals:
 *
 *   const node = await createNode({ roles: { broker: true, route: true }, settings: { routePort: 0 },
 *     hooks: { uplink: (msg) => queue.send(msg) } })
 *   const { routePort } = await node.listen()
 *   ...
 *   await node.close()
 */
import type { AddressInfo } from 'node:net'
import { hostname } from 'node:os'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { brokerIdOf, resolveConfig, type Config } from './config.ts'
import { createLogger } from './logger.ts'
import { createAdapters, type Adapters } from './adapters/index.ts'
import { createBroker, type Broker, type BrokerPorts } from './broker/index.ts'
import { buildApp } from './route/app.ts'
import { loadHooks, type NodeHooks } from './hooks.ts'
import { createEvents } from './events/create.ts'
import type { Events } from './events/index.ts'

export type { NodeHooks } from './hooks.ts'

export interface NodeOptions {
  roles: { broker: boolean; route: boolean }
  /** Settings over the defaults (the environment is not read: cli.ts does that). */
  settings?: Partial<Config>
  /** Default: createAdapters(settings), closed by close(). Given adapters stay the caller's to close. */
  adapters?: Adapters
  /** Default: the module named by settings.hooks, if any. */
  hooks?: NodeHooks
  /** Default: createLogger(settings.logLevel). */
  logger?: Logger
}

export interface NodeAddresses {
  broker?: BrokerPorts
  /** The route's port (the bound one when settings.routePort is 0). */
  routePort?: number
}

export interface CimNode {
  readonly config: Config
  readonly adapters: Adapters
  readonly broker?: Broker
  /** The route's fastify app (app.inject() works before listen()). */
  readonly app?: FastifyInstance
  /** The node's events (README "Events to your backend"): the sinks the settings ask for; subscribe() for in-process listeners. */
  readonly events: Events
  /** Binds the broker (then registers it in discovery), then the route. */
  listen(): Promise<NodeAddresses>
  /**
   * The route stops accepting writes first (503 CIM_SHUTTING_DOWN, Retry-After) and answers those in
   * flight, then the broker deregisters and drains, then the route closes, then the adapters if the
   * node made them.
   */
  close(): Promise<void>
}

export async function createNode(opts: NodeOptions): Promise<CimNode> {
  const config = resolveConfig(opts.settings, {})
  const logger = opts.logger ?? createLogger(config.logLevel)
  const hooks = opts.hooks ?? (config.hooks ? await loadHooks(config.hooks) : {})
  // Connection trouble the adapters retry by themselves (Redis reconnects, an expired ZooKeeper
  // session being replaced) is logged, so an operator can tell why a node went quiet.
  const adapters = opts.adapters ?? await createAdapters(config, { onError: (err) => logger.warn({ err: err.message }, 'backend connection'), eventLogMax: config.webhookQueueMax, logger })
  const ownsAdapters = !opts.adapters
  let broker: Broker | undefined
  let app: FastifyInstance | undefined
  let events: Events | undefined
  try {
    // The name in every event's `node`: the broker id when it is known before listen().
    const nodeId = config.brokerId || (opts.roles.broker && config.cimPort ? brokerIdOf(config) : `${hostname()}:${process.pid}`)
    events = createEvents(config, adapters, logger.child({ part: 'events' }), nodeId)
    broker = opts.roles.broker
      ? createBroker({ config, adapters, logger: logger.child({ part: 'broker' }), auth: hooks.auth, uplink: hooks.uplink, events })
      : undefined
    app = opts.roles.route
      ? await buildApp({ config, adapters, logger: logger.child({ part: 'route' }), balancer: hooks.balancer, events })
      : undefined
  } catch (err) {
    await events?.close()
    if (ownsAdapters) await adapters.close()
    throw err
  }
  const nodeEvents = events

  let closing: Promise<void> | undefined
  return {
    config, adapters, broker, app, events: nodeEvents,
    async listen() {
      const out: NodeAddresses = {}
      if (broker) out.broker = await broker.listen()
      if (app) {
        await app.listen({ host: config.host, port: config.routePort, backlog: config.listenBacklog })
        out.routePort = (app.server.address() as AddressInfo).port
      }
      return out
    },
    close() {
      closing ??= (async () => {
        // Before the drain: with memory adapters whatever is stored now dies with the process, so
        // no push may be answered `queued` from here on (README, Limits). Pushes in flight get up
        // to a delivery timeout to be answered.
        await app?.stopAccepting(config.deliveryTimeoutMs + 1_000)
        await broker?.close()
        await app?.close()
        // Last: nothing emits any more. Hands what is pending to the event log (with a memory log,
        // delivers it), for at most a few seconds.
        await nodeEvents.close()
        if (ownsAdapters) await adapters.close()
      })()
      return closing
    },
  }
}
