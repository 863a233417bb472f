import { Type } from 'typebox'
import { errorResponses } from '../../schemas.ts'

const Count = (description: string) => Type.Integer({ minimum: 0, description })

export const get = {
  tags: ['nodes'],
  summary: 'Delivery statistics: inbox, online users and devices, brokers',
  description: 'The inbox holds qos 1 messages until their recipient acks them. A message whose TTL passes first '
    + 'is dropped and counted in `expired`; a push to a full inbox is answered `rejected` (CIM_INBOX_FULL, or '
    + 'CIM_STORAGE_FULL when all inboxes together are at their bytes cap) and nothing is ever evicted to make room.',
  response: {
    200: Type.Object({
      inbox: Type.Object({
        stored: Count('qos 1 messages stored and not yet acked'),
        expired: Count('messages dropped because their TTL passed before an ack (since the store was created)'),
        bytes: Count('bytes the stored messages count against the byte caps (text, msgId, property names and values)'),
        maxPerUser: Count('per-user cap (--inbox-max-per-user)'),
        maxBytesPerUser: Count('per-user bytes cap (--inbox-max-bytes-per-user; CIM_INBOX_FULL)'),
        maxTotalBytes: Count('bytes cap over all users (--inbox-max-total-bytes; CIM_STORAGE_FULL)'),
        ttlSeconds: Count('default lifetime of a stored message (--inbox-ttl-seconds)'),
      }, { additionalProperties: false }),
      online: Type.Object({
        users: Count('users with a live CIM connection'),
        devices: Count('connected MQTT clients'),
      }, { additionalProperties: false }),
      brokers: Count('live broker nodes in discovery'),
    }, { additionalProperties: false, description: 'Current figures' }),
    ...errorResponses(503),
  },
}
