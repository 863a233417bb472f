/**
 * broker/cim has no import cycle (type-only imports included): the session reaches the server and
 * the command handlers through SessionHost, the stream imports nothing of the session.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = dirname(fileURLToPath(import.meta.url))

/** Every non-test .ts file under `dir`, as absolute paths. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name)
    if (e.isDirectory()) return sources(p)
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : []
  })
}

/** Relative specifiers of `import … from`, `export … from` and bare `import '…'` statements. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const out: string[] = []
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?(?:from\s*)?['"](\.{1,2}\/[^'"]+)['"]/gm)) {
    out.push(resolve(dirname(file), m[1]))
  }
  return out
}

/** The first cycle in `edges` (file → files it imports), closed (first = last); [] when there is none. */
function findCycle(edges: Map<string, string[]>): string[] {
  const state = new Map<string, 'open' | 'done'>()
  const path: string[] = []
  const visit = (f: string): string[] => {
    if (state.get(f) === 'done') return []
    if (state.get(f) === 'open') return [...path.slice(path.indexOf(f)), f]
    state.set(f, 'open')
    path.push(f)
    for (const t of edges.get(f) ?? []) {
      const cycle = visit(t)
      if (cycle.length > 0) return cycle
    }
    path.pop()
    state.set(f, 'done')
    return []
  }
  for (const f of edges.keys()) {
    const cycle = visit(f)
    if (cycle.length > 0) return cycle
  }
  return []
}

describe('broker/cim imports', () => {
  it('form no cycle', () => {
    const files = sources(root)
    const inside = new Set(files)
    const edges = new Map(files.map((f) => [f, importsOf(f).filter((t) => inside.has(t))]))
    expect(files.length).toBeGreaterThan(5)
    // The walk sees the multi-line and type-only imports too (session.ts imports the stream).
    expect(edges.get(join(root, 'session.ts'))).toContain(join(root, 'stream.ts'))
    expect(findCycle(edges).map((p) => relative(root, p))).toEqual([])
  })

  it('the walk reports a cycle where there is one', () => {
    const edges = new Map([['a', ['b']], ['b', ['c', 'd']], ['c', []], ['d', ['b']]])
    expect(findCycle(edges)).toEqual(['b', 'd', 'b'])
    expect(findCycle(new Map([['a', ['b']], ['b', []]]))).toEqual([])
  })
})
