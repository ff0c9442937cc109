import { mulberry32 } from '@assay/data';
import { z } from 'zod';

/**
 * Faults injected into completion/chat requests, so tests can prove the worker retries what is
 * transient, gives up on what is not, and survives servers that hang or drop connections.
 * Counters are consumed in the order ok, drop, hang, 5xx, 4xx; the rate applies after them.
 */
export const FaultPlanSchema = z.strictObject({
  /** The next N requests are answered normally before any fault below applies (a server that dies mid-run). */
  okFirst: z.int().nonnegative().optional(),
  /** The next N requests get 503 (vLLM overloaded / restarting). */
  fail5xxFirst: z.int().nonnegative().optional(),
  /** Each later request gets 503 with this probability, from an RNG seeded with `seed`. */
  fail5xxRate: z.number().min(0).max(1).optional(),
  /** The next N requests are never answered; the socket is held until the client gives up. */
  hangFirst: z.int().nonnegative().optional(),
  /** The next N requests have their socket destroyed without a response. */
  dropFirst: z.int().nonnegative().optional(),
  /** The next N requests get 400 (a non-retryable client error). */
  status4xxFirst: z.int().nonnegative().optional(),
  /**
   * Every request but the /sim/ controls is held unanswered, /health and /v1/models included, as a
   * SIGSTOPped server holds them (its kernel still accepts connections). Held requests stay
   * unanswered after the freeze is lifted; requests after it are answered.
   */
  freeze: z.boolean().optional(),
  /** Seed of the RNG behind fail5xxRate (default 0), so a flaky run can be replayed. */
  seed: z.int().optional(),
});
export type FaultPlan = z.infer<typeof FaultPlanSchema>;

export type FaultAction = 'none' | 'drop' | 'hang' | 'fail5xx' | 'fail4xx';


export class FaultInjector {
  private ok = 0;
  private drop = 0;
  private hang = 0;
  private fail5xx = 0;
  private fail4xx = 0;
  private rate = 0;
  /** Whether the server plays frozen (see FaultPlan.freeze). */
  frozen = false;
  private random: () => number = mulberry32(0);

  constructor(plan: FaultPlan = {}) {
    this.set(plan);
  }

  /** Replaces the whole plan; counters start over from the new values. */
  set(plan: FaultPlan): void {
    const parsed = FaultPlanSchema.safeParse(plan);
    if (!parsed.success) {
      throw new Error(`invalid fault plan: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    }
    const p = parsed.data;
    this.ok = p.okFirst ?? 0;
    this.drop = p.dropFirst ?? 0;
    this.hang = p.hangFirst ?? 0;
    this.fail5xx = p.fail5xxFirst ?? 0;
    this.fail4xx = p.status4xxFirst ?? 0;
    this.rate = p.fail5xxRate ?? 0;
    this.frozen = p.freeze ?? false;
    this.random = mulberry32(p.seed ?? 0);
  }

  /** Decides (and consumes) the fault for the next completion/chat request. */
  next(): FaultAction {
    if (this.ok > 0) {
      this.ok--;
      return 'none';
    }
    if (this.drop > 0) {
      this.drop--;
      return 'drop';
    }
    if (this.hang > 0) {
      this.hang--;
      return 'hang';
    }
    if (this.fail5xx > 0) {
      this.fail5xx--;
      return 'fail5xx';
    }
    if (this.fail4xx > 0) {
      this.fail4xx--;
      return 'fail4xx';
    }
    return this.rate > 0 && this.random() < this.rate ? 'fail5xx' : 'none';
  }
}
