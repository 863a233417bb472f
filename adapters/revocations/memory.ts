/** Revocation cut-offs in a Map (one process): `kind:id` → seconds, only ever raised. */
import type { Revocations, TokenSubjectKind } from './index.ts'

export class MemoryRevocations implements Revocations {
  private readonly cutoffs = new Map<string, number>()

  async revoke(kind: TokenSubjectKind, id: string, atSeconds: number): Promise<void> {
    const key = `${kind}:${id}`
    // Keep the latest cut-off: a late or replayed older revocation must not re-admit tokens.
    if (atSeconds > (this.cutoffs.get(key) ?? 0)) this.cutoffs.set(key, atSeconds)
  }

  async revokedAt(kind: TokenSubjectKind, id: string): Promise<number> {
    return this.cutoffs.get(`${kind}:${id}`) ?? 0
  }

  async close(): Promise<void> {
    this.cutoffs.clear()
  }
}
