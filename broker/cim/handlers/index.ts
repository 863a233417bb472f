/**
 * One switch over the command of a decoded client frame; one handler file per command (the aedes
 * layout). A frame before login or an unknown command ends the session with a coded error.
 */
import { BaseCommand, type RequestFrame } from '../../../proto/codec.ts'
import { LOGGED_IN, type Session } from '../session.ts'
import { login } from './login.ts'
import { ping } from './ping.ts'
import { ack } from './ack.ts'

export function dispatch(session: Session, frame: RequestFrame): void {
  if (session.state !== LOGGED_IN) {
    if (frame.cmd === BaseCommand.LOGIN_REQUEST) {
      void login(session, frame)
      return
    }
    return session.fail('NotLoggedIn', BaseCommand[frame.cmd] ?? frame.cmd)
  }
  switch (frame.cmd) {
    case BaseCommand.PING:
      return ping(session)
    case BaseCommand.ACK:
      return ack(session, frame)
    case BaseCommand.LOGIN_REQUEST:
      // A connection's user is the one it first logged in as; a repeated identical login is harmless.
      if (frame.requestId === session.userId) return
      return session.fail('InvalidArgument', `connection already logged in as ${session.userId}, not ${frame.requestId}`)
    default:
      return session.fail('UnknownCommand', BaseCommand[frame.cmd] ?? frame.cmd)
  }
}
