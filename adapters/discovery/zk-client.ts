/**
 * The part of node-zookeeper-client (CommonJS, no type declarations) that discovery uses, typed,
 * with the callback API wrapped in promises.
 */
import { createRequire } from 'node:module'
import type { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'

export interface ZkStat { version: number; ephemeralOwner: Buffer }
export interface ZkEvent { type: number; name: string; path: string }
export interface ZkState { name: string; code: number }
export type ZkWatcher = (event: ZkEvent) => void
type Cb<T> = (err: (Error & { code?: number }) | null, value: T, stat?: ZkStat) => void

export interface ZkClient extends EventEmitter {
  connect(): void
  close(): void
  getState(): ZkState
  getSessionId(): Buffer
  getSessionPassword(): Buffer
  getSessionTimeout(): number
  mkdirp(path: string, cb: Cb<string>): void
  create(path: string, data: Buffer, mode: number, cb: Cb<string>): void
  remove(path: string, version: number, cb: Cb<void>): void
  setData(path: string, data: Buffer, version: number, cb: Cb<ZkStat>): void
  getData(path: string, watcher: ZkWatcher, cb: Cb<Buffer | undefined>): void
  getData(path: string, cb: Cb<Buffer | undefined>): void
  getChildren(path: string, watcher: ZkWatcher, cb: Cb<string[]>): void
  exists(path: string, cb: Cb<ZkStat | null>): void
  /**
   * Internal: `state` is 1 while connecting, 2 connected, 0 disconnected, -2 once closed (it emits
   * 'state' on each change); `socket` is the current socket; `zxid` the last zxid seen, sent in
   * every ConnectRequest.
   */
  connectionManager?: EventEmitter & { state: number; socket?: Socket; zxid?: Buffer }
}

export interface ZkClientOptions {
  sessionTimeout?: number
  spinDelay?: number
  retries?: number
  sessionId?: Buffer
  sessionPassword?: Buffer
}

interface ZkModule {
  createClient(connectString: string, options?: ZkClientOptions): ZkClient
  CreateMode: { PERSISTENT: number; EPHEMERAL: number }
  State: { SYNC_CONNECTED: ZkState; DISCONNECTED: ZkState; EXPIRED: ZkState }
  Event: { NODE_CREATED: number; NODE_DELETED: number; NODE_DATA_CHANGED: number; NODE_CHILDREN_CHANGED: number }
  Exception: { NO_NODE: number; NODE_EXISTS: number; CONNECTION_LOSS: number; SESSION_EXPIRED: number }
}

const require = createRequire(import.meta.url)
export const zk = require('node-zookeeper-client') as ZkModule

/** The ZooKeeper error code of an error from this client (undefined for anything else). */
export function zkCode(err: unknown): number | undefined {
  const e = err as { getCode?: () => number } | undefined
  return typeof e?.getCode === 'function' ? e.getCode() : undefined
}

/** Runs one callback-style client call as a promise; resolves [value, stat]. */
export function call<T>(fn: (cb: Cb<T>) => void): Promise<[T, ZkStat | undefined]> {
  return new Promise((resolve, reject) => {
    fn((err, value, stat) => (err ? reject(err) : resolve([value, stat])))
  })
}

/** Closes a client and waits (at most `ms`) until its socket is gone, so nothing keeps the process alive. */
export async function closeClient(client: ZkClient, ms = 2_000): Promise<void> {
  if (client.connectionManager?.state === -2) return // already closed (e.g. after its session expired)
  client.close()
  const end = Date.now() + ms
  while (client.connectionManager && client.connectionManager.state !== -2 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 10))
  }
  // Still not closed (no server answers): drop the socket; a closing client does not reconnect.
  if (client.connectionManager?.state !== -2) client.connectionManager?.socket?.destroy()
}

/**
 * node-zookeeper-client waits forever for the answer to its ConnectRequest once TCP is up. A
 * ZooKeeper 3.8.0 server that receives a connection while it is still starting fails to close it
 * ("ZooKeeperServer not running", then a NullPointerException in NIOServerCnxn.close) and leaves
 * it open and silent, so a client reconnecting after a server restart could hang for good. This
 * destroys a socket stuck in the handshake for `timeoutMs`; the client then reconnects as usual.
 * Returns a function that stops the check.
 */
export function guardHandshake(client: ZkClient, timeoutMs: number, onStuck: () => void = () => {}): () => void {
  let watched: Socket | undefined
  let since = 0
  const timer = setInterval(() => {
    const cm = client.connectionManager
    const socket = cm?.socket
    if (!cm || cm.state !== 1 || !socket || socket.connecting || socket.destroyed) { watched = undefined; return }
    if (socket !== watched) { watched = socket; since = Date.now(); return }
    if (Date.now() - since >= timeoutMs) { socket.destroy(); watched = undefined; onStuck() }
  }, Math.max(50, Math.min(500, timeoutMs / 4)))
  timer.unref()
  return () => clearInterval(timer)
}

const CM_DISCONNECTED = 0
const CM_CONNECTED = 2
/** Longer than a server restarted WITH its data takes to serve after it opens its port. */
const REFUSED_FOR_MS = 1_000

/**
 * A ZooKeeper server that lost its data (restarted empty) refuses a client that has seen a newer
 * zxid than its own: it reads the ConnectRequest and closes the socket without an answer ("client
 * must try another server"), and never says the session expired. node-zookeeper-client retries
 * with the same zxid forever, so the client's registrations would never come back. Once every
 * handshake for `afterMs` has ended that way (TCP up, the request written, nothing read), this
 * forgets the last zxid seen: the next ConnectRequest is accepted, and the server answers that the
 * session expired (or, when it does know the session, resumes it). A server still starting also
 * closes handshakes unanswered; `afterMs` lets that pass first. Returns a function that stops it.
 */
export function forgetZxidWhenRefused(client: ZkClient, onForget: (afterMs: number) => void = () => {}, afterMs = REFUSED_FOR_MS): () => void {
  const cm = client.connectionManager
  if (!cm?.zxid) return () => {}
  let refusedSince = 0
  const onState = (state: number) => {
    if (state === CM_CONNECTED) { refusedSince = 0; return }
    const socket = cm.socket
    if (state !== CM_DISCONNECTED || !socket || socket.bytesWritten === 0 || socket.bytesRead > 0) return
    const now = Date.now()
    if (refusedSince === 0) refusedSince = now
    else if (now - refusedSince >= afterMs) {
      refusedSince = 0
      cm.zxid!.fill(0)
      onForget(afterMs)
    }
  }
  cm.on('state', onState)
  return () => { cm.off('state', onState) }
}
