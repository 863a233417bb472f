/**
 * The endpoints the upstream cim v2.1 client SDK calls (RouteController), answering its
 * BaseResponse wrapper with string codes. Behaviour follows upstream except for its known faults
 * (docs/architecture.md, Upstream-compatible endpoints): the login answer names the broker
 * actually chosen, group messages are one bus message per broker instead of one HTTP call per
 * recipient, and login state has a TTL.
 */
import { randomUUID } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { CompatCode, catalogue, compatCodeOf, errors } from '../../errors.ts'
import type { RouteContext } from '../context.ts'
import { checkBatchItems, checkMessageSize, deliver, groupByBroker, pushToUsers } from '../push-path.ts'
import { disconnectUser } from '../kick.ts'
import { chooseLoginBroker } from '../login.ts'
import { classifyError, logError } from '../plugins/errors.ts'
import * as schema from './schema.ts'
import { livePresence } from '../../adapters/presence/live.ts'

/**
 * No API key: the upstream client cannot send one. These endpoints exist only with --compat, which
 * chooses upstream's trust model (docs/security.md, "Compat").
 */
const PUBLIC = { scope: 'public' } as const

/** Upstream StatusEnum.SUCCESS message. */
const SUCCESS_MESSAGE = 'Success'

function reqNoOf(req: FastifyRequest): string | null {
  const reqNo = (req.body as { reqNo?: unknown } | undefined)?.reqNo
  return typeof reqNo === 'string' ? reqNo : null
}

function ok<T>(req: FastifyRequest, dataBody: T) {
  return { code: CompatCode.SUCCESS as string, message: SUCCESS_MESSAGE, reqNo: reqNoOf(req), dataBody }
}

/**
 * Bounds a /p2pRoute batch before any work: at most --max-batch-items texts (150,000 cost 6.9 s
 * before), and together no more than one CIM frame (upstream sends a batch as one frame).
 */
function checkBatchMsg(ctx: RouteContext, texts: string[]): void {
  checkBatchItems(ctx, 'batchMsg', texts.length)
  let bytes = 0
  for (const text of texts) bytes += Buffer.byteLength(text)
  if (texts.length > 1 && bytes > ctx.config.maxFrameBytes) {
    throw new errors.PayloadTooLarge(`batchMsg totals ${bytes} bytes; a batch must fit one CIM frame of ${ctx.config.maxFrameBytes} bytes`)
  }
}

const compat: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  const { accounts } = ctx.adapters
  // Users of a broker that discovery dropped (crashed) are offline, though their entries live until their TTL.
  const online = livePresence(ctx.adapters).users

  // Errors answer HTTP 200 with the upstream code: the upstream client turns any other status
  // into an IOException and reads only `code` (RouteManager, HttpClient). Scoped to this plugin.
  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const api = classifyError(err, req)
    logError(req, err, api)
    return reply.code(200).send({ code: compatCodeOf(api.code), message: api.message, reqNo: reqNoOf(req), dataBody: null })
  })

  async function sender(userId: number) {
    const account = await accounts.get(userId)
    if (!account) throw new errors.UserNotFound(userId)
    return { sendUserId: String(userId), sendUserName: account.userName }
  }

  app.post('/registerAccount', { schema: schema.registerAccount, config: PUBLIC }, async (req) => {
    const { userId, userName } = await accounts.register(req.body.userName)
    return ok(req, { userId, userName })
  })

  app.post('/login', { schema: schema.login, config: PUBLIC }, async (req) => {
    const broker = await chooseLoginBroker(ctx, req.body.userId, req.body.userName)
    return ok(req, { ip: broker.host, cimServerPort: broker.cimPort, httpPort: broker.httpPort })
  })

  app.post('/p2pRoute', { schema: schema.p2pRoute, config: PUBLIC }, async (req) => {
    const { userId, receiveUserId, msg, batchMsg } = req.body
    const texts = batchMsg?.length ? batchMsg : msg != null ? [msg] : []
    if (texts.length === 0) throw new errors.InvalidArgument('msg or batchMsg is required')
    checkBatchMsg(ctx, texts)
    const properties = await sender(userId)
    for (const text of texts) checkMessageSize(ctx, text, properties)
    if (!(await accounts.get(receiveUserId))) throw new errors.UserNotFound(receiveUserId)
    // Upstream sends a batch as one frame of batchResMsg; the client hands each text to its
    // listener either way, so each text is pushed (or stored) as its own message, in order.
    const statuses = []
    for (const text of texts) {
      const msgId = randomUUID()
      const [result] = await pushToUsers(app.brokers, ctx, {
        userIds: [receiveUserId], text, properties, qos: 1, msgId, checkAccounts: false,
      })
      statuses.push(result)
      // Sent (delivered, or stored for the offline receiver); a refused one was not.
      if (ctx.events.active && result.status !== 'rejected') ctx.events.emit({ type: 'user.message', from: userId, to: receiveUserId, text, msgId })
    }
    const rejected = statuses.find((r) => r.status === 'rejected')
    if (rejected?.code === catalogue.InboxFull.code) {
      throw new errors.InboxFull(receiveUserId, `${ctx.config.inboxMaxPerUser} messages or ${ctx.config.inboxMaxBytesPerUser} bytes`)
    }
    if (rejected?.code === catalogue.StorageFull.code) throw new errors.StorageFull('the inboxes are at --inbox-max-total-bytes; nothing was evicted')
    // Upstream answers 7000 OFF_LINE after storing the message; the SDK reports it to the sender.
    if (statuses.some((r) => r.status === 'queued')) throw new errors.UserOffline(receiveUserId)
    return ok(req, null)
  })

  app.post('/groupRoute', { schema: schema.groupRoute, config: PUBLIC }, async (req) => {
    const { userId, msg } = req.body
    const properties = await sender(userId)
    checkMessageSize(ctx, msg, properties)
    const others = (await online.all()).filter((e) => e.id !== String(userId))
    const msgId = randomUUID()
    await deliver(app.brokers, groupByBroker(others), { text: msg, properties, msgId })
    if (ctx.events.active) ctx.events.emit({ type: 'user.message', from: userId, text: msg, msgId })
    return ok(req, null)
  })

  app.post('/offLine', { schema: schema.offLine, config: PUBLIC }, async (req) => {
    // Upstream answers 9000 whether or not the user was online.
    await disconnectUser(app.brokers, ctx, req.body.userId, 'logged out through /offLine')
    return ok(req, null)
  })

  app.get('/onlineUser', { schema: schema.onlineUser, config: PUBLIC }, async (req) => {
    const entries = await online.all()
    const users = await Promise.all(entries.map(async (e) => ({
      userId: Number(e.id),
      userName: e.name ?? (await accounts.get(Number(e.id)))?.userName ?? '',
    })))
    return ok(req, users)
  })

  app.post('/fetchOfflineMsgs', { schema: schema.fetchOfflineMsgs, config: PUBLIC }, async (req) => {
    const { receiveUserId } = req.body
    // Upstream replays only to an online user and answers 9000 either way; the broker also
    // replays at every login, so nothing is lost for an offline one.
    const entry = await online.get(String(receiveUserId))
    if (entry) await app.brokers.replay(entry.brokerId, receiveUserId)
    return ok(req, null)
  })
}

export default compat
