import { Type } from 'typebox'
import { Encoding, oneOf, stringMap, TopicName, UserId, errorResponse, errorResponses } from '../../schemas.ts'
import { RESERVED_PROPERTIES } from '../../../proto/push-frame.ts'

const RESERVED = RESERVED_PROPERTIES.join(', ')

const Message = Type.String({ description: 'The text pushed to the app (CIM `resMsg`)', examples: ['hello'] })

const pushOptions = {
  properties: Type.Optional(stringMap(`Extra CIM properties. Reserved, refused with 400 CIM_RESERVED_PROPERTY: ${RESERVED} `
    + '(the route sets sendUserId "0" and sendUserName "system"; the broker sets the others on each frame). The text, '
    + 'the properties and what the broker adds must fit one CIM frame (--max-frame-bytes, default 65,536 bytes '
    + 'encoded), else 413 CIM_PAYLOAD_TOO_LARGE.')),
  qos: Type.Optional(oneOf([0, 1], {
    default: 0,
    description: '0: fire and forget, online users only (`offline` otherwise). 1: at least once — stored in the '
      + 'inbox before delivery with a server-assigned msgId and a per-user seq, then `delivered` (written to a '
      + 'live connection) or `queued` (replayed at the next login); proto=2 clients ack it, and unacked '
      + 'messages are redelivered until acked or expired.',
  })),
  ttlSeconds: Type.Optional(Type.Integer({
    minimum: 1,
    description: "Lifetime of a stored (qos 1) message; default and maximum the server's inbox TTL (--inbox-ttl-seconds, "
      + 'default 7 days): a longer one is refused with 400 CIM_INVALID_ARGUMENT',
  })),
  idempotencyKey: Type.Optional(Type.String({
    minLength: 1, maxLength: 128,
    description: 'A repeat of this push with the same key (same endpoint and target) within the idempotency window '
      + '(default 1 day) returns the first answer and sends nothing again, whichever route node answers it. '
      + 'A repeat that arrives while the first is still running waits for its answer. The answer of a repeat '
      + 'carries the header `idempotent-replayed: true`.',
  })),
}

const UserResult = Type.Object({
  userId: UserId,
  status: oneOf(['delivered', 'queued', 'offline', 'rejected'], {
    description: 'delivered: written to a live connection. queued: stored (qos 1), delivered at the next login. '
      + 'offline: not connected (qos 0). rejected: see `code` (CIM_INBOX_FULL: the inbox is at its cap, nothing was '
      + 'evicted; CIM_USER_NOT_FOUND: no such user, in a list push).',
  }),
  code: Type.Optional(Type.String({ description: 'Why the target was rejected (CIM_USER_NOT_FOUND, CIM_INBOX_FULL)' })),
  msgId: Type.Optional(Type.String({ description: 'qos 1, stored: the message id; the push.acked event names it when the app acknowledges it' })),
  seq: Type.Optional(Type.Integer({ minimum: 1, description: 'qos 1, stored: this user\'s seq of the message (also in push.acked)' })),
}, { additionalProperties: false })

/** The 400 answer of a user push, which also refuses reserved property names. */
const userPush400 = errorResponse('Invalid input: CIM_INVALID_ARGUMENT (also a ttlSeconds above the inbox TTL, a lone UTF-16 '
  + `surrogate in a string), CIM_INVALID_JSON, CIM_USER_ID_OUT_OF_RANGE, CIM_RESERVED_PROPERTY (properties set ${RESERVED})`)

const UserResults = Type.Object({ results: Type.Array(UserResult) }, { additionalProperties: false, description: 'One result per user' })

export const pushUser = {
  tags: ['push'],
  summary: 'Push a text to one user',
  params: Type.Object({ userId: UserId }, { additionalProperties: false }),
  body: Type.Object({ message: Message, ...pushOptions }, { additionalProperties: false }),
  response: { 200: UserResults, ...errorResponses(400, 404, 413, 503), 400: userPush400 },
}

