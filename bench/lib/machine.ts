/** Machine facts printed at the top of every run, so figures can be compared across machines. */
import os from 'node:os'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))
    if (m) return `${m[1]} (${os.type()} ${os.release()})`
  } catch { /* not Linux */ }
  return `${os.type()} ${os.release()}`
}

function shell(cmd: string): string {
  try {
    return execFileSync('sh', ['-c', cmd], { encoding: 'utf8' }).trim()
  } catch {
    return '?'
  }
}

export function machineFacts(): Array<[string, string]> {
  const cpus = os.cpus()
  return [
    ['CPU', cpus[0]?.model ?? '?'],
    ['cores', String(os.availableParallelism?.() ?? cpus.length)],
    ['RAM', `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`],
    ['Node', process.version],
    ['OS', osName()],
    ['ulimit -n', shell('ulimit -n')],
    ['ephemeral ports', shell('cat /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null').replace(/\s+/g, '–')],
  ]
}

export function printMachine(): void {
  console.log('Machine')
  for (const [k, v] of machineFacts()) console.log(`  ${k.padEnd(16)}${v}`)
}
