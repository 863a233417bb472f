/** /v1/push/* and /v1/publish: the business push API. Every push answers per target. */
import { randomUUID } from 'node:crypto'
import type { FastifyReply } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { catalogue, errors } from '../../../errors.ts'
import type { PublishRequest } from '../../../broker/api/index.ts'
import type { RouteContext } from '../../context.ts'
import { checkMessageSize, pushToUsers, type UserPush, type UserResult } from '../../push-path.ts'
import { runOnce } from '../../../adapters/idempotency/once.ts'
import * as schema from './schema.ts'
import { livePresence } from '../../../adapters/presence/live.ts'
import { pushTopicOf } from '../../../adapters/mqtt/topics.ts'

/** Sender metadata of pushes from the business backend (upstream clients print these). */
const SYSTEM_SENDER = { sendUserId: '0', sendUserName: 'system' }

interface PushBody {
  message: string
  properties?: Record<string, string>
  qos?: 0 | 1
  ttlSeconds?: number
  idempotencyKey?: string
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/

/** The payload as base64 (what crosses the bus), validating base64 input. */
export function payloadBase64(payload: string, encoding: 'utf8' | 'base64' = 'utf8'): string {
  if (encoding === 'utf8') return Buffer.from(payload, 'utf8').toString('base64')
  if (!BASE64.test(payload) || payload.replace(/=+$/, '').length % 4 === 1) {
    throw new errors.InvalidArgument('payload is not valid base64')
  }
  return Buffer.from(payload, 'base64').toString('base64')
}

const push: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  const { presence, discovery } = ctx.adapters
  const onlineDevices = livePresence(ctx.adapters).devices

  function userPush(userIds: number[], body: PushBody, checkAccounts: boolean, msgId: string): UserPush {
    return {
      userIds, checkAccounts, msgId,
      text: body.message,
      properties: { ...SYSTEM_SENDER, ...body.properties },
      qos: body.qos ?? 0,
      ttlSeconds: body.ttlSeconds,
    }
  }

  /**
   * Runs a user push once per idempotencyKey (scoped to the endpoint and target): a repeat within
   * the window gets the first answer and sends nothing, across route nodes. The msgId is always
   * server-assigned (a key is the caller's name for a request, not a message id clients dedupe by).
   */
  async function once(scope: string, body: PushBody, reply: FastifyReply, run: (msgId: string) => Promise<UserResult[]>): Promise<{ results: UserResult[] }> {
    checkMessageSize(ctx, body.message)
    if (body.idempotencyKey === undefined) return { results: await run(randomUUID()) }
    // A duplicate waits this long for the first request's answer before taking it over: a push
    // takes at most two broker round trips (the second follows a user who moved) plus storage.
    const waitMs = 2 * ctx.config.deliveryTimeoutMs + 1_000
    const windowMs = ctx.config.idempotencyWindowSeconds * 1000
    const { answer, ran } = await runOnce(ctx.adapters.idempotency, `push/${scope}|${body.idempotencyKey}`, { windowMs, waitMs },
      async (msgId) => ({ results: await run(msgId) }))
    if (!ran) void reply.header('idempotent-replayed', 'true')
    return answer
  }

  /** Publishes through a live broker; the topic is the balancing key so one topic keeps its order. */
  async function publishAnywhere(req: Omit<PublishRequest, 'type'>): Promise<string> {
    const broker = ctx.balancer.choose(req.topic, discovery.brokers())
    const reply = await app.brokers.publish(broker.id, req)
    if (!reply.ok) throw new errors.BackendUnavailable(`broker ${broker.id} did not publish: ${reply.error ?? 'no reason given'}`)
    return broker.id
  }

  app.post('/push/users/:userId', { schema: schema.pushUser, config: { scope: 'push' } }, async (req, reply) => {
    const { userId } = req.params
    // The account lookup happens inside pushToUsers and only for a user who is not online (an
    // online user passed it at login), so the hot path costs one presence read, not two reads.
    const answer = await once(`users/${userId}`, req.body, reply, (msgId) => pushToUsers(app.brokers, ctx, userPush([userId], req.body, true, msgId)))
    if (answer.results[0]?.code === catalogue.UserNotFound.code) throw new errors.UserNotFound(userId)
    return answer
  })

  app.post('/push/users', { schema: schema.pushUsers, config: { scope: 'push' } }, async (req, reply) => {
    const userIds = [...new Set(req.body.userIds)]
    return once('users', req.body, reply, (msgId) => pushToUsers(app.brokers, ctx, userPush(userIds, req.body, true, msgId)))
  })

  app.post('/push/devices/:deviceId', { schema: schema.pushDevice, config: { scope: 'push' } }, async (req) => {
    const { deviceId } = req.params
    const { qos = 0, retain = false } = req.body
    const msg = {
      topic: pushTopicOf(ctx.config.devicePushTopic, deviceId),
      payload: payloadBase64(req.body.payload, req.body.encoding), qos, retain,
    }
    const entry = await onlineDevices.get(deviceId)
    if (entry) {
      const reply = await app.brokers.publish(entry.brokerId, msg)
      if (reply.ok) return { results: [ctx.metrics.countDeviceResult({ deviceId, status: 'delivered' as const })] }
    }
    // Offline: with qos ≥ 1 a persistent session (clean session off) queues the message in the
    // shared aedes persistence, whichever node publishes it.
    if (qos >= 1) {
      await publishAnywhere(msg)
      return { results: [ctx.metrics.countDeviceResult({ deviceId, status: 'queued' as const })] }
    }
    return { results: [ctx.metrics.countDeviceResult({ deviceId, status: 'offline' as const })] }
  })

  app.post('/push/all', { schema: schema.pushAll, config: { scope: 'push' } }, async (req) => {
    const { message, users = true, devices = true } = req.body
    checkMessageSize(ctx, message)
    if (discovery.brokers().length === 0) throw new errors.NoBroker('no broker is registered')
    const [userCount, deviceCount] = await Promise.all([
      users
        ? app.brokers.broadcast({ text: message, properties: { ...SYSTEM_SENDER }, msgId: randomUUID() })
          .then((replies) => replies.reduce((n, r) => n + (r.users ?? 0), 0))
        : 0,
      devices
        ? (async () => {
            const online = await presence.devices.count()
            // ONE publish on the broadcast topic: every device is subscribed to it server-side.
            await publishAnywhere({ topic: ctx.config.broadcastTopic, payload: payloadBase64(message), qos: 0, retain: false })
            return online
          })()
        : 0,
    ])
    return { users: userCount, devices: deviceCount }
  })

  app.post('/publish', { schema: schema.publish, config: { scope: 'push' } }, async (req) => {
    const { topic, payload, encoding, qos = 0, retain = false } = req.body
    const brokerId = await publishAnywhere({ topic, payload: payloadBase64(payload, encoding), qos, retain })
    return { published: true, brokerId }
  })
}

export default push