export const pushUsers = {
  tags: ['push'],
  summary: 'Push a text to a list of users',
  description: 'Users are grouped by the broker that holds them: each broker receives one bus message. '
    + 'Duplicate userIds are answered once; unknown users are `rejected` with CIM_USER_NOT_FOUND.',
  body: Type.Object({
    userIds: Type.Array(UserId, { minItems: 1, maxItems: 10_000 }),
    message: Message,
    ...pushOptions,
  }, { additionalProperties: false }),
  response: { 200: UserResults, ...errorResponses(400, 413, 503), 400: userPush400 },
}

const Payload = Type.String({ description: 'The MQTT payload, as `encoding` says', examples: ['{"on":true}'] })
const mqttOptions = {
  encoding: Type.Optional(Encoding),
  qos: Type.Optional(oneOf([0, 1, 2], { default: 0, description: 'MQTT QoS' })),
  retain: Type.Optional(Type.Boolean({ default: false, description: 'MQTT retain flag' })),
}

export const pushDevice = {
  tags: ['push'],
  summary: 'Push a payload to one MQTT device',
  description: "Published on the device's push topic (devices/{deviceId}/push by default), to which the broker "
    + 'subscribes every device server-side. An offline device gets `offline`, except with qos ≥ 1: the message '
    + 'is then published anyway so a persistent session keeps it, and the answer is `queued`. When the device\'s '
    + 'broker does not answer within the delivery timeout the answer is `unknown` (code CIM_BACKEND_UNAVAILABLE): '
    + 'the message may or may not have been delivered, and it is not published again (that could deliver it twice). '
    + 'A retained payload over the retained caps is refused with 507 CIM_RETAINED_FULL.',
  params: Type.Object({
    deviceId: Type.String({ minLength: 1, maxLength: 1024, pattern: '^[^#+\\u0000]+$', description: 'MQTT client id' }),
  }, { additionalProperties: false }),
  body: Type.Object({ payload: Payload, ...mqttOptions }, { additionalProperties: false }),
  response: {
    200: Type.Object({
      results: Type.Array(Type.Object({
        deviceId: Type.String(),
        status: oneOf(['delivered', 'queued', 'offline', 'unknown']),
        code: Type.Optional(Type.String({ description: 'With `unknown`: CIM_BACKEND_UNAVAILABLE (the broker did not answer in time)' })),
      }, { additionalProperties: false })),
    }, { additionalProperties: false, description: 'One result for the device' }),
    ...errorResponses(400, 413, 503, 507),
  },
}

export const pushAll = {
  tags: ['push'],
  summary: 'Push a text to every connected user and device',
  description: 'Users: one bus message that every broker delivers to its own connections. '
    + 'Devices: one MQTT publish on the broadcast topic. 503 CIM_BACKEND_UNAVAILABLE when the publishing broker '
    + 'did not answer in time: the devices may or may not have received it (it is not published again).',
  body: Type.Object({
    message: Message,
    users: Type.Optional(Type.Boolean({ default: true, description: 'Include app users' })),
    devices: Type.Optional(Type.Boolean({ default: true, description: 'Include MQTT devices' })),
  }, { additionalProperties: false }),
  response: {
    200: Type.Object({
      users: Type.Integer({ description: 'CIM connections the brokers wrote to' }),
      devices: Type.Integer({ description: 'Devices online when the broadcast was published' }),
    }, { additionalProperties: false, description: 'Targets reached' }),
    ...errorResponses(400, 413, 503),
  },
}

export const publish = {
  tags: ['push'],
  summary: 'Publish to any MQTT topic',
  description: '503 CIM_BACKEND_UNAVAILABLE when the broker did not answer in time: the message may or may not have '
    + 'been published (it is not published again). A retained payload over the retained caps (count, total bytes, '
    + 'size) is refused with 507 CIM_RETAINED_FULL and not published.',
  body: Type.Object({ topic: TopicName, payload: Payload, ...mqttOptions }, { additionalProperties: false }),
  response: {
    200: Type.Object({
      published: Type.Boolean(),
      brokerId: Type.String({ description: 'The broker that published it' }),
    }, { additionalProperties: false, description: 'Published' }),
    ...errorResponses(400, 413, 503, 507),
  },
}
