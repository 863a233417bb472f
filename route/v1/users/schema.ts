import { Type } from 'typebox'
import { PageQuery, UserId, errorResponses } from '../../schemas.ts'

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
  querystring: PageQuery,
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
