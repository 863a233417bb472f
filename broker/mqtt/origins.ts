/**
 * The Origin allow-list of MQTT over WebSocket (`--ws-origins`; docs/security.md, WebSocket
 * Origin). A browser sends the page's Origin with every WebSocket upgrade, so with a list set a
 * web page from elsewhere cannot open an MQTT connection with a visitor's network position.
 * Non-browser clients (devices, MQTT.js in Node) send no Origin and are let through: they are
 * not the threat this stops, and their credentials are checked at CONNECT.
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'

/** An origin as browsers send it: scheme://host[:port], lower case, no trailing slash. */
function normalise(origin: string): string {
  return origin.trim().toLowerCase().replace(/\/+$/, '')
}

/** The allowed origins from the comma-separated setting; undefined when empty (any Origin). */
export function parseWsOrigins(setting: string): ReadonlySet<string> | undefined {
  const list = setting.split(',').map(normalise).filter((o) => o !== '')
  return list.length === 0 ? undefined : new Set(list)
}

/** Whether the upgrade may go on: no list, no Origin header, or an Origin on the list. */
export function originAllowed(allowed: ReadonlySet<string> | undefined, req: IncomingMessage): boolean {
  const origin = req.headers.origin
  return allowed === undefined || origin === undefined || allowed.has(normalise(origin))
}

/** Answers a refused upgrade with 403 before any WebSocket (or aedes) sees it, and closes. */
export function refuseUpgrade(socket: Duplex): void {
  const body = 'Origin not allowed\n'
  socket.end(`HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
}
