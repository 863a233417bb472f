/**
 * LOGIN_REQUEST (cmd absent = 0): reqMsg is the userName, requestId the userId.
 *
 * Steps: authenticate → claim presence (reject or kick-old) → bind the session → enter the
 * logged-in state (session.ts: LOGIN_REPLY to proto=2 clients — upstream sends no reply; ours
 * carries `ackedSeq`, the inbox floor, so a fresh client process knows which seq comes next — then
 * the frames that arrived meanwhile) → replay the inbox (on every login; upstream fetches offline
 * messages only once at client start).
 */
import type { RequestFrame } from '../../../proto/codec.ts'
import { codedError, isCatalogued } from '../../../errors.ts'
import { isUserGrant } from '../../auth.ts'
import { LOGGING_IN, type Session, type SessionHost } from '../session.ts'
import { catchUp } from '../replay.ts'
import type { PresenceEntry } from '../../../adapters/presence/index.ts'

export async function login(session: Session, frame: RequestFrame): Promise<void> {
  const server = session.server
  const userId = frame.requestId
  const claimedName = frame.reqMsg
  let userName = claimedName
  session.beginLogin(frame.properties.proto === '2')
  let replay = false
  try {
    if (server.loginGate) {
      await server.loginGate
      if (session.state !== LOGGING_IN) return // closed while waiting
    }
    if (server.draining) {
      const err = codedError('Draining', server.brokerId)
      return session.refuseLogin(err.code, err.message, 'info')
    }
    if (!Number.isInteger(userId) || userId <= 0) {
      const err = codedError('InvalidArgument', `login userId ${userId}`)
      return session.refuseLogin(err.code, err.message)
    }
    const decision = await server.auth.authenticateUser({
      userId, userName: claimedName, token: frame.properties.token, remoteAddress: session.socket.remoteAddress,
    })
    if (session.state !== LOGGING_IN) return // closed while waiting
    // The auth webhook may let the user in under another name (docs/security.md, Auth webhook).
    if (isUserGrant(decision)) userName = decision.userName
    else if (decision !== true) {
      // A hook's string reason means CIM_UNAUTHORIZED; a coded refusal (an expired or revoked
      // token) keeps its code so the client knows to fetch a new token.
      const err = typeof decision === 'string' || !isCatalogued(decision.code)
        ? codedError('Unauthorized', typeof decision === 'string' ? decision : decision.message)
        : decision
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

    // From here on, ending the session releases the presence entry.
    session.bind(userId, connId)
    // Where the user's sequence stands: every seq up to it was acked or expired (in its epoch). Read
    // before the session takes pushes, so the replay below starts exactly there.
    const floor = await server.adapters.inbox.floor(userId)
    if (session.state !== LOGGING_IN) return

    replay = session.enterLoggedIn(floor, userName)
  } catch (err) {
    // An adapter failed (Redis down, ...): refuse this login with a coded error, keep the broker up.
    if (session.state === LOGGING_IN) {
      // Adapters raise CIM_BACKEND_UNAVAILABLE themselves; anything else is wrapped once here.
      const e = err as { code?: unknown; message?: string }
      if (isCatalogued(e.code)) session.refuseLogin(e.code, e.message ?? String(err))
      else {
        const wrapped = codedError('BackendUnavailable', e.message ?? String(err))
        session.refuseLogin(wrapped.code, wrapped.message)
      }
    }
    return
  }

  if (replay) {
    // From where the stream stands after the backlog (an ACK in it may have moved it past the floor).
    // If the read fails, the stream keeps its ack clock running and the sweep comes back.
    await catchUp(session, session.stream!.sentSeq, 'login').catch((err) => {
      session.log('warn', { err }, 'inbox replay failed (retried after the ack timeout)')
    })
  }
}

function isStale(current: PresenceEntry, server: SessionHost, userId: number): boolean {
  if (current.brokerId === server.brokerId) return server.users.get(userId)?.connId !== current.connId
  return !server.adapters.discovery.isListed(current.brokerId)
}
