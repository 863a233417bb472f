/**
 * Reading the inbox into one session's at-least-once stream (stream.ts), and the writes that
 * advance the stream: stored (qos 1) messages, written in seq order.
 *
 * - Login: the session starts at the inbox floor (told to proto=2 clients as LOGIN_REPLY
 *   `ackedSeq`), then replays everything above it. Upstream clients get ONE OFFLINE frame with every
 *   text in batchResMsg and the first message's properties (upstream route's fetchOfflineMsgs),
 *   acked once the socket took it; proto=2 clients get each message as a MESSAGE push with
 *   msgId/seq/ts and ack it themselves.
 * - Live pushes that arrive during a replay wait for it (live seq N never overtakes the replay of
 *   N−1); the replay then reads the inbox again until it has caught up with them.
 * - The broker's sweep redelivers from the inbox on the same connection when the stream says the
 *   ack timeout passed without ack progress.
 * Replayed and redelivered messages to proto=2 clients carry `prevSeq`: every seq strictly between
 * it and the message's own seq was acked or expired, so the client need not wait for it.
 * (docs/protocol.md, "Acks and replay".)
 */
import { BaseCommand, encodeResponse } from '../../proto/codec.ts'
import type { InboxMessage } from '../../adapters/inbox/index.ts'
import { LOGGED_IN, type Session } from './session.ts'
import type { CatchUpReason, Stream } from './stream.ts'
import { SharedBody, sharedProperties, seqTail } from './frames.ts'

export type { CatchUpReason } from './stream.ts'

/**
 * Everything up to `upto` arrived (a proto=2 ACK, or an upstream socket that took the frames): if
 * that is news to the stream, remove it from the inbox.
 */
export function acked(session: Session, upto: number): void {
  if (!session.stream!.acked(upto, Date.now())) return
  session.server.adapters.inbox.ack(session.userId, upto).catch((err) => {
    session.log('warn', { err, upto }, 'inbox ack failed (the messages will be replayed)')
  })
}

/**
 * Writes one stored message to an upstream client, acking it in the inbox once the socket took it.
 * `fromInbox`: it comes from an inbox read, so the seqs below it that the read did not return are gone.
 */
export function writeUpstream(session: Session, frame: Buffer, seq: number, now: number, fromInbox = false): void {
  const stream = session.stream!
  if (fromInbox) stream.writtenFromInbox(seq, now)
  else stream.written(seq, now)
  // Upstream clients never ACK: a stored message counts as delivered once the socket took it. The
  // ack is cumulative, so it goes only as far as the contiguous run written here (a later seq
  // written before an earlier one's push arrived must not remove the earlier one).
  const upto = stream.sentSeq
  const connId = session.connId
  session.writeNow(frame, (err) => {
    if (!err && session.connId === connId) acked(session, upto)
  })
}

function alive(session: Session, connId: string): boolean {
  return session.state === LOGGED_IN && session.connId === connId
}

/**
 * Reads the inbox after `after` and writes what it holds, then again while pushes that waited
 * meanwhile are not covered. Returns how many messages were written. The login replay runs on
 * the stream's initial catch-up; another read while one is in flight does nothing (it is covered).
 */
export async function catchUp(session: Session, after: number, reason: CatchUpReason): Promise<number> {
  const stream = session.stream!
  if (reason !== 'login' && !stream.startCatchUp()) return 0
  const connId = session.connId
  const inbox = session.server.adapters.inbox
  let written = 0
  let failed = true
  try {
    let from = after
    for (let round = 0; ; round++) {
      const messages = await inbox.list(session.userId, from)
      // The session may have closed while the inbox answered.
      if (!alive(session, connId)) return written
      if (messages.length === 0) break
      const ok = session.proto2
        ? writeProto2(session, stream, messages, from)
        : writeUpstreamBatch(session, messages, reason !== 'redeliver' && round === 0)
      if (!ok) return written
      written += messages.length
      if (stream.caughtUp) break
      from = stream.sentSeq
    }
    failed = false
    if (reason === 'redeliver') session.server.stats.redeliveries += written
    session.server.stats.deliveries += written
    return written
  } finally {
    // Synchronous from the last check on: no push can slip in between. A closed session's stream
    // is never read again.
    if (session.connId === connId) stream.endCatchUp(Date.now(), reason, written, failed)
  }
}

function writeProto2(session: Session, stream: Stream, messages: InboxMessage[], from: number): boolean {
  const tail = session.tail!
  const now = Date.now()
  let prev = from
  for (const m of messages) {
    const body = SharedBody.of(m.text, sharedProperties(m.properties, { msgId: m.msgId, ts: String(m.ts), prevSeq: String(prev) }))
    const t = Buffer.concat([tail, seqTail(m.seq)])
    if (!session.write2(body.prefix(t.length), t)) return false
    stream.writtenFromInbox(m.seq, now)
    prev = m.seq
  }
  return true
}

function writeUpstreamBatch(session: Session, messages: InboxMessage[], offline: boolean): boolean {
  const userId = session.userId
  const now = Date.now()
  if (offline) {
    // Everything up to the last seq not in the batch is gone: the batch completes the run.
    writeUpstream(session, encodeResponse({
      cmd: BaseCommand.OFFLINE,
      responseId: userId,
      batchResMsg: messages.map((m) => m.text),
      properties: { ...messages[0].properties, receiveUserId: String(userId) },
    }), messages[messages.length - 1].seq, now, true)
    return true
  }
  // Messages that waited behind the login batch, or redelivered: as the live pushes they were.
  const tail = session.tail!
  for (const m of messages) {
    writeUpstream(session, SharedBody.of(m.text, sharedProperties(m.properties)).frameFor(tail), m.seq, now, true)
  }
  return true
}
