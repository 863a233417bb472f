import type { Account, Accounts } from './index.ts'
import { nextUserId } from './ids.ts'

export class MemoryAccounts implements Accounts {
  private readonly byId = new Map<number, Account>()
  private readonly byName = new Map<string, Account>()
  private lastId = 0

  async register(userName: string): Promise<Account & { created: boolean }> {
    const existing = this.byName.get(userName)
    if (existing) return { ...existing, created: false }
    this.lastId = nextUserId(this.lastId)
    const account = { userId: this.lastId, userName }
    this.byId.set(account.userId, account)
    this.byName.set(userName, account)
    return { ...account, created: true }
  }

  async get(userId: number): Promise<Account | undefined> {
    return this.byId.get(userId)
  }

  async getByName(userName: string): Promise<Account | undefined> {
    return this.byName.get(userName)
  }

  async close(): Promise<void> {}
}
