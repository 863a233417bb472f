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
 * - A read is written as the socket drains (`paced`): a backlog of any size never trips the
 *   slow-consumer limit (--max-queued-bytes) by itself, and proto=2 reads go a page at a time, so
 *   a replay holds at most one page of messages in memory.
 * Replayed and redelivered messages to proto=2 clients carry `prevSeq`: every seq strictly between
 * it and the message's own seq was acked or expired, so the client need not wait for it.
 * (docs/protocol.md, "Acks and replay".)
 */
import type { Socket } from 'node:net'
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
    // Upstream clients get the login backlog as one OFFLINE frame, so they read it whole.
    const limit = session.proto2 ? REPLAY_PAGE : Infinity
    for (let round = 0; ; round++) {
      const messages = await inbox.list(session.userId, from, limit)
      // The session may have closed while the inbox answered.
      if (!alive(session, connId)) return written
      if (messages.length === 0) break
      const ok = session.proto2
        ? await writeProto2(session, stream, messages, from, connId)
        : await writeUpstreamBatch(session, messages, reason !== 'redeliver' && round === 0, connId)
      if (!ok) return written
      written += messages.length
      // A full page: the inbox may hold more whether or not live pushes waited meanwhile.
      if (messages.length < limit && stream.caughtUp) break
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

/**
 * Messages per inbox read of a proto=2 replay: a replay holds at most this many messages
 * (32 × 64 KiB = 2 MiB at the default frame size), however large the backlog.
 */
const REPLAY_PAGE = 32

/**
 * Waits, when writing `len` more bytes would take the socket's backlog past half of
 * --max-queued-bytes, until the socket drained (the other half stays free for live pushes and
 * broadcasts). Only a backlog at or above the socket's high-water mark is waited on: that is when
 * Node emits 'drain'; below it the write goes ahead, which stays under the limit as long as
 * --max-queued-bytes is at least twice a frame plus 16 KiB. Returns whether the session is still
 * the one the replay writes to.
 */
async function paced(session: Session, len: number, connId: string): Promise<boolean> {
  const socket = session.socket
  const budget = session.server.scheduler.maxQueuedBytes / 2
  if (socket.writableLength + session.queuedBytes + len <= budget) return true
  session.flush()
  if (socket.writableNeedDrain) await drained(socket)
  return alive(session, connId)
}

function drained(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done)
      socket.off('close', done)
      resolve()
    }
    socket.on('drain', done)
    socket.on('close', done)
  })
}

async function writeProto2(session: Session, stream: Stream, messages: InboxMessage[], from: number, connId: string): Promise<boolean> {
  const tail = session.tail!
  let prev = from
  for (const m of messages) {
    const body = SharedBody.of(m.text, sharedProperties(m.properties, { msgId: m.msgId, ts: String(m.ts), prevSeq: String(prev) }))
    const t = Buffer.concat([tail, seqTail(m.seq)])
    const head = body.prefix(t.length)
    if (!(await paced(session, head.length + t.length, connId))) return false
    // An ACK that arrived while waiting may already cover this message.
    if (m.seq > stream.ackedSeq) {
      if (!session.write2(head, t)) return false
      stream.writtenFromInbox(m.seq, Date.now())
    }
    prev = m.seq
  }
  return true
}

async function writeUpstreamBatch(session: Session, messages: InboxMessage[], offline: boolean, connId: string): Promise<boolean> {
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
    const frame = SharedBody.of(m.text, sharedProperties(m.properties)).frameFor(tail)
    if (!(await paced(session, frame.length, connId))) return false
    writeUpstream(session, frame, m.seq, Date.now(), true)
  }
  return true
}
