/**
 * The upstream cim v2.1 route API (cim-rout-api RouteApi + its VOs). The upstream Java SDK reads
 * answers with a default Jackson ObjectMapper, which fails on unknown fields, so answers carry
 * exactly BaseResponse's fields {code, message, reqNo, dataBody} and, inside dataBody, exactly the
 * VO's fields. Requests are read leniently: the SDK posts only the VO's own fields (fastjson drops
 * nulls), other callers may add BaseRequest's reqNo/timeStamp.
 */
import { Type, type TSchema } from 'typebox'
import { UserId } from '../schemas.ts'

const TAGS = ['cim-compatible']
const CODE_DESCRIPTION = 'Upstream StatusEnum code: 9000 success, 5000 repeat login, 7000 receiver offline, '
  + '7100 no server available, 9100 account mismatch, 3000 invalid argument, 4000 failure'

/** BaseResponse<T>: always HTTP 200 (the upstream client treats any other status as an I/O error). */
function wrapper<T extends TSchema>(dataBody: T, description: string) {
  return Type.Object({
    code: Type.String({ description: CODE_DESCRIPTION, examples: ['9000'] }),
    message: Type.String(),
    reqNo: Type.Union([Type.String(), Type.Null()], { description: "The request's reqNo, if it sent one" }),
    dataBody,
  }, { additionalProperties: false, description })
}
const nullable = <T extends TSchema>(body: T) => Type.Union([body, Type.Null()], { description: 'null unless the code is 9000' })
/** BaseResponse<NULLBody>: upstream serialises the empty body as null. */
const NullBody = (description: string) => ({ 200: wrapper(Type.Null({ description: 'always null' }), description) })

/** BaseRequest fields; the SDK does not send them, but they are part of the upstream request VOs. */
const base = {
  reqNo: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  timeStamp: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
}
const Text = Type.String({ description: 'Message text', examples: ['hello'] })
const OptionalText = Type.Optional(Type.Union([Text, Type.Null()]))
const Batch = Type.Optional(Type.Union([Type.Array(Type.String()), Type.Null()], { description: 'Several texts in one request' }))

/** CIMServerResVO */
const Server = Type.Object({
  ip: Type.String({ description: 'Host of the chosen broker' }),
  cimServerPort: Type.Integer({ description: 'Its CIM TCP port' }),
  httpPort: Type.Integer({ description: 'Its HTTP port' }),
}, { additionalProperties: false })

/** RegisterInfoResVO / CIMUserInfo */
const UserInfo = Type.Object({ userId: UserId, userName: Type.String() }, { additionalProperties: false })

export const registerAccount = {
  tags: TAGS,
  summary: 'Register an account (idempotent by name)',
  body: Type.Object({ ...base, userName: Type.String({ minLength: 1, maxLength: 128 }) }),
  response: { 200: wrapper(nullable(UserInfo), 'RegisterInfoResVO') },
}

export const login = {
  tags: TAGS,
  summary: 'Log in and get the broker to connect to',
  description: 'Checks the account (9100), refuses a second login with the reject policy (5000), and picks a broker '
    + 'with the configured strategy (7100 when none is live).',
  body: Type.Object({ ...base, userId: UserId, userName: Type.String() }),
  response: { 200: wrapper(nullable(Server), 'CIMServerResVO of the chosen broker') },
}

export const p2pRoute = {
  tags: TAGS,
  summary: 'Send a message to one user',
  description: 'Online receiver: pushed through its broker, 9000. Offline: stored and replayed at its next login, 7000.',
  body: Type.Object({ ...base, userId: UserId, receiveUserId: UserId, msg: OptionalText, batchMsg: Batch }),
  response: NullBody('9000 delivered, 7000 stored for later'),
}

export const groupRoute = {
  tags: TAGS,
  summary: 'Send a message to every online user but the sender',
  body: Type.Object({ ...base, userId: UserId, msg: Text, batchMsg: Batch }),
  response: NullBody('9000 when sent'),
}

export const offLine = {
  tags: TAGS,
  summary: "Log a user out (ends its connection and clears its presence)",
  body: Type.Object({ ...base, userId: UserId, msg: OptionalText, batchMsg: Batch }),
  response: NullBody('9000'),
}

export const onlineUser = {
  tags: TAGS,
  summary: 'All online users',
  response: { 200: wrapper(nullable(Type.Array(UserInfo)), 'Set<CIMUserInfo>') },
}

export const fetchOfflineMsgs = {
  tags: TAGS,
  summary: "Replay a user's stored messages now",
  body: Type.Object({ receiveUserId: UserId }),
  response: NullBody('9000'),
}
