import { Type } from 'typebox'
import { errorResponses } from '../../schemas.ts'

const Port = Type.Integer({ minimum: 0, maximum: 65535 })
/** A TLS listener's port: present when the broker has a certificate (docs/security.md, TLS). */
const TlsPort = (what: string) => Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, description: `${what} (when the broker has a certificate)` }))

export const list = {
  tags: ['nodes'],
  summary: 'List live broker nodes',
  response: {
    200: Type.Object({
      items: Type.Array(Type.Object({
        id: Type.String({ description: 'Node id (default host:cimPort:httpPort)' }),
        host: Type.String({ description: 'Address clients connect to' }),
        cimPort: Port,
        httpPort: Port,
        mqttPort: Port,
        wsPort: Port,
        cimTlsPort: TlsPort('CIM over TLS'),
        mqttsPort: TlsPort('MQTT over TLS'),
        wssPort: TlsPort('MQTT over secure WebSocket'),
        connections: Type.Integer({ description: 'Live CIM + MQTT connections' }),
        draining: Type.Boolean({ description: 'A draining broker takes no new logins' }),
        startedAt: Type.Integer({ description: 'ms since the epoch' }),
      }, { additionalProperties: false })),
    }, { additionalProperties: false, description: 'Brokers in discovery, sorted by id' }),
    ...errorResponses(503),
  },
}
