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
 * Every stored message to a proto=2 client carries its stream's `epoch`; an inbox read that finds
 * another epoch than the session's (the user's seq counter was lost and began again at 1)
 * restarts the stream and reads the new one from its start. Acks name the epoch they count in,
 * so one made before such a restart removes nothing after it. (docs/protocol.md, "Acks and replay".)
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
 * that is news to the stream, remove it from the inbox — after telling the sinks, when some
 * listen, one push.acked per newly acked message.
 */
export function acked(session: Session, upto: number): void {
  const stream = session.stream!
  const from = stream.ackedSeq
  if (!stream.acked(upto, Date.now())) return
  if (session.server.events.active) {
    void ackWithReceipts(session, from, upto)
    return
  }
  ackInbox(session, upto)
}

function ackInbox(session: Session, upto: number): void {
  // The ack counts in the stream's epoch. A stream that has none (the user had no stream at login,
  // and pushes from a route that predates epochs named none since) checks nothing: its seqs were
  // all written after the login, so they are the inbox's current ones.
  const epoch = session.stream!.epoch
  session.server.adapters.inbox.ack(session.userId, upto, epoch === '' ? undefined : epoch).catch((err) => {
    session.log('warn', { err, upto }, 'inbox ack failed (the messages will be replayed)')
  })
}

/**
 * Emits push.acked for each message in (from, upto]. Their msgIds were remembered as they were
 * written; seqs written on an earlier connection (an ACK that came after a reconnect) are read
 * from the inbox, which holds them until the ack that follows.
 */
async function ackWithReceipts(session: Session, from: number, upto: number): Promise<void> {
  const { events, adapters } = session.server
  const userId = session.userId
  const receipts = session.stream!.takeAcked(upto).filter(([seq]) => seq > from)
  if (receipts.length < upto - from) {
    try {
      const known = new Set(receipts.map(([seq]) => seq))
      for (const m of await adapters.inbox.list(userId, from, upto - from)) {
        if (m.seq <= upto && !known.has(m.seq)) receipts.push([m.seq, m.msgId])
      }
      receipts.sort((a, b) => a[0] - b[0])
    } catch (err) {
      session.log('warn', { err, upto }, 'inbox read for delivery receipts failed (those receipts are not sent)')
    }
  }
  for (const [seq, msgId] of receipts) events.emit({ type: 'push.acked', userId, msgId, seq })
  ackInbox(session, upto)
}

/**
 * Writes one stored message to an upstream client, acking it in the inbox once the socket took it.
 * `fromInbox`: it comes from an inbox read, so the seqs below it that the read did not return are gone.
 * `msgId`: named by its push.acked event, when some sink listens.
 */
export function writeUpstream(session: Session, frame: Buffer, seq: number, now: number, fromInbox = false, msgId?: string): void {
  const stream = session.stream!
  if (msgId !== undefined && session.server.events.active) stream.remember(seq, msgId)
  if (fromInbox) stream.writtenFromInbox(seq, now)
  else stream.written(seq, now)
  // Upstream clients never ACK: a stored message counts as delivered once the socket took it. The
  // ack is cumulative, so it goes only as far as the contiguous run written here (a later seq
  // written before an earlier one's push arrived must not remove the earlier one).
  const upto = stream.sentSeq
  const connId = session.connId
  const epoch = stream.epoch
  session.writeNow(frame, (err) => {
    // `upto` counts in `epoch`: after a restart of the stream it means nothing.
    if (!err && session.connId === connId && stream.epoch === epoch) acked(session, upto)
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
    let epoch = stream.epoch
    let restarts = 0
    // Upstream clients get the login backlog as one OFFLINE frame, so they read it whole.
    const limit = session.proto2 ? REPLAY_PAGE : Infinity
    // The first batch written (not the first read: an epoch restart reads again) is the OFFLINE one.
    let first = true
    for (;;) {
      const messages = await inbox.list(session.userId, from, limit)
      // The session may have closed while the inbox answered.
      if (!alive(session, connId)) return written
      const found = messages.length > 0 ? messages[0].epoch : epoch
      if (stream.epoch !== epoch || found !== epoch) {
        // The user's stream began again under a new epoch (told by a live push meanwhile, or found
        // here): `from` counted in the old one. Read the new stream from its start; a flapping
        // epoch fails this read, and the ack clock brings the sweep back.
        if (++restarts > MAX_EPOCH_RESTARTS) return written
        if (stream.epoch === epoch) stream.restart(found)
        epoch = stream.epoch
        from = stream.sentSeq
        continue
      }
      if (messages.length === 0) break
      const ok = session.proto2
        ? await writeProto2(session, stream, messages, from, connId)
        : await writeUpstreamBatch(session, messages, reason !== 'redeliver' && first, connId)
      first = false
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

/** Epoch changes one inbox read follows before it gives up (each is a Redis that lost the user's counter). */
const MAX_EPOCH_RESTARTS = 3

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
    // A live push of a new epoch restarted the stream while this page was written: the caller re-reads.
    if (m.epoch !== stream.epoch) return true
    const body = SharedBody.of(m.text, sharedProperties(m.properties, { msgId: m.msgId, ts: String(m.ts), prevSeq: String(prev) }))
    const t = Buffer.concat([tail, seqTail(m.seq), stream.epochTail])
    const head = body.prefix(t.length)
    if (!(await paced(session, head.length + t.length, connId))) return false
    if (m.epoch !== stream.epoch) return true
    // An ACK that arrived while waiting may already cover this message.
    if (m.seq > stream.ackedSeq) {
      if (!session.write2(head, t)) return false
      stream.writtenFromInbox(m.seq, Date.now())
      if (session.server.events.active) stream.remember(m.seq, m.msgId)
    }
    prev = m.seq
  }
  return true
}

async function writeUpstreamBatch(session: Session, messages: InboxMessage[], offline: boolean, connId: string): Promise<boolean> {
  const userId = session.userId
  const now = Date.now()
  if (offline) {
    if (session.server.events.active) for (const m of messages) session.stream!.remember(m.seq, m.msgId)
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
    writeUpstream(session, frame, m.seq, Date.now(), true, m.msgId)
  }
  return true
}
