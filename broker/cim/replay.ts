/**
 * The at-least-once stream of one connection: stored (qos 1) messages, written in seq order.
 *
 * A session keeps only small numbers (session.ts): `sentSeq` (every stored message up to it was
 * written here or is gone), `maxSeq` (highest seq written), `ackedSeq` (proto=2: the client's
 * cumulative ACK; upstream: what the socket took), `waitingSince` (no ack progress since) and
 * `catchingUp` / `pendingSeq` (an inbox read is in flight; pushes that arrive meanwhile wait).
 *
 * - Login: the session starts at the inbox floor (told to proto=2 clients as LOGIN_REPLY
 *   `ackedSeq`), then replays everything above it. Upstream clients get ONE OFFLINE frame with every
 *   text in batchResMsg and the first message's properties (upstream route's fetchOfflineMsgs),
 *   acked once the socket took it; proto=2 clients get each message as a MESSAGE push with
 *   msgId/seq/ts and ack it themselves.
 * - Live pushes that arrive during a replay wait for it (live seq N never overtakes the replay of
 *   N−1); the replay then reads the inbox again until it has caught up with them.
 * - The broker's sweep redelivers from the inbox (everything above `ackedSeq`) on the same
 *   connection when `ackTimeoutMs` passes without ack progress.
 * Replayed and redelivered messages to proto=2 clients carry `prevSeq`: every seq strictly between
 * it and the message's own seq was acked or expired, so the client need not wait for it.
 */
import { BaseCommand, encodeResponse } from '../../proto/codec.ts'
import type { InboxMessage } from '../../adapters/inbox/index.ts'
import { LOGGED_IN, type Session } from './session.ts'
import { SharedBody, sharedProperties, seqTail } from './frames.ts'

/** Why the inbox is read: the login replay, an ack-timeout redelivery, or fetchOfflineMsgs. */
export type CatchUpReason = 'login' | 'redeliver' | 'fetch'

/** A stored message was written to the session: advance its stream and start the ack clock. */
export function noteWritten(session: Session, seq: number): void {
  if (seq === session.sentSeq + 1) session.sentSeq = seq
  if (seq > session.maxSeq) session.maxSeq = seq
  if (session.waitingSince === 0) session.waitingSince = Date.now()
}

/**
 * Everything up to `upto` arrived (a proto=2 ACK, or an upstream socket that took the frames):
 * remove it from the inbox and restart the ack clock, or stop it when nothing is outstanding.
 */
export function acked(session: Session, upto: number): void {
  if (upto <= session.ackedSeq) return
  session.ackedSeq = upto
  // The client has everything up to `upto`: nothing at or below it needs writing again here.
  if (upto > session.sentSeq) session.sentSeq = upto
  if (upto > session.maxSeq) session.maxSeq = upto
  session.waitingSince = session.maxSeq > upto ? Date.now() : 0
  const userId = session.userId
  session.server.adapters.inbox.ack(userId, upto).catch((err) => {
    session.log('warn', { err, upto }, 'inbox ack failed (the messages will be replayed)')
  })
}

/** Writes one stored message to an upstream client, acking it in the inbox once the socket took it. */
export function writeUpstream(session: Session, frame: Buffer, seq: number): void {
  noteWritten(session, seq)
  // Upstream clients never ACK: a stored message counts as delivered once the socket took it. The
  // ack is cumulative, so it goes only as far as the contiguous run written here (a later seq
  // written before an earlier one's push arrived must not remove the earlier one).
  const upto = session.sentSeq
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
 * meanwhile are not covered. Returns how many messages were written.
 */
export async function catchUp(session: Session, after: number, reason: CatchUpReason): Promise<number> {
  if (session.catchingUp && reason !== 'login') return 0 // the one in flight covers it
  const connId = session.connId
  const inbox = session.server.adapters.inbox
  session.catchingUp = true
  let written = 0
  try {
    let from = after
    for (let round = 0; ; round++) {
      const messages = await inbox.list(session.userId, from)
      // The session may have closed or been replaced while the inbox answered.
      if (!alive(session, connId)) return written
      if (messages.length === 0) break
      const ok = session.proto2
        ? writeProto2(session, messages, from)
        : writeUpstreamBatch(session, messages, reason !== 'redeliver' && round === 0)
      if (!ok) return written
      written += messages.length
      if (session.pendingSeq <= session.sentSeq) break
      from = session.sentSeq
    }
    // Pushes that waited for seqs the inbox no longer holds (acked or expired): nothing to write.
    if (session.pendingSeq > session.sentSeq) session.sentSeq = session.pendingSeq
    if (reason === 'redeliver') session.server.stats.redeliveries += written
    session.server.stats.deliveries += written
    return written
  } finally {
    // Synchronous from the last check on: no push can slip in between.
    if (session.connId === connId) {
      session.catchingUp = false
      // After a redelivery the ack clock starts again; if the inbox held nothing above the ack
      // point, what was outstanding expired and nothing is awaited any more.
      if (reason === 'redeliver') session.waitingSince = written > 0 ? Date.now() : 0
    }
  }
}

function writeProto2(session: Session, messages: InboxMessage[], from: number): boolean {
  const tail = session.tail!
  let prev = from
  for (const m of messages) {
    const body = SharedBody.of(m.text, sharedProperties(m.properties, { msgId: m.msgId, ts: String(m.ts), prevSeq: String(prev) }))
    const t = Buffer.concat([tail, seqTail(m.seq)])
    if (!session.write2(body.prefix(t.length), t)) return false
    // Everything between `prev` and this seq is gone, so the run written here is contiguous.
    if (m.seq > session.sentSeq) session.sentSeq = m.seq
    noteWritten(session, m.seq)
    prev = m.seq
  }
  return true
}

function writeUpstreamBatch(session: Session, messages: InboxMessage[], offline: boolean): boolean {
  const userId = session.userId
  if (offline) {
    const last = messages[messages.length - 1].seq
    // Everything up to `last` not in the batch is gone: the batch completes the run.
    if (last > session.sentSeq) session.sentSeq = last
    writeUpstream(session, encodeResponse({
      cmd: BaseCommand.OFFLINE,
      responseId: userId,
      batchResMsg: messages.map((m) => m.text),
      properties: { ...messages[0].properties, receiveUserId: String(userId) },
    }), last)
    return true
  }
  // Messages that waited behind the login batch, or redelivered: as the live pushes they were.
  const tail = session.tail!
  for (const m of messages) {
    if (m.seq > session.sentSeq) session.sentSeq = m.seq
    writeUpstream(session, SharedBody.of(m.text, sharedProperties(m.properties)).frameFor(tail), m.seq)
  }
  return true
}
