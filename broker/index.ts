/**
 * A broker node: CIM TCP + MQTT (TCP, WebSocket) + HTTP health/metrics, delivering what the bus
 * brings, registered in discovery. Built unstarted; listen() binds, then registers; close()
 * deregisters first, then stops accepting, drains, and closes (goim's comet lifecycle).
 */
import { brokerIdOf } from '../config.ts'
import { defaultAuth } from './auth.ts'
import { CimServer } from './cim/server.ts'
import { Delivery } from './api/handler.ts'
import { BrokerHttp } from './http.ts'
import { createMqttNode } from './mqtt/index.ts'
import { BrokerRegistration } from './registration.ts'
import { BrokerClient } from './api/client.ts'
import { codedError } from '../errors.ts'
import { tlsPathsOf, watchTls, type TlsWatcher } from '../security/tls.ts'
import { newMqttStats, type Broker, type BrokerDeps, type BrokerPorts, type MqttNode, type UplinkRelay } from './types.ts'
import type { AuthHooks } from './auth.ts'
import { createTokenService } from '../security/tokens.ts'
import { MqttAcl } from '../security/mqtt-acl.ts'
import { AuthWebhook, withAuthWebhook } from '../security/auth-webhook.ts'
import { Events } from '../events/index.ts'
import { FeedRelay } from '../events/feed.ts'

export type { Broker, BrokerDeps, BrokerPorts } from './types.ts'

