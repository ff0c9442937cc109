import { z } from 'zod';

/**
 * Holds generation requests so a test can act at a known point instead of sleeping and hoping:
 * let the next `afterRequests` requests through, then keep every later one waiting (unanswered,
 * its connection open) until the test releases them. A test that has seen `held >= 1` knows a
 * worker is blocked mid-batch, having been answered exactly the requests that passed.
 */
export const HoldPlanSchema = z.strictObject({
  /** Requests let through before holding starts. */
  afterRequests: z.int().nonnegative(),
});
export type HoldPlan = z.infer<typeof HoldPlanSchema>;

export interface HoldStatus {
  /** A plan is in force (set and not yet released). */
  active: boolean;
  /** Requests let through since the plan was set. */
  passed: number;
  /** Requests waiting now (those whose client went away are no longer counted). */
  held: number;
}

interface Waiter {
  admit(): void;
}

export class RequestHold {
  private active = false;
  private allowance = 0;
  private passed = 0;
  private readonly waiting = new Set<Waiter>();

  /** Starts holding after `afterRequests` more requests; counters start over. */
  set(plan: HoldPlan): void {
    this.active = true;
    this.allowance = plan.afterRequests;
    this.passed = 0;
  }

  /**
   * Resolves true when the request may run now or once released, false when its client went
   * away while it was held (then it must not run). `onClientGone` registers that callback.
   */
  admit(onClientGone: (callback: () => void) => void): Promise<boolean> {
    if (!this.active || this.passed < this.allowance) {
      if (this.active) this.passed++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const waiter: Waiter = { admit: () => resolve(true) };
      this.waiting.add(waiter);
      onClientGone(() => {
        if (this.waiting.delete(waiter)) resolve(false);
      });
    });
  }

  /** Ends the plan and lets every waiting request run; returns how many. */
  release(): number {
    this.active = false;
    const released = [...this.waiting];
    this.waiting.clear();
    for (const w of released) w.admit();
    return released.length;
  }

  status(): HoldStatus {
    return { active: this.active, passed: this.passed, held: this.waiting.size };
  }
}
