/**
 * Device credentials (docs/security.md, Device credentials): with a token key configured, the MQTT
 * CONNECT password is a device token (a JWT with `kind: 'device'` whose `sub` is the client id,
 * security/tokens.ts). The client id must equal the subject, so nobody takes over another
 * device's id (and with it its pushes and queued session messages). A user token never
 * authenticates a device: the token service refuses the other kind.
 */
import { codedError, isCatalogued } from '../../errors.ts'
import type { TokenService } from '../../security/tokens.ts'
import { mqttRoleOf, type MqttRole } from '../../security/mqtt-acl.ts'
import type { MqttAclRule } from '../../config.ts'

/**
 * A device let in, with the MQTT role its token names (absent: 'device') and, from the auth webhook,
 * topic rules of its own (docs/security.md, Auth webhook).
 */
export interface DeviceGrant { role: MqttRole; acl?: MqttAclRule[] }

/** A refusal with its catalogue code (CIM_UNAUTHORIZED, CIM_FORBIDDEN, CIM_TOKEN_EXPIRED, CIM_TOKEN_REVOKED). */
export interface DeviceRefusal { code: string; message: string }

const TOKEN_REFUSALS = new Set(['CIM_UNAUTHORIZED', 'CIM_TOKEN_EXPIRED', 'CIM_TOKEN_REVOKED'])

/** Reads the CONNECT password as a device token. Throws only when the check itself failed (Redis down). */
export async function checkDeviceToken(tokens: TokenService, clientId: string, password: Buffer | undefined): Promise<DeviceGrant | DeviceRefusal> {
  if (!password || password.length === 0) return codedError('Unauthorized', 'a device token is required as the CONNECT password')
  let sub: string
  let role: string | undefined
  try {
    ;({ sub, role } = await tokens.verify(password.toString('utf8'), 'device'))
  } catch (err) {
    const code = (err as { code?: unknown }).code
    if (isCatalogued(code) && TOKEN_REFUSALS.has(code)) return err as DeviceRefusal
    throw err
  }
  // A valid token for another id: authenticated, but not as this client (CONNACK 5).
  if (sub !== clientId) return codedError('Forbidden', `the token is for client id ${JSON.stringify(sub)}, not ${JSON.stringify(clientId)}`)
  const mqttRole = mqttRoleOf(role)
  if (!mqttRole) return codedError('Unauthorized', `unknown role ${JSON.stringify(role)} (device, monitor or backend)`)
  return { role: mqttRole }
}

export function isDeviceGrant(d: unknown): d is DeviceGrant {
  return typeof d === 'object' && d !== null && 'role' in d
}

export function isDeviceRefusal(d: unknown): d is DeviceRefusal {
  return typeof d === 'object' && d !== null && 'code' in d
}
