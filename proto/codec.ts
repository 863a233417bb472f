/**
 * CIM framing and message codec.
 *
 * Frame = base-128 varint32 length of the body, then the protobuf body (upstream uses Netty's
 * ProtobufVarint32FrameDecoder / LengthFieldPrepender). No magic, no header.
 */
import protobuf from 'protobufjs/minimal.js'
import { cim } from './generated/cim.js'
import { codedError } from '../errors.ts'

export const BaseCommand = cim.BaseCommand
export type BaseCommand = cim.BaseCommand

/** A decoded client→server frame with int64 ids already turned into safe JS numbers. */
export interface RequestFrame {
  reqMsg: string
  requestId: number
  cmd: BaseCommand
  properties: Record<string, string>
  batchReqMsg: string[]
}

/** A decoded server→client frame (what a client reads). */
export interface ResponseFrame {
  resMsg: string
  responseId: number
  cmd: BaseCommand
  properties: Record<string, string>
  batchResMsg: string[]
}

export interface RequestInit {
  reqMsg?: string
  requestId?: number
  cmd?: BaseCommand
  properties?: Record<string, string>
  batchReqMsg?: string[]
}

export interface ResponseInit {
  resMsg?: string
  responseId?: number
  cmd?: BaseCommand
  properties?: Record<string, string>
  batchResMsg?: string[]
}

/** Default maximum body length (64 KiB). */
export const DEFAULT_MAX_FRAME = 64 * 1024

type LongLike = { low: number; high: number; unsigned?: boolean; toString(): string }

/**
 * Turns a decoded int64 into a number, refusing values a JSON number cannot carry exactly.
 * protobufjs hands back Long objects for int64 when the `long` package is present.
 */
export function toSafeId(v: number | LongLike | null | undefined): number {
  if (v == null) return 0
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw codedError('UserIdOutOfRange', String(v))
    return v
  }
  // high word beyond 21 bits (or negative beyond -2^53) cannot be represented exactly.
  const high = v.high | 0
  if (high > 0x1fffff || high < -0x200000) throw codedError('UserIdOutOfRange', v.toString())
  const n = high * 0x100000000 + (v.low >>> 0)
  if (!Number.isSafeInteger(n)) throw codedError('UserIdOutOfRange', v.toString())
  return n
}

/** Length of a varint32 encoding of n. */
export function varintLength(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5
}

/** Writes n as a varint32 at buf[pos]; returns the next position. */
export function writeVarint(buf: Buffer, pos: number, n: number): number {
  while (n > 0x7f) {
    buf[pos++] = (n & 0x7f) | 0x80
    n >>>= 7
  }
  buf[pos++] = n
  return pos
}

/** Prepends the varint length to a body. */
export function frame(body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(varintLength(body.length) + body.length)
  const pos = writeVarint(out, 0, body.length)
  out.set(body, pos)
  return out
}

export function encodeRequestBody(m: RequestInit): Uint8Array {
  return cim.Request.encode(m as cim.Request.$Properties).finish()
}

export function encodeResponseBody(m: ResponseInit): Uint8Array {
  return cim.Response.encode(m as cim.Response.$Properties).finish()
}

/** A length-prefixed client→server frame. */
export function encodeRequest(m: RequestInit): Buffer {
  return frame(encodeRequestBody(m))
}

/** A length-prefixed server→client frame. */
export function encodeResponse(m: ResponseInit): Buffer {
  return frame(encodeResponseBody(m))
}

export function decodeRequest(body: Uint8Array): RequestFrame {
  let m: cim.Request
  try {
    m = cim.Request.decode(body)
  } catch (err) {
    throw codedError('MalformedFrame', (err as Error).message)
  }
  return {
    reqMsg: m.reqMsg,
    requestId: toSafeId(m.requestId as unknown as LongLike | number),
    cmd: m.cmd,
    properties: m.properties,
    batchReqMsg: m.batchReqMsg,
  }
}

export function decodeResponse(body: Uint8Array): ResponseFrame {
  let m: cim.Response
  try {
    m = cim.Response.decode(body)
  } catch (err) {
    throw codedError('MalformedFrame', (err as Error).message)
  }
  return {
    resMsg: m.resMsg,
    responseId: toSafeId(m.responseId as unknown as LongLike | number),
    cmd: m.cmd,
    properties: m.properties,
    batchResMsg: m.batchResMsg,
  }
}

/**
 * Encodes the per-recipient tail of a push: field 2 (responseId) and the `receiveUserId` map entry.
 * Protobuf parsers merge fields in any order, so `shared body + this tail` decodes as one message
 * with the recipient's id: a broadcast encodes its body once and each session keeps its own tail.
 */
export function encodeRecipientTail(userId: number): Buffer {
  return Buffer.from(cim.Response.encode({ responseId: userId, properties: { receiveUserId: String(userId) } }).finish())
}

/**
 * Reassembles frames from a byte stream: frames split across reads and several frames in one
 * read both come out whole. Throws a coded error (and stays unusable) on a length over `maxFrame`
 * or a varint longer than 5 bytes; the caller logs it and closes the socket.
 */
export class FrameDecoder {
  private pending: Buffer | null = null

  constructor(private readonly maxFrame = DEFAULT_MAX_FRAME) {}

  /** Feeds bytes; calls onFrame with each complete body (a view, valid only during the call). */
  push(chunk: Buffer, onFrame: (body: Buffer) => void): void {
    let buf = chunk
    if (this.pending) {
      buf = Buffer.concat([this.pending, chunk])
      this.pending = null
    }
    let pos = 0
    const end = buf.length
    while (pos < end) {
      // Read the varint32 length.
      let len = 0
      let shift = 0
      let p = pos
      let complete = false
      while (p < end) {
        const b = buf[p++]
        len += (b & 0x7f) * 2 ** shift
        if ((b & 0x80) === 0) { complete = true; break }
        shift += 7
        if (shift >= 35) throw codedError('MalformedFrame', 'length varint longer than 5 bytes')
      }
      if (!complete) break
      if (len > this.maxFrame) throw codedError('FrameTooLarge', len, this.maxFrame)
      if (end - p < len) break
      onFrame(buf.subarray(p, p + len))
      pos = p + len
    }
    if (pos < end) this.pending = Buffer.from(buf.subarray(pos))
  }

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.pending ? this.pending.length : 0
  }

  /** Forgets the partial frame held (its connection is closing). */
  clear(): void {
    this.pending = null
  }
}

export { protobuf }
