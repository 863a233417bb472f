/**
 * LOGIN_REQUEST (cmd absent = 0): reqMsg is the userName, requestId the userId.
 *
 * Steps: authenticate → claim presence (reject or kick-old) → bind the session → LOGIN_REPLY to
 * proto=2 clients (upstream sends no reply; ours carries `ackedSeq`, the inbox floor, so a fresh
 * client process knows which seq comes next) → handle frames that arrived meanwhile → replay the
 * inbox (on every login; upstream fetches offline messages only once at client start).
 */
import type { RequestFrame } from '../../../proto/codec.ts'
import { encodeRecipientTail } from '../../../proto/codec.ts'
import { codedError } from '../../../errors.ts'
import { LOGGED_IN, LOGGING_IN, type Session } from '../session.ts'
import { loginReplyFrame } from '../frames.ts'
import { catchUp } from '../replay.ts'
import { dispatch } from './index.ts'
import type { CimServer } from '../server.ts'
import type { PresenceEntry } from '../../../adapters/presence/index.ts'
import { isListed } from '../../../adapters/discovery/listed.ts'

export async function login(session: Session, frame: RequestFrame): Promise<void> {
  const server = session.server
  const userId = frame.requestId
  const userName = frame.reqMsg
  session.proto2 = frame.properties.proto === '2'
  // Frames decoded until the answer wait in the session's (bounded) backlog.
  session.state = LOGGING_IN
  try {
    if (server.draining) {
      const err = codedError('Draining', server.brokerId)
      return session.refuseLogin(err.code, err.message, 'info')
    }
    if (!Number.isInteger(userId) || userId <= 0) {
      const err = codedError('InvalidArgument', `login userId ${userId}`)
      return session.refuseLogin(err.code, err.message)
    }
    const decision = await server.auth.authenticateUser({
      userId, userName, token: frame.properties.token, remoteAddress: session.socket.remoteAddress,
    })
    if (session.state !== LOGGING_IN) return // closed while waiting
    if (decision !== true) {
      const err = codedError('Unauthorized', decision)
      return session.refuseLogin(err.code, err.message)
    }

    const connId = server.newConnId()
    const entry = { id: String(userId), name: userName, brokerId: server.brokerId, connId, since: Date.now() }
    const table = server.adapters.presence.users
    const ttlMs = server.config.presenceTtlMs
    let claim = await table.claim(entry, { replace: server.config.repeatLogin === 'kick-old', ttlMs })
    if (!claim.ok && isStale(claim.current, server, userId)) {
      // Not a repeat login: the entry names a connection of ours that is already gone (its
      // release is still in flight), or a broker that discovery no longer lists (crashed; its
      // entries would otherwise block this user until their TTL ran out).
      claim = await table.claim(entry, { replace: true, ttlMs })
    }
    if (session.state !== LOGGING_IN) {
      if (claim.ok) await table.release(entry.id, connId)
      return
    }
    if (!claim.ok) {
      const err = codedError('RepeatLogin', userId)
      return session.refuseLogin(err.code, `${err.message} (on broker ${claim.current.brokerId})`, 'info')
    }

    // kick-old: close the replaced connection, here or on the broker that holds it.
    const local = server.users.get(userId)
    const replaced = claim.replaced
    const kicked = local !== undefined || replaced !== undefined ? codedError('Kicked', userId) : undefined
    if (kicked && local !== undefined && local !== session) local.end(kicked.code, kicked.message, 'info')
    if (kicked && replaced !== undefined && replaced.brokerId !== server.brokerId && server.kickRemote) {
      server.kickRemote(replaced.brokerId, { userId, connId: replaced.connId, code: kicked.code, reason: kicked.message })
        .catch((err) => session.log('warn', { err, brokerId: replaced.brokerId }, 'remote kick failed'))
    }

    // From here on, ending the session releases the presence entry (server.closed).
    session.userId = userId
    session.connId = connId
    // Where the user's sequence stands: every seq up to it was acked or expired. Read before the
    // session takes pushes, so the replay below starts exactly there.
    const floor = await server.adapters.inbox.floor(userId)
    if (session.state !== LOGGING_IN) return

    session.tail = encodeRecipientTail(userId)
    session.sentSeq = session.maxSeq = session.ackedSeq = floor
    // Stored pushes wait until the replay is written: live seq N never overtakes stored N−1.
    session.catchingUp = true
    session.state = LOGGED_IN
    server.users.set(userId, session)
    server.stats.logins++
    if (session.proto2) session.write(loginReplyFrame(null, 'ok', server.brokerId, server.heartbeatSeconds, floor))
    session.log('info', { userName, proto: session.proto2 ? 2 : 1 }, 'logged in')
    // Frames that arrived during the login, in order, before any later one.
    const backlog = session.backlog
    session.backlog = null
    if (backlog) for (const f of backlog) {
      if (session.state !== LOGGED_IN) break
      try {
        dispatch(session, f)
      } catch (err) {
        session.failWith(err)
      }
    }
  } catch (err) {
    // An adapter failed (Redis down, ...): refuse this login with a coded error, keep the broker up.
    if (session.state === LOGGING_IN) {
      const e = codedError('BackendUnavailable', (err as Error).message)
      session.refuseLogin(e.code, e.message)
    }
    return
  }

  if (session.state === LOGGED_IN) {
    await catchUp(session, session.sentSeq, 'login').catch((err) => {
      session.log('warn', { err }, 'inbox replay failed (retried after the ack timeout)')
      // Nothing was written, but the sweep must still come back for whatever is stored.
      if (session.waitingSince === 0) session.waitingSince = Date.now()
    })
  }
}

function isStale(current: PresenceEntry, server: CimServer, userId: number): boolean {
  if (current.brokerId === server.brokerId) return server.users.get(userId)?.connId !== current.connId
  return !isListed(server.adapters.discovery, current.brokerId)
}
