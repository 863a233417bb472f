/**
 * ACK (cmd 11, proto=2): requestId is the highest seq received with no gap before it; every stored
 * message up to it leaves the inbox (cumulative, so a lost ACK is covered by the next one). A
 * repeated ACK costs nothing: the session remembers how far it was acked. An ACK naming another
 * `epoch` than the session's stream counts in a stream that was lost: it is ignored (its seq would
 * remove the new stream's messages that the client never had).
 */
import type { RequestFrame } from '../../../proto/codec.ts'
import type { Session } from '../session.ts'
import { acked } from '../replay.ts'

export function ack(session: Session, frame: RequestFrame): void {
  if (!session.proto2) return // upstream clients never send one; their messages are acked on write
  const epoch = frame.properties.epoch
  if (epoch !== undefined && epoch !== session.stream!.epoch) return
  acked(session, frame.requestId)
}
