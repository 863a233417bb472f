/**
 * Parent/child plumbing for the bench: every server and every client fleet is its own Node process
 * (`node --import tsx <file>`), driven over the fork IPC channel with request/reply calls, one-way
 * notifications and events. Keeping clients out of the server's process is what makes the server's
 * CPU and RSS figures mean something.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import os from 'node:os'
import path from 'node:path'

const BENCH_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)))

interface Envelope {
  id?: number
  cmd?: string
  ev?: string
  ok?: boolean
  error?: string
  data?: unknown
}

type Handler = (data: any) => unknown

/** Every process we started and have not seen exit, so an aborted run leaves nothing behind. */
const live = new Set<Proc>()
process.once('exit', () => { for (const p of live) p.kill() })
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    for (const p of live) p.kill()
    process.exit(130)
  })
}

export interface SpawnOptions {
  /** Adds --expose-gc (memory scenarios read RSS after a forced collection). */
  gc?: boolean
  args?: string[]
  env?: NodeJS.ProcessEnv
}

/** A child process seen from the parent. */
export class Proc {
  private seq = 0
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>()
  private readonly handlers = new Map<string, Handler>()
  private exitCode: number | null | undefined
  readonly exited: Promise<void>

  constructor(readonly name: string, readonly child: ChildProcess) {
    live.add(this)
    child.on('message', (raw) => {
      const m = raw as Envelope
      if (m.id !== undefined && m.cmd === undefined) {
        const p = this.pending.get(m.id)
        if (!p) return
        this.pending.delete(m.id)
        if (m.ok) p.resolve(m.data)
        else p.reject(new Error(`${name}: ${m.error}`))
      } else if (m.ev) {
        this.handlers.get(m.ev)?.(m.data)
      }
    })
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        live.delete(this)
        this.exitCode = code
        for (const p of this.pending.values()) p.reject(new Error(`${name} exited (code ${code}, signal ${signal})`))
        this.pending.clear()
        resolve()
      })
    })
  }

  get pid(): number {
    return this.child.pid ?? 0
  }

  /** Calls a handler in the child and resolves with what it returned. */
  call<T = any>(cmd: string, data?: unknown, timeoutMs = 180_000): Promise<T> {
    if (this.exitCode !== undefined) return Promise.reject(new Error(`${this.name} has exited`))
    const id = ++this.seq
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`${this.name}: ${cmd} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v) },
        reject: (e) => { clearTimeout(timer); reject(e) },
      })
      this.child.send({ id, cmd, data } satisfies Envelope)
    })
  }

  /** Fire-and-forget message to a handler in the child (no reply). */
  notify(cmd: string, data?: unknown): void {
    if (this.exitCode === undefined && this.child.connected) this.child.send({ cmd, data } satisfies Envelope)
  }

  /** Listens to an event the child emits. One listener per event name (the last one wins). */
  on(ev: string, fn: Handler): void {
    this.handlers.set(ev, fn)
  }

  off(ev: string): void {
    this.handlers.delete(ev)
  }

  kill(): void {
    if (this.exitCode === undefined) this.child.kill('SIGKILL')
  }

  /** Asks the child to close what it opened and exit; kills it if it does not within 10 s. */
  async stop(): Promise<void> {
    if (this.exitCode !== undefined) return
    const timer = setTimeout(() => this.kill(), 10_000)
    try {
      await this.call('close', undefined, 10_000).catch(() => undefined)
      await this.exited
    } finally {
      clearTimeout(timer)
    }
  }
}

/** Forks `bench/<file>` under tsx and waits for its `ready` event. */
export async function spawn(name: string, file: string, opts: SpawnOptions = {}): Promise<Proc> {
  const execArgv = ['--import', 'tsx']
  if (opts.gc) execArgv.push('--expose-gc')
  // BENCH_PROF=ours,naive writes V8 CPU profiles of those processes to BENCH_PROF_DIR (default
  // $TMPDIR/cim-bench-profiles), for tuning.
  if ((process.env.BENCH_PROF ?? '').split(',').includes(name)) {
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF_DIR ?? path.join(os.tmpdir(), 'cim-bench-profiles')}`)
  }
  const child = fork(path.join(BENCH_DIR, file), opts.args ?? [], {
    execArgv,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const proc = new Proc(name, child)
  await new Promise<void>((resolve, reject) => {
    proc.on('ready', () => resolve())
    proc.exited.then(() => reject(new Error(`${name} exited before it was ready`)))
  })
  return proc
}

/** Stops several processes in parallel. */
export async function stopAll(procs: Array<{ stop(): Promise<void> } | undefined>): Promise<void> {
  await Promise.all(procs.map((p) => p?.stop()))
}

// ---------------------------------------------------------------------------------------------
// Child side

/**
 * Serves calls from the parent. A handler's return value (or rejection) is the reply. A `close`
 * handler, when given, runs before the process exits on the parent's `close` call. The child exits
 * by itself when the parent goes away.
 */
export function serve(handlers: Record<string, Handler>): void {
  process.on('message', async (raw) => {
    const m = raw as Envelope
    if (!m.cmd) return
    const h = handlers[m.cmd]
    if (m.cmd === 'close') {
      try { await h?.(m.data) } catch { /* exiting anyway */ }
      if (m.id !== undefined) process.send!({ id: m.id, ok: true } satisfies Envelope, () => process.exit(0))
      else process.exit(0)
      return
    }
    if (!h) {
      if (m.id !== undefined) process.send!({ id: m.id, ok: false, error: `no handler for ${m.cmd}` } satisfies Envelope)
      return
    }
    try {
      const data = await h(m.data)
      if (m.id !== undefined) process.send!({ id: m.id, ok: true, data } satisfies Envelope)
    } catch (err) {
      const e = err as Error
      if (m.id !== undefined) process.send!({ id: m.id, ok: false, error: e?.stack ?? String(err) } satisfies Envelope)
      else console.error(err)
    }
  })
  process.on('disconnect', () => process.exit(0))
  process.send!({ ev: 'ready' } satisfies Envelope)
}

/** Sends an event to the parent. */
export function emit(ev: string, data?: unknown): void {
  if (process.connected) process.send!({ ev, data } satisfies Envelope)
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now()
}

export { setTimeout as sleep } from 'node:timers/promises'

/** Listens on a free loopback port; answers what a CIM server child reports from `start`. */
export function listenOnLoopback(server: import('node:net').Server): Promise<{ cimPort: number; pid: number }> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    resolve({ cimPort: (server.address() as import('node:net').AddressInfo).port, pid: process.pid })
  }))
}
