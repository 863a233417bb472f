import { Type } from 'typebox'
import { UserPageQuery, UserId, errorResponses } from '../../schemas.ts'

const UserName = Type.String({ minLength: 1, maxLength: 128, description: 'Login name', examples: ['zhangsan'] })

const account = (description: string) => Type.Object({ userId: UserId, userName: UserName }, { additionalProperties: false, description })

export const register = {
  tags: ['users'],
  summary: 'Register a user (idempotent by name)',
  description: 'Returns the existing account when the name is taken: 201 when created, 200 when it already existed.',
  body: Type.Object({ userName: UserName }, { additionalProperties: false }),
  response: {
    200: account('The account already existed'),
    201: account('The account was created'),
    ...errorResponses(400, 413, 503),
  },
}

export const online = {
  tags: ['users'],
  summary: 'List online users (paged)',
  querystring: UserPageQuery,
  response: {
    200: Type.Object({
      items: Type.Array(Type.Object({
        userId: UserId,
        userName: Type.String(),
        brokerId: Type.String({ description: 'The broker node holding the connection' }),
      }, { additionalProperties: false })),
      next: Type.Optional(Type.String({ description: 'Cursor of the next page; absent on the last page' })),
    }, { additionalProperties: false, description: 'One page of online users' }),
    ...errorResponses(400, 503),
  },
}

const UserParams = Type.Object({ userId: UserId }, { additionalProperties: false })

export const presence = {
  tags: ['users'],
  summary: "A user's presence",
  params: UserParams,
  response: {
    200: Type.Object({
      online: Type.Boolean(),
      brokerId: Type.Optional(Type.String({ description: 'The broker node holding the connection' })),
      since: Type.Optional(Type.Integer({ description: 'Login time, ms since the epoch' })),
    }, { additionalProperties: false, description: 'Presence of a registered user' }),
    ...errorResponses(400, 404, 503),
  },
}

export const kick = {
  tags: ['users'],
  summary: "Disconnect a user's CIM connection",
  description: 'The broker sends a KICK (code CIM_ADMIN_KICK) to clients that speak proto=2, then closes the connection.',
  params: UserParams,
  response: {
    200: Type.Object({
      kicked: Type.Boolean({ description: 'false when the broker no longer held the connection (its stale presence is cleared)' }),
    }, { additionalProperties: false, description: 'The user was online' }),
    ...errorResponses(400, 404, 503),
  },
}

export const mintToken = {
  tags: ['users'],
  summary: 'Mint a login token for a user',
  description: 'A JWT (`sub` = userId, `kind` = "user", `exp`, `iat`) signed with the token secret or private key, '
    + 'for the login property `token` (docs/security.md, Tokens). Backends may sign the same format themselves.',
  params: UserParams,
  // A query parameter, not a body: a POST without a body is the common call.
  querystring: Type.Object({
    ttlSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 31_536_000, description: 'Lifetime in seconds; default --token-ttl-seconds' })),
  }, { additionalProperties: false }),
  response: {
    200: Type.Object({
      token: Type.String({ description: 'The JWT, sent as the CIM login property `token`' }),
      expiresAt: Type.Integer({ description: 'Its `exp`: seconds since the epoch' }),
    }, { additionalProperties: false, description: 'A token for this user' }),
    ...errorResponses(400, 404, 501, 503),
  },
}

export const revokeTokens = {
  tags: ['users'],
  summary: "Revoke a user's tokens and disconnect the user",
  description: 'Every token of this user issued until now is refused from now on (CIM_TOKEN_REVOKED), '
    + 'and the live CIM connection, on whichever broker, is closed with code CIM_TOKEN_REVOKED.',
  params: UserParams,
  response: {
    200: Type.Object({
      revoked: Type.Literal(true),
      kicked: Type.Boolean({ description: 'true when a live connection was closed' }),
    }, { additionalProperties: false, description: 'The tokens are revoked' }),
    ...errorResponses(400, 404, 503),
  },
}

/** Error answers of the connect endpoint, described with the codes it gives. */
const connectError = (description: string) => Type.Unsafe<{ statusCode: number; code: string; message: string }>({ $ref: 'ErrorResponse#', description })

export const connect = {
  tags: ['users'],
  summary: 'Pick the broker a user connects to (SDK login)',
  description: 'What the SDK calls before opening its CIM connection: checks the account, refuses a second login '
    + 'with the reject policy, and picks a live broker with the configured strategy, as the upstream-compatible '
    + '`/login` does. No API key (an app holds none). With a token key configured the body must carry a user token '
    + 'whose `sub` is this userId (docs/security.md, Tokens), unless compat is on and no token is sent.',
  params: UserParams,
  body: Type.Object({
    token: Type.Optional(Type.String({ minLength: 1, maxLength: 8192, description: 'The user login token (JWT), also sent as the CIM login property `token`' })),
    avoid: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }), {
      maxItems: 16,
      description: 'Broker ids this client just failed to reach (refused TCP connect): chosen only if no other broker is listed. '
        + 'A killed broker stays listed until its ZooKeeper session expires; the SDK sends this when it reconnects.',
    })),
  }, { additionalProperties: false }),
  response: {
    200: Type.Object({
      brokerId: Type.String({ description: 'The chosen broker node' }),
      host: Type.String({ description: 'Its advertised host' }),
      cimPort: Type.Integer({ description: 'Its CIM TCP port' }),
      httpPort: Type.Integer({ description: 'Its HTTP port' }),
      cimTlsPort: Type.Optional(Type.Integer({ description: 'Its CIM-over-TLS port, when it has a certificate' })),
    }, { additionalProperties: false, description: 'The broker to connect to' }),
    ...errorResponses(400, 404, 503),
    401: connectError('No token, or a refused one (when a token key is configured): CIM_UNAUTHORIZED, CIM_TOKEN_EXPIRED, CIM_TOKEN_REVOKED'),
    404: connectError('Unknown userId: CIM_USER_NOT_FOUND'),
    409: connectError('Already logged in, with --repeat-login reject: CIM_REPEAT_LOGIN'),
  },
}
