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
  /** Internal: `state` is 1 while connecting and -2 once closed; `socket` is the current socket. */
  connectionManager?: { state: number; socket?: Socket }
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
