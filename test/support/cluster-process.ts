/**
 * One child process of a test cluster (test/support/cluster.ts): `node --import tsx cli.ts
 * broker|route`, its settings given as flags, CIM_* variables or a --config file, its output kept
 * for failure messages, started until ready (retried on new ports if one was taken meanwhile),
 * and killed at exit (test/support/servers.ts trackChild).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { settings, type Config } from '../../config.ts'
import { trackChild } from './servers.ts'
import { sleep } from './wait.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** How long a process may take to become ready (tsx startup is ~1-2 s of CPU per process). */
const READY_TIMEOUT_MS = 60_000

/** Config keys and their values, as a test gives them to a process. */
export type Settings = Partial<Record<keyof Config, string | number | boolean>>

/** The environment of a child: ours without CIM_* settings, so nothing leaks in from the shell. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CIM_')) env[k] = v
  env.CIM_LOG_FORMAT = 'json'
  return env
}

/** CLI flags for Config keys, through config.ts's settings table (e.g. redisUrl → --redis). */
function flagsOf(values: Settings): string[] {
  const out: string[] = []
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue
    const setting = settings.find((s) => s.key === key)
    if (!setting?.flag) throw new Error(`unknown setting ${key}, or one with no flag`)
    if (setting.kind === 'boolean') {
      if (value === true || value === 'true') out.push(setting.flag)
      else out.push(`--no-${setting.flag.slice(2)}`)
    } else out.push(setting.flag, String(value))
  }
  return out
}

/** CIM_* environment variables for Config keys (e.g. redisUrl → CIM_REDIS_URL). */
function envOf(values: Settings): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(values)) {
    const name = settings.find((s) => s.key === key)?.env
    if (!name) throw new Error(`unknown setting ${key}, or one with no variable`)
    if (value !== undefined) env[name] = String(value)
  }
  return env
}

/** A command line for `role` carrying `values` the way `via` says. */
export function commandOf(role: 'broker' | 'route', values: Settings, via: 'flags' | 'env' | 'file', dir: string, name: string): Launch {
  if (via === 'flags') return { args: [role, ...flagsOf(values)], env: {} }
  if (via === 'env') return { args: [role], env: envOf(values) }
  const file = join(dir, `${name}.json`)
  writeFileSync(file, JSON.stringify(values, null, 2))
  return { args: [role, '--config', file], env: {} }
}

export interface Launch { args: string[]; env: NodeJS.ProcessEnv }

export class Proc {
  child: ChildProcess | undefined
  private log = ''

  /**
   * `launch()` is read at every start; `repick()` chooses new free ports. A free port found by
   * freePort() can be taken by someone else before the child binds it (many processes share a
   * CI machine), so a start that fails with EADDRINUSE is retried on new ports.
   */
  constructor(
    readonly name: string,
    private readonly launch: () => Launch,
    private readonly ready: () => Promise<boolean>,
    private readonly repick: () => Promise<void>,
  ) {}

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined
  }

  get running(): boolean {
    const c = this.child
    return !!c && c.exitCode === null && c.signalCode === null
  }

  output(): string {
    return this.log
  }

  private append(text: string): void {
    this.log = (this.log + text).slice(-16_384)
  }

  async start(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.startOnce(timeoutMs)
      } catch (err) {
        if (!(err as { portTaken?: boolean }).portTaken || attempt >= 3) throw err
        this.append(`--- ${this.name}: a port was taken; retrying on new ports\n`)
        await this.repick()
      }
    }
  }

  private async startOnce(timeoutMs: number): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`)
    const { args, env } = this.launch()
    // CLUSTER_CPU_PROF_DIR=<dir>: V8 CPU profiles of every process (<dir>/<name>/), written when it exits by
    // SIGTERM (stop()), not SIGKILL (kill(), close()) — for tuning the bench's cluster scenarios.
    const prof = process.env.CLUSTER_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${join(process.env.CLUSTER_CPU_PROF_DIR, this.name)}`] : []
    const child = spawn(process.execPath, [...prof, '--import', 'tsx', 'cli.ts', ...args], {
      cwd: ROOT, env: { ...childEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.child = child
    trackChild(child)
    const shown = Object.entries(env).map(([k, v]) => `${k}=${v} `).join('')
    this.append(`--- ${this.name} started (pid ${child.pid}): ${shown}cim ${args.join(' ')}\n`)
    let out = ''
    const add = (d: Buffer) => { out = (out + d.toString()).slice(-4096); this.append(d.toString()) }
    child.stdout!.on('data', add)
    child.stderr!.on('data', add)
    const exited = new Promise<void>((resolve) => child.once('exit', (code, signal) => {
      this.append(`--- ${this.name} exited (${signal ?? code})\n`)
      resolve()
    }))
    const end = Date.now() + timeoutMs
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        await exited // its last output is in
        const err = new Error(`${this.name} exited during startup:\n${this.log}`)
        throw Object.assign(err, { portTaken: out.includes('EADDRINUSE') })
      }
      if (await this.ready().catch(() => false)) return
      if (Date.now() > end) {
        await this.kill()
        throw new Error(`${this.name} not ready after ${timeoutMs} ms:\n${this.log}`)
      }
      await sleep(50)
    }
  }

  async kill(): Promise<void> {
    const c = this.child
    if (!c || c.exitCode !== null || c.signalCode !== null) return
    const exited = new Promise((r) => c.once('exit', r))
    c.kill('SIGKILL')
    await exited
  }

  async stop(timeoutMs = 15_000): Promise<number | null> {
    const c = this.child
    if (!c || c.exitCode !== null || c.signalCode !== null) return c?.exitCode ?? null
    const exited = new Promise<number | null>((r) => c.once('exit', (code) => r(code)))
    c.kill('SIGTERM')
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs)
    try {
      return await exited
    } finally {
      clearTimeout(timer)
    }
  }
}

export async function answers(url: string): Promise<boolean> {
  return (await fetch(url, { signal: AbortSignal.timeout(1_000) })).ok
}
