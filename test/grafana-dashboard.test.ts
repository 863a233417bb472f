/**
 * examples/grafana-dashboard.json cannot drift from the metrics: every metric name its queries use
 * is declared in a scrape of a running node, route /metrics plus broker /metrics (README
 * "Operations"), with a webhook configured so the event sinks report too. The README's list of
 * metrics is held to the same scrape.
 */
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNode, type CimNode } from '../node.ts'
import { silentLogger } from './support/config.ts'
import { Receiver } from './support/receiver.ts'

interface Target { expr: string; datasource?: { uid?: string } }
interface Panel { type: string; title: string; datasource?: { type?: string; uid?: string }; targets?: Target[]; panels?: Panel[] }
interface Dashboard { schemaVersion: number; panels: Panel[]; templating: { list: Array<{ name: string; type: string; query: string }> } }

const dashboard = JSON.parse(readFileSync(new URL('../examples/grafana-dashboard.json', import.meta.url), 'utf8')) as Dashboard

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])])
}

/** Metric names in a PromQL expression: our prefixes and prom-client's process ones (functions and labels never match). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b(?:cim|mqtt|broker|process|nodejs)_[a-z0-9_]+\b/g)].map((m) => m[0])
}

/** Every name a scrape declares (`# TYPE`), with a histogram's `_bucket`, `_sum` and `_count` series. */
function declared(scrape: string): Set<string> {
  const names = new Set<string>()
  for (const [, name, type] of scrape.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name)
    if (type === 'histogram' || type === 'summary') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s)
  }
  return names
}

let receiver: Receiver
let node: CimNode
let scrape = ''

beforeAll(async () => {
  receiver = await Receiver.start()
  node = await createNode({
    roles: { broker: true, route: true }, logger: silentLogger,
    settings: {
      host: '127.0.0.1', advertiseHost: '127.0.0.1', routePort: 0, cimPort: 0, brokerHttpPort: 0, mqttPort: 0, wsPort: 0,
      webhookUrl: receiver.url,
    },
  })
  const { routePort, broker } = await node.listen()
  await fetch(`http://127.0.0.1:${routePort}/v1/push/all`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"message":"hi"}' })
  const texts = await Promise.all([routePort, broker!.httpPort].map(async (port) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text()))
  scrape = texts.join('\n')
})
afterAll(async () => {
  await node?.close()
  await receiver?.close()
})

describe('README "Operations" metrics table', () => {
  it('lists only metrics a running route and broker serve, and every cim_ / mqtt_ one they serve', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
    const section = readme.slice(readme.indexOf('### Metrics'), readme.indexOf('### Grafana dashboard'))
    const listed = new Set([...section.matchAll(/^\| ([^|]+) \|/gm)].flatMap((m) => [...m[1].matchAll(/`([a-z0-9_]+)`/g)].map((n) => n[1])))
    expect(listed.size).toBeGreaterThan(30)
    const known = declared(scrape)
    expect([...listed].filter((name) => !known.has(name))).toEqual([])
    const ours = [...scrape.matchAll(/^# TYPE ((?:cim|mqtt|broker)_\S+) /gm)].map((m) => m[1])
    expect(ours.filter((name) => !listed.has(name))).toEqual([])
  })
})

describe('examples/grafana-dashboard.json', () => {
  it('is a Grafana dashboard over a Prometheus datasource variable', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39)
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }))
    for (const p of allPanels(dashboard.panels).filter((p) => p.type !== 'row')) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' })
      expect(p.targets?.length, p.title).toBeGreaterThan(0)
    }
  })

  it('queries only metric names that a running route and broker serve', () => {
    const known = declared(scrape)
    const used = new Set(allPanels(dashboard.panels).flatMap((p) => (p.targets ?? []).flatMap((t) => metricNames(t.expr))))
    expect(used.size).toBeGreaterThan(20)
    expect([...used].filter((name) => !known.has(name))).toEqual([])
    // What the issue asks the dashboard to show.
    for (const name of [
      'cim_route_push_results_total', 'cim_route_http_request_duration_seconds_bucket', 'cim_route_bus_round_trip_seconds_bucket',
      'cim_connections', 'mqtt_connections', 'mqtt_messages_received_total', 'mqtt_messages_sent_total',
      'cim_events_queue_depth', 'cim_events_retries_total', 'cim_events_dead_letters_total', 'cim_inbox_stored_messages',
    ]) expect(used, name).toContain(name)
  })
})
