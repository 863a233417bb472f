/** Figures, tables and verdicts: the only things the bench prints. */

/** The p-th percentile (0–100) of values, nearest-rank on a sorted copy. */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return NaN
  const sorted = Float64Array.from(values).sort()
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]
}

/** 1234567.8 → "1,234,568"; digits > 0 keeps that many decimals. */
export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return String(n)
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

export function ratio(ours: number, other: number): number {
  return other > 0 ? ours / other : NaN
}

/** Prints rows as an aligned table (first row = header). */
export function table(rows: Array<Array<string | number>>): void {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)))
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  const line = (r: string[]) => '  ' + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  console.log(line(cells[0]))
  console.log('  ' + widths.map((w) => '-'.repeat(w)).join('  '))
  for (const r of cells.slice(1)) console.log(line(r))
}

export interface Verdict {
  scenario: string
  /** What is measured, e.g. "deliveries/s". */
  what: string
  measured: number
  /** Printed form of the measured figure (defaults to fmt(measured)). */
  shown?: string
  op: '>=' | '<='
  target: number
  targetShown?: string
  met: boolean
  /** A figure with no target: printed instead of the target and met / NOT MET (e.g. "ratio to single node"). */
  info?: string
}

export function verdict(scenario: string, what: string, measured: number, op: '>=' | '<=', target: number, shown?: string, targetShown?: string): Verdict {
  const met = Number.isFinite(measured) && (op === '>=' ? measured >= target : measured <= target)
  return { scenario, what, measured, shown, op, target, targetShown, met }
}

export function verdictLine(v: Verdict): string {
  const m = v.shown ?? fmt(v.measured, Math.abs(v.measured) < 10 ? 2 : 0)
  if (v.info) return `VERDICT ${v.scenario}: ${v.what} = ${m} — ${v.info}`
  const t = v.targetShown ?? fmt(v.target, Math.abs(v.target) < 10 ? 2 : 0)
  return `VERDICT ${v.scenario}: ${v.what} = ${m} (target ${v.op === '>=' ? '≥' : '≤'} ${t}) — ${v.met ? 'met' : 'NOT MET'}`
}

export function printVerdicts(vs: Verdict[]): void {
  for (const v of vs) console.log(verdictLine(v))
}

/** CPU time of a process between two process.cpuUsage() readings, as % of one core over wallMs. */
export function cpuPercent(userMicros: number, systemMicros: number, wallMs: number): number {
  return wallMs > 0 ? ((userMicros + systemMicros) / 1000 / wallMs) * 100 : NaN
}

/** What rateKept reads from an open-loop run (bench/lib/paced-http.ts PacedResult). */
export interface PacedLag {
  sent: number
  late: number
  lateAfterMs: number
  maxLagMs: number
  unsent: number
  maxBacklog: number
}

/** Share of requests an open-loop run may send late (or leave unsent) and still count as at its rate. */
export const LATE_TOLERANCE = 0.001

/**
 * Whether an open-loop sender kept its rate: at most LATE_TOLERANCE (0.1%) of its requests were sent
 * more than lateAfterMs (10 ms, paced-http.ts) after their scheduled time, and as few were due but never sent. A
 * sender that fell behind measured latency at a lower rate than the one announced, and from when it
 * sent rather than when it should have: a latency figure from such a run does not meet a target.
 */
export function rateKept(r: PacedLag): { kept: boolean; text: string } {
  const due = r.sent + r.unsent
  const kept = r.late <= LATE_TOLERANCE * due && r.unsent <= LATE_TOLERANCE * due
  const late = `${fmt(r.late)} of ${fmt(r.sent)} requests (${fmt((100 * r.late) / Math.max(1, due), 2)}%) sent more than ` +
    `${fmt(r.lateAfterMs)} ms after schedule, max lag ${fmt(r.maxLagMs, 1)} ms, ${fmt(r.unsent)} unsent, backlog up to ${fmt(r.maxBacklog)}`
  return { kept, text: kept ? `yes (${late})` : `sender fell behind: ${late} (tolerance ${fmt(LATE_TOLERANCE * 100, 1)}%)` }
}
