/**
 * PING → pong `{resMsg:"pong", cmd:PING}` (upstream's heartBeat bean). The ping's requestId is
 * ignored: the upstream SDK shares one heartbeat packet between the clients of a process, so it
 * may carry another user's id; a connection stays bound to the user it logged in as.
 */
import type { Session } from '../session.ts'
import { PONG } from '../frames.ts'

export function ping(session: Session): void {
  session.write(PONG)
}
