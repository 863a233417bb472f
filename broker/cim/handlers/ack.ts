/**
 * ACK (cmd 11, proto=2): requestId is the highest seq received with no gap before it; every stored
 * message up to it leaves the inbox (cumulative, so a lost ACK is covered by the next one).
 */
import type { RequestFrame } from '../../../proto/codec.ts'
import type { Session } from '../session.ts'

export function ack(session: Session, frame: RequestFrame): void {
  const upto = frame.requestId
  if (upto <= 0) return
  const userId = session.userId
  session.server.adapters.inbox.ack(userId, upto).catch((err) => {
    session.log('warn', { err, upto }, 'inbox ack failed (the messages will be replayed)')
  })
}
