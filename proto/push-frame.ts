/**
 * What a push frame may carry, shared by the route (which refuses what would not fit or is not
 * the caller's to set) and the broker (which builds the frames): docs/protocol.md, Pushes.
 */

/**
 * Properties the broker sets on the frames it writes. Whatever a caller put under these names is
 * removed from every frame (broker/cim/frames.ts sharedProperties), so a client can trust them.
 * `qos` ("1") marks an at-least-once delivery: a client trusts `seq` only on a frame with it;
 * `epoch` names the stream the `seq` belongs to (a client resets its ack window on a new one).
 */
export const BROKER_PROPERTIES: ReadonlySet<string> = new Set(['receiveUserId', 'msgId', 'ts', 'seq', 'prevSeq', 'qos', 'epoch'])

/**
 * Property names a push may not set (400 CIM_RESERVED_PROPERTY): the broker's, plus the sender
 * metadata the route sets itself (`sendUserId` "0" and `sendUserName` "system" for a backend).
 */
export const RESERVED_PROPERTIES: readonly string[] = ['sendUserId', 'sendUserName', ...BROKER_PROPERTIES]

/** The first reserved name among `properties`' keys, or undefined. */
export function reservedPropertyIn(properties: Record<string, string> | undefined): string | undefined {
  if (!properties) return undefined
  for (const name of RESERVED_PROPERTIES) if (Object.hasOwn(properties, name)) return name
  return undefined
}

function varintLength(n: number): number {
  let len = 1
  while (n >= 0x80) { n = Math.floor(n / 0x80); len++ }
  return len
}

/** Bytes of a length-delimited field (tag + length + payload) carrying `bytes`. */
function delimited(bytes: number): number {
  return 1 + varintLength(bytes) + bytes
}

/** Bytes of one `map<string, string>` entry with keys and values of these UTF-8 lengths. */
function entry(keyBytes: number, valueBytes: number): number {
  return delimited(delimited(keyBytes) + delimited(valueBytes))
}

/** The longest decimal the broker writes for a seq, a userId or a time: 2^53 − 1 has 16 digits. */
const MAX_DECIMAL = 16
/** msgIds are UUIDs (the route's randomUUID). */
const MSG_ID_BYTES = 36
/** The longest stream epoch (adapters/inbox newEpoch: 9 base-36 digits of ms, until the year 5188, plus 4 random). */
export const EPOCH_MAX_BYTES = 13

/**
 * The most the broker adds to a push's text and properties on any frame it writes: `cmd`, the
 * recipient's `responseId` (an int64 varint: at most 10 bytes) and `receiveUserId`, and, for
 * proto=2 clients, `msgId`, `ts`, `seq`, `prevSeq`, the `qos` marker and the stream's `epoch`.
 */
export const BROKER_OVERHEAD_BYTES = 2 + (1 + 10)
  + entry('receiveUserId'.length, MAX_DECIMAL)
  + entry('msgId'.length, MSG_ID_BYTES)
  + entry('ts'.length, MAX_DECIMAL)
  + entry('seq'.length, MAX_DECIMAL)
  + entry('prevSeq'.length, MAX_DECIMAL)
  + entry('qos'.length, 1)
  + entry('epoch'.length, EPOCH_MAX_BYTES)

/**
 * The largest frame body (what a client compares with its maximum frame size) the broker can
 * write for this push, to any client: the text, every property, and BROKER_OVERHEAD_BYTES. Linear
 * in the input, computed once per push. Protobuf omits an empty string; counting it anyway only
 * makes the bound safer.
 */
export function pushBodyBound(text: string, properties: Record<string, string> | undefined): number {
  let bytes = BROKER_OVERHEAD_BYTES + delimited(Buffer.byteLength(text))
  if (properties) {
    for (const k of Object.keys(properties)) bytes += entry(Buffer.byteLength(k), Buffer.byteLength(properties[k]))
  }
  return bytes
}
