import { Type } from 'typebox'
import { PageQuery, errorResponses, oneOf } from '../../schemas.ts'

export const online = {
  tags: ['devices'],
  summary: 'List connected MQTT devices (paged)',
  querystring: PageQuery,
  response: {
    200: Type.Object({
      items: Type.Array(Type.Object({
        deviceId: Type.String({ description: 'MQTT client id' }),
        brokerId: Type.String({ description: 'The broker node holding the connection' }),
        since: Type.Integer({ description: 'Connect time, ms since the epoch' }),
      }, { additionalProperties: false })),
      next: Type.Optional(Type.String({ description: 'Cursor of the next page; absent on the last page' })),
    }, { additionalProperties: false, description: 'One page of connected devices' }),
    ...errorResponses(400, 503),
  },
}

/** An MQTT client id: `+` and `#` are refused at CONNECT (they would turn the push topic into a wildcard). */
const DeviceParams = Type.Object({
  deviceId: Type.String({ minLength: 1, maxLength: 1024, pattern: '^[^#+]+$', description: 'The MQTT client id', examples: ['meter-7'] }),
}, { additionalProperties: false })

export const mintToken = {
  tags: ['devices'],
  summary: 'Mint a device token (the MQTT CONNECT password)',
  description: 'A JWT (`sub` = deviceId, `kind` = "device", `exp`, `iat`, optional `role`) signed with the token secret or '
    + 'private key (docs/security.md, Device credentials). The device connects with client id = deviceId and this token as '
    + 'its password. `role: "monitor"` or `"backend"` makes an MQTT client that may read every uplink and `$SYS` '
    + '(`backend` may also publish into the push topics). No body: an ordinary device token for --token-ttl-seconds.',
  params: DeviceParams,
  body: Type.Object({
    role: Type.Optional(oneOf(['device', 'monitor', 'backend'], { description: 'MQTT role; default device' })),
    ttlSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 31_536_000, description: 'Lifetime in seconds; default --token-ttl-seconds' })),
  }, { additionalProperties: false }),
  response: {
    200: Type.Object({
      token: Type.String({ description: 'The JWT, sent as the MQTT CONNECT password' }),
      expiresAt: Type.Integer({ description: 'Its `exp`: seconds since the epoch' }),
    }, { additionalProperties: false, description: 'A token for this device' }),
    ...errorResponses(400, 501, 503),
  },
}

export const revokeTokens = {
  tags: ['devices'],
  summary: "Revoke a device's tokens and disconnect it",
  description: 'Every token of this device issued until now is refused from now on (CIM_TOKEN_REVOKED), and its MQTT '
    + 'connection, on whichever broker, is closed.',
  params: DeviceParams,
  response: {
    200: Type.Object({
      revoked: Type.Literal(true),
      disconnected: Type.Boolean({ description: 'true when a live MQTT connection was closed' }),
    }, { additionalProperties: false, description: 'The tokens are revoked' }),
    ...errorResponses(400, 503),
  },
}
