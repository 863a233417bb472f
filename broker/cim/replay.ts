/**
 * Inbox replay to a logged-in session, on every login and on request (CIM-compatible
 * fetchOfflineMsgs). Upstream clients get ONE OFFLINE frame with every text in batchResMsg and the
 * first message's properties (upstream route's fetchOfflineMsgs), acked once the socket took it;
 * proto=2 clients get each message as a MESSAGE push with msgId/seq/ts and ack it themselves.
 */
import { BaseCommand, encodeResponse } from '../../proto/codec.ts'
import { LOGGED_IN, type Session } from './session.ts'
import { SharedBody, sharedProperties, seqTail } from './frames.ts'

/** Returns how many messages were written. */
export async function replayInbox(session: Session): Promise<number> {
  const userId = session.userId
  const connId = session.connId
  const inbox = session.server.adapters.inbox
  const messages = await inbox.list(userId)
  // The session may have closed or been replaced while the inbox answered.
  if (messages.length === 0 || session.state !== LOGGED_IN || session.connId !== connId) return 0
  const receiveUserId = String(userId)

  if (session.proto2) {
    const tail = session.tail!
    for (const m of messages) {
      const body = SharedBody.of(m.text, sharedProperties(m.properties, { msgId: m.msgId, ts: String(m.ts) }))
      const t = Buffer.concat([tail, seqTail(m.seq)])
      if (!session.write2(body.prefix(t.length), t)) return 0
    }
    session.server.stats.deliveries += messages.length
    return messages.length
  }

  const frame = encodeResponse({
    cmd: BaseCommand.OFFLINE,
    responseId: userId,
    batchResMsg: messages.map((m) => m.text),
    properties: { ...messages[0].properties, receiveUserId },
  })
  const lastSeq = messages[messages.length - 1].seq
  session.writeNow(frame, (err) => {
    if (err) return
    inbox.ack(userId, lastSeq).catch((e) => session.log('warn', { err: e }, 'inbox ack after replay failed'))
  })
  session.server.stats.deliveries++
  return messages.length
}
