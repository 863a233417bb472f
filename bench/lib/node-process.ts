/**
 * `cim start` as a child process on free loopback ports, for the scenarios that measure it from
 * outside (login, qos): resolves once the route lists its broker. Registrations are not rate
 * limited here, since every scenario registers its users in one burst.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from '../../test/support/servers.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export async function startNodeProcess(extra: string[] = []): Promise<{ url: string; child: ChildProcess; mqttPort: number; cimPort: number }> {
  const [routePort, cimPort, brokerHttpPort, mqttPort, wsPort] = await Promise.all(Array.from({ length: 5 }, () => freePort()))
  // BENCH_PROF=node writes a V8 CPU profile of this process to BENCH_PROF_DIR (as ipc.ts spawn does).
  const prof = (process.env.BENCH_PROF ?? '').split(',').includes('node')
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF_DIR ?? path.join(os.tmpdir(), 'cim-bench-profiles')}`]
    : []
  const child = spawn(process.execPath, [...prof, '--import', 'tsx', 'cli.ts', 'start',
    '--host', '127.0.0.1', '--advertise-host', '127.0.0.1', '--log-level', 'warn', '--registrations-per-address', '0',
    '--route-port', String(routePort), '--cim-port', String(cimPort), '--broker-http-port', String(brokerHttpPort),
    '--mqtt-port', String(mqttPort), '--ws-port', String(wsPort), ...extra], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] })
  const url = `http://127.0.0.1:${routePort}`
  for (const end = Date.now() + 60_000; Date.now() < end; await sleep(100)) {
    const ok = await fetch(`${url}/v1/nodes`).then(async (r) => (await r.json() as { items: unknown[] }).items.length > 0, () => false)
    if (ok) return { url, child, mqttPort, cimPort }
  }
  child.kill('SIGKILL')
  throw new Error('cim start did not come up in 60 s')
}
