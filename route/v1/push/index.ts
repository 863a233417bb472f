/** /v1/push/* and /v1/publish: the business push API. Every push answers per target. */
import { randomUUID } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { catalogue, errors } from '../../../errors.ts'
import type { PublishReply, PublishRequest } from '../../../broker/api/index.ts'
import type { RouteContext } from '../../context.ts'
import { checkMessageSize, pushToUsers, type UserPush, type UserResult } from '../../push-path.ts'
import { runOnce } from '../../../adapters/idempotency/once.ts'
import { requestFingerprint } from '../../../adapters/idempotency/fingerprint.ts'
import * as schema from './schema.ts'
import { SYSTEM_SENDER, checkTopic, checkUserPush } from './input.ts'
import { livePresence } from '../../../adapters/presence/live.ts'
import { pushTopicOf } from '../../../adapters/mqtt/topics.ts'


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

  // Keys were not scoped per caller before; for one window after this route started, a keyed
  // caller's first use of a key also honours a record an earlier version left (once.ts, legacyKey).
  const legacyUntil = Date.now() + ctx.config.idempotencyWindowSeconds * 1000

  /**
   * Runs a user push once per idempotencyKey, scoped to the caller (its API key's name; "open"
   * without keys, where the record key is the one earlier versions used), the endpoint and the
   * target: a repeat of the same request within the window gets the first answer and sends
   * nothing, across route nodes; the same key with another body answers 422
   * CIM_IDEMPOTENCY_MISMATCH. The msgId is always server-assigned (a key is the caller's name for a
   * request, not a message id clients dedupe by).
   */
  async function once(req: FastifyRequest, scope: string, body: PushBody, reply: FastifyReply, run: (msgId: string) => Promise<UserResult[]>): Promise<{ results: UserResult[] }> {
    checkUserPush(ctx, body)
    const name = body.idempotencyKey
    if (name === undefined) return { results: await run(randomUUID()) }
    // A duplicate waits this long for the first request's answer before taking it over: a push
    // takes at most two broker round trips (the second follows a user who moved) plus storage.
    const waitMs = 2 * ctx.config.deliveryTimeoutMs + 1_000
    const windowMs = ctx.config.idempotencyWindowSeconds * 1000
    const shared = `push/${scope}|${name}`
    const caller = req.caller
    const key = caller === undefined ? shared : `push/key:${encodeURIComponent(caller)}/${scope}|${name}`
    const legacyKey = caller !== undefined && Date.now() < legacyUntil ? shared : undefined
    const fingerprint = requestFingerprint(`push/${scope}`, body)
    const { answer, ran } = await runOnce(ctx.adapters.idempotency, key, { windowMs, waitMs, fingerprint, name, legacyKey },
      async (msgId) => ({ results: await run(msgId) }))
    if (!ran) void reply.header('idempotent-replayed', 'true')
    return answer
  }

  /** Publishes through a live broker; the topic is the balancing key so one topic keeps its order. */
  async function publishAnywhere(req: Omit<PublishRequest, 'type'>): Promise<string> {
    const broker = ctx.balancer.choose(req.topic, discovery.brokers())
    const reply = await app.brokers.publish(broker.id, req)
    if (!reply) throw noPublishAnswer(broker.id)
    if (!reply.ok) throw publishRefusal(broker.id, reply)
    return broker.id
  }

  /**
   * A broker that did not answer may still have published (its answer lost or late): the caller
   * is told so, and nothing is published again, which could deliver it twice (issue 9).
   */
  function noPublishAnswer(brokerId: string): Error {
    return new errors.BackendUnavailable(`broker ${brokerId} did not answer within ${ctx.config.deliveryTimeoutMs} ms; the message may or may not have been published`)
  }

  /** A broker's answer that it did not publish: retained caps refuse with 507, the rest 503. */
  function publishRefusal(brokerId: string, reply: PublishReply): Error {
    const reason = reply.error ?? 'no reason given'
    if (reply.code === catalogue.RetainedFull.code) return new errors.RetainedFull(reason.replace(/^Retained messages are full: /, ''))
    return new errors.BackendUnavailable(`broker ${brokerId} did not publish: ${reason}`)
  }

  app.post('/push/users/:userId', { schema: schema.pushUser, config: { scope: 'push' } }, async (req, reply) => {
    const { userId } = req.params
    // The account lookup happens inside pushToUsers and only for a user who is not online (an
    // online user passed it at login), so the hot path costs one presence read, not two reads.
    const answer = await once(req, `users/${userId}`, req.body, reply, (msgId) => pushToUsers(app.brokers, ctx, userPush([userId], req.body, true, msgId)))
    if (answer.results[0]?.code === catalogue.UserNotFound.code) throw new errors.UserNotFound(userId)
    return answer
  })

  app.post('/push/users', { schema: schema.pushUsers, config: { scope: 'push' } }, async (req, reply) => {
    const userIds = [...new Set(req.body.userIds)]
    return once(req, 'users', req.body, reply, (msgId) => pushToUsers(app.brokers, ctx, userPush(userIds, req.body, true, msgId)))
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
      if (reply?.ok) return { results: [ctx.metrics.countDeviceResult({ deviceId, status: 'delivered' as const })] }
      // No answer: maybe delivered. Publishing again elsewhere could deliver it twice, so say so.
      if (!reply) return { results: [ctx.metrics.countDeviceResult({ deviceId, status: 'unknown' as const, code: catalogue.BackendUnavailable.code })] }
      if (reply.code === catalogue.RetainedFull.code) throw publishRefusal(entry.brokerId, reply)
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
    checkMessageSize(ctx, message, SYSTEM_SENDER)
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
    checkTopic(topic)
    const brokerId = await publishAnywhere({ topic, payload: payloadBase64(payload, encoding), qos, retain })
    return { published: true, brokerId }
  })
}

export default push
