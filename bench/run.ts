/**
 * `npm run bench` runs every scenario; `npm run bench -- broadcast push` runs the named ones.
 * `BENCH_QUICK=1` shrinks counts and durations for a smoke run (< 60 s; its figures are not the
 * targets' conditions). Servers and clients each run in their own processes (bench/lib/ipc.ts);
 * this process only orchestrates and prints. Exit code 1 only when a scenario failed to run —
 * a target not met is a printed verdict, not an error.
 */
import os from 'node:os'
import { printMachine } from './lib/machine.ts'
import { fmt, verdictLine, type Verdict } from './lib/stats.ts'

export interface ScenarioContext {
  quick: boolean
}
export type Scenario = (ctx: ScenarioContext) => Promise<Verdict[]>

const scenarios: Record<string, { title: string; load: () => Promise<Scenario> }> = {
  broadcast: { title: '(a) broadcast to connected CIM TCP clients', load: async () => (await import('./broadcast.ts')).broadcast },
  push: { title: '(b) REST push to one user', load: async () => (await import('./push.ts')).push },
  mqtt: { title: '(c) MQTT QoS 0 fan-out', load: async () => (await import('./mqtt.ts')).mqtt },
  memory: { title: '(d) resident memory per idle CIM connection', load: async () => (await import('./memory.ts')).memory },
  'cluster-push': { title: 'REST push to online users: 2 brokers + 2 routes vs single node', load: async () => (await import('./cluster.ts')).clusterPush },
  'cluster-broadcast': { title: 'broadcast to CIM clients on 2 brokers vs single node', load: async () => (await import('./cluster.ts')).clusterBroadcast },
  qos: { title: 'qos 1 vs qos 0 REST push to online users', load: async () => (await import('./qos.ts')).qos },
  login: { title: 'logins/s through route + broker, with and without login tokens, and through the cluster', load: async () => (await import('./login.ts')).login },
  batch: { title: 'batch REST push: 100 and 1,000 users per request', load: async () => (await import('./batch.ts')).batch },
  events: { title: 'events: uplink events/s from 1,000 MQTT devices to a webhook receiver; MQTT fan-out with vs without a webhook', load: async () => (await import('./events.ts')).events },
  storm: { title: 'reconnect storm: 10,000 SDK clients move to broker B when A is killed', load: async () => (await import('./storm.ts')).storm },
  heal: { title: 'heal: 10,000 CIM clients on 2 brokers reachable again after Redis restarts empty', load: async () => (await import('./heal.ts')).heal },
}

async function main(): Promise<number> {
  const names = process.argv.slice(2).filter((a) => !a.startsWith('-'))
  const unknown = names.filter((n) => !(n in scenarios))
  if (unknown.length) {
    console.error(`unknown scenario(s): ${unknown.join(', ')}; choose from ${Object.keys(scenarios).join(', ')}`)
    return 2
  }
  const quick = /^(1|true|yes)$/i.test(process.env.BENCH_QUICK ?? '')
  const selected = names.length ? names : Object.keys(scenarios)
  printMachine()
  console.log(`  mode            ${quick ? 'QUICK (BENCH_QUICK=1: small counts, figures are not the targets\' conditions)' : 'full'}`)

  const t0 = Date.now()
  const all: Verdict[] = []
  const failed: string[] = []
  for (const name of selected) {
    const s = scenarios[name]
    console.log(`\n== ${name}: ${s.title} ==`)
    // Figures from a busy machine are not comparable: say how busy it was when the scenario began.
    const load = os.loadavg()[0]
    console.log(`load average (1 min) before: ${load.toFixed(2)}${load > 1 ? ' — other work is running; figures may be depressed' : ''}`)
    const t = Date.now()
    try {
      const verdicts = await (await s.load())({ quick })
      for (const v of verdicts) console.log(verdictLine(v))
      all.push(...verdicts)
    } catch (err) {
      failed.push(name)
      console.error(`!! ${name} failed: ${(err as Error).stack ?? err}`)
    }
    console.log(`  (${name} took ${fmt((Date.now() - t) / 1000, 1)} s)`)
  }

  console.log(`\n== summary (${fmt((Date.now() - t0) / 1000, 1)} s${quick ? ', QUICK mode' : ''}) ==`)
  for (const v of all) console.log(verdictLine(v))
  for (const f of failed) console.log(`FAILED ${f}: the scenario did not complete (see above)`)
  return failed.length ? 1 : 0
}

main().then((code) => process.exit(code), (err) => {
  console.error(err)
  process.exit(1)
})