export function createBroker(deps: BrokerDeps): Broker {
  const { config, adapters } = deps
  const logger = deps.logger
  // An operator's hooks (a --hooks module) replace the defaults one by one: refusing some users
  // need not re-implement the device topic rules.
  // Reads the key files now: a bad key fails the start, not the first login.
  const tokens = deps.tokens ?? createTokenService(config, adapters.revocations)
  // The MQTT topic rules, operator rules (mqttAcl) checked now: a bad rule fails the start.
  const mqttAcl = new MqttAcl(config)
  const hooked: AuthHooks = {
    ...defaultAuth({
      accounts: adapters.accounts, devicePushTopic: config.devicePushTopic, broadcastTopic: config.broadcastTopic,
      tokens, compat: config.compat,
    }),
    ...deps.auth,
  }
  // The backend's say comes after the token/default checks (or the operator's hooks): both must
  // allow (docs/security.md, Auth webhook). A URL that is not http(s) fails the start.
  const auth = config.authWebhookUrl
    ? withAuthWebhook(hooked, new AuthWebhook({ settings: config, brokerId: () => id, logger: logger.child({ component: 'auth-webhook' }) }))
    : hooked
  // No sink given: emit() is one check and nothing is built (README "Events to your backend").
  const events = deps.events ?? new Events(config.brokerId || 'broker')
  const uplink: UplinkRelay = deps.uplink ?? ((m) => {
    logger.info({ deviceId: m.deviceId, topic: m.topic, qos: m.qos, bytes: m.payload.length }, 'device uplink')
  })

  let id = config.brokerId
  let mqtt: MqttNode | undefined
  const mqttStats = newMqttStats()
  let brokerClient: BrokerClient | undefined
  let started: Promise<BrokerPorts> | undefined
  let listening: Promise<BrokerPorts> | undefined
  let closing: Promise<void> | undefined
  let tls: TlsWatcher | undefined
  let feedRelay: FeedRelay | undefined

  const cim = new CimServer({ config, adapters, auth, events, logger: logger.child({ component: 'cim' }) })
  const delivery = new Delivery({ bus: adapters.bus, cim, mqtt: () => mqtt, logger })
  const connections = () => cim.sessions.size + (mqtt?.connectedCount() ?? 0)
  const registration = new BrokerRegistration({
    discovery: adapters.discovery,
    presence: adapters.presence,
    logger,
    presenceTtlMs: config.presenceTtlMs,
    userEntries: () => cim.localUserEntries(),
    deviceEntries: () => mqtt?.deviceEntries() ?? [],
    connections,
  })
  const http = new BrokerHttp({
    id: () => id,
    draining: () => cim.draining,
    cimConnections: () => cim.sessions.size,
    cimUsers: () => cim.users.size,
    mqttConnections: () => mqtt?.connectedCount() ?? 0,
    mqttSubscriptions: () => mqtt?.subscriptionCount() ?? 0,
    stats: cim.stats,
    mqttStats,
    retained: () => mqtt?.retainedTally() ?? Promise.resolve({ count: 0, bytes: 0 }),
    events,
    probes: adapters.probes,
  })

  async function start(): Promise<BrokerPorts> {
    // Logins wait until the presence a previous run of this id left is cleared (below).
    cim.holdLogins()
    // With a certificate, every client listener also listens with TLS (docs/security.md, TLS);
    // a pair that does not load stops the start here.
    const tlsPaths = tlsPathsOf(config)
    if (tlsPaths) tls = watchTls(tlsPaths, { logger: logger.child({ component: 'tls' }) })
    const cimPort = await cim.listen(config.cimPort, config.host)
    const cimTlsPort = tls && await cim.listenTls(config.cimTlsPort, config.host, tls)
    const httpPort = await http.listen(config.brokerHttpPort, config.host)
    id = brokerIdOf({ ...config, cimPort, brokerHttpPort: httpPort })
    cim.brokerId = id
    await registration.clearPreviousRun(id)
    cim.releaseLogins()
    mqtt = createMqttNode({ config, adapters, logger: logger.child({ brokerId: id }), brokerId: id, auth, uplink, stats: mqttStats, tls, acl: mqttAcl, events })
    const { mqttPort, wsPort, mqttsPort, wssPort } = await mqtt.listen()
    const tlsPorts = tls ? { cimTlsPort, mqttsPort, wssPort } : {}
    await delivery.start(id)
    // The admin console's live feed across processes, relayed only while a route watches (events/feed.ts).
    feedRelay = await FeedRelay.start(adapters.bus, events)
    // Kicks a replaced login held by another broker (repeatLogin = kick-old).
    const client = new BrokerClient(adapters.bus, adapters.discovery, config.deliveryTimeoutMs, `broker:${id}:client`)
    await client.start()
    brokerClient = client
    cim.kickRemote = (brokerId, req) => client.kick(brokerId, req)
    await registration.register({
      id, host: config.advertiseHost, cimPort, httpPort, mqttPort, wsPort, ...tlsPorts,
      connections: connections(), draining: false, startedAt: Date.now(),
    })
    logger.info({ brokerId: id, cimPort, httpPort, mqttPort, wsPort, ...tlsPorts }, 'broker listening')
    return { cimPort, httpPort, mqttPort, wsPort, ...tlsPorts }
  }

  async function stop(): Promise<void> {
    if (started) await started.catch(() => {})
    // Deregister first so routes stop sending logins here, then stop accepting, then drain.
    cim.draining = true
    cim.releaseLogins() // a failed start: held logins are refused as draining
    await registration.deregister()
    cim.stopAccepting()
    await mqtt?.stopAccepting()
    const draining = codedError('Draining', id)
    await cim.drain(draining.code, draining.message)
    await cim.close()
    await mqtt?.close()
    await delivery.stop()
    await feedRelay?.close()
    await brokerClient?.close()
    await http.close()
    tls?.close()
    logger.info({ brokerId: id }, 'broker closed')
  }

  return {
    get id() {
      return id
    },
    listen() {
      if (closing) return Promise.reject(new Error('broker is closed'))
      if (listening) return listening
      started = start()
      listening = started.catch(async (err) => {
        // Undo what did start (ports, subscriptions) before reporting the failure.
        await (closing ??= stop()).catch(() => {})
        throw err
      })
      return listening
    },
    close() {
      return (closing ??= stop())
    },
    connections,
  }
}
