import { Type } from 'typebox'
import { PageQuery, errorResponses } from '../../schemas.ts'

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
