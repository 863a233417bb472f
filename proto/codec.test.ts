import { describe, it, expect } from 'vitest'
import {
  BaseCommand, FrameDecoder, decodeRequest, decodeResponse, encodeRecipientTail, encodeRequest, encodeRequestBody,
  encodeResponse, encodeResponseBody, frame, toSafeId,
} from './codec.ts'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex').replace(/(..)/g, '$1 ').trim()

describe('CIM wire format (golden bytes from the upstream v2.1 client)', () => {
  it('encodes the login frame for 1747309836375 / "yuge" with no cmd field', () => {
    expect(hex(encodeRequest({ reqMsg: 'yuge', requestId: 1747309836375 }))).toBe('0d 0a 04 79 75 67 65 10 d7 f0 a0 9e ed 32')
  })

  it('encodes the pong', () => {
    expect(hex(encodeResponse({ resMsg: 'pong', cmd: BaseCommand.PING }))).toBe('08 0a 04 70 6f 6e 67 18 02')
  })

  it('decodes the upstream login frame: absent cmd means LOGIN_REQUEST, id without lost digits', () => {
    const bytes = Buffer.from('0a047975676510d7f0a09eed32', 'hex')
    expect(decodeRequest(bytes)).toEqual({ reqMsg: 'yuge', requestId: 1747309836375, cmd: BaseCommand.LOGIN_REQUEST, properties: {}, batchReqMsg: [] })
  })

  it('refuses an id a JSON number cannot carry exactly', () => {
    const body = encodeRequest({ reqMsg: 'x', requestId: 0 }).subarray(1)
    // requestId = 2^53 (varint of 9007199254740992)
    const big = Buffer.concat([body, Buffer.from([0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10])])
    expect(() => decodeRequest(big)).toThrow(expect.objectContaining({ code: 'CIM_USER_ID_OUT_OF_RANGE' }))
    expect(toSafeId(Number.MAX_SAFE_INTEGER)).toBe(Number.MAX_SAFE_INTEGER)
  })

  it('reports a malformed body with a coded error', () => {
    expect(() => decodeRequest(Buffer.from([0x0a, 0x10, 0x41]))).toThrow(expect.objectContaining({ code: 'CIM_MALFORMED_FRAME' }))
  })

  it('a shared body plus a recipient tail decodes as one message for that recipient', () => {
    const shared = encodeResponseBody({ resMsg: 'hi all', cmd: BaseCommand.MESSAGE, properties: { sendUserId: '1', sendUserName: 'a' } })
    const decoded = decodeResponse(Buffer.concat([shared, encodeRecipientTail(1747309836375)]))
    expect(decoded).toEqual({
      resMsg: 'hi all', responseId: 1747309836375, cmd: BaseCommand.MESSAGE,
      properties: { sendUserId: '1', sendUserName: 'a', receiveUserId: '1747309836375' }, batchResMsg: [],
    })
  })
})

describe('FrameDecoder', () => {
  const bodies = [
    encodeRequestBody({ reqMsg: 'yuge', requestId: 1747309836375 }),
    encodeRequestBody({ reqMsg: 'ping', requestId: 1, cmd: BaseCommand.PING }),
    encodeRequestBody({ reqMsg: 'x'.repeat(300) }), // a two-byte length prefix
  ].map((b) => Buffer.from(b))
  const stream = Buffer.concat(bodies.map((b) => frame(b)))

  it('reassembles frames fed one byte at a time', () => {
    const d = new FrameDecoder()
    const out: Buffer[] = []
    for (const b of stream) d.push(Buffer.from([b]), (body) => out.push(Buffer.from(body)))
    expect(out).toEqual(bodies)
    expect(d.buffered).toBe(0)
  })

  it('splits several frames merged in one read', () => {
    const d = new FrameDecoder()
    const out: Buffer[] = []
    d.push(stream, (body) => out.push(Buffer.from(body)))
    expect(out).toEqual(bodies)
    expect(decodeRequest(out[1]).cmd).toBe(BaseCommand.PING)
  })

  it('rejects a length over the maximum before reading the body', () => {
    const d = new FrameDecoder(1024)
    expect(() => d.push(Buffer.from([0x81, 0x08]), () => {})).toThrow(expect.objectContaining({ code: 'CIM_FRAME_TOO_LARGE' }))
  })

  it('rejects a length varint longer than five bytes', () => {
    const d = new FrameDecoder()
    expect(() => d.push(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), () => {})).toThrow(expect.objectContaining({ code: 'CIM_MALFORMED_FRAME' }))
  })
})
