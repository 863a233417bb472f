import { describe, expect, it } from 'vitest'
import { BaseCommand, decodeResponse, encodeRecipientTail, encodeResponse } from '../../proto/codec.ts'
import { FrameDecoder } from '../../proto/codec.ts'
import { PONG, SharedBody, kickFrame, loginReplyFrame, seqTail, sharedProperties } from './frames.ts'

function decodeFramed(buf: Buffer) {
  const bodies: Buffer[] = []
  new FrameDecoder().push(buf, (b) => bodies.push(Buffer.from(b)))
  expect(bodies).toHaveLength(1)
  return decodeResponse(bodies[0])
}

describe('broker frames', () => {
  it('pong is the upstream bytes', () => {
    expect(PONG.toString('hex')).toBe('080a04706f6e67180' + '2')
  })

  it('shared body + recipient tail decodes as the full push for that recipient', () => {
    const body = SharedBody.of('hello', sharedProperties({ sendUserId: '1', sendUserName: 'a', receiveUserId: 'stale' }))
    for (const userId of [1, 1_700_000_000_123, Number.MAX_SAFE_INTEGER]) {
      const tail = encodeRecipientTail(userId)
      const framed = Buffer.concat([body.prefix(tail.length), tail])
      const expected = encodeResponse({
        resMsg: 'hello', responseId: userId, cmd: BaseCommand.MESSAGE,
        properties: { sendUserId: '1', sendUserName: 'a', receiveUserId: String(userId) },
      })
      expect(decodeFramed(framed)).toEqual(decodeFramed(expected))
      expect(body.frameFor(tail)).toEqual(framed)
    }
  })

  it('caches one length-prefixed body per tail length', () => {
    const body = SharedBody.of('x', {})
    expect(body.prefix(20)).toBe(body.prefix(20))
    expect(body.prefix(21)).not.toBe(body.prefix(20))
  })

  it('appends seq after the tail', () => {
    const tail = Buffer.concat([encodeRecipientTail(5), seqTail(42)])
    const f = decodeFramed(SharedBody.of('m', { msgId: 'id' }).frameFor(tail))
    expect(f.properties).toEqual({ msgId: 'id', receiveUserId: '5', seq: '42', qos: '1' })
  })

  it('builds KICK and LOGIN_REPLY frames', () => {
    expect(decodeFramed(kickFrame('CIM_KICKED', 'r'))).toMatchObject({ cmd: BaseCommand.KICK, properties: { code: 'CIM_KICKED', reason: 'r' } })
    expect(decodeFramed(loginReplyFrame(null, 'ok', 'b1', 10))).toMatchObject({
      cmd: BaseCommand.LOGIN_REPLY, resMsg: 'ok', properties: { code: '9000', brokerId: 'b1', heartbeatSeconds: '10' },
    })
    expect(decodeFramed(loginReplyFrame('CIM_REPEAT_LOGIN', 'busy', 'b1', 10))).toMatchObject({ resMsg: 'busy', properties: { code: 'CIM_REPEAT_LOGIN' } })
  })
})
