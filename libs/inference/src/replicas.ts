import { createHash } from 'node:crypto';
import type { ModelCallSettings } from '@assay/contracts';

/**
 * Which replica serves an entity: rendezvous (highest-random-weight) hashing of the entity over
 * the replicas' base URLs. Every worker computes the same order from the same list, so all of an
 * entity's prompts meet its prefix in one server's cache whichever worker runs the batch; when a
 * replica leaves the list (or is down) only its own entities move, each to its next replica.
 */
export function replicaOrder(entityId: string, replicas: readonly string[]): string[] {
  const weight = (replica: string): bigint => createHash('sha256').update(replica).update('\0').update(entityId).digest().readBigUInt64BE(0);
  return replicas
    .map((replica) => ({ replica, weight: weight(replica) }))
    .sort((a, b) => (a.weight === b.weight ? 0 : a.weight > b.weight ? -1 : 1))
    .map((r) => r.replica);
}

export interface ReplicaChoice {
  replica: string;
  /** The entity's preferred replica when it is down and the call fails over; null otherwise. */
  failoverFrom: string | null;
}

/**
 * The first replica of the entity's order that is not down. With every replica down the
 * preferred one is used: there is nowhere better to go, and the call's retries back off.
 */
export function chooseReplica(order: readonly string[], isDown: (replica: string) => boolean): ReplicaChoice {
  const up = order.find((replica) => !isDown(replica));
  if (up === undefined || up === order[0]) return { replica: order[0], failoverFrom: null };
  return { replica: up, failoverFrom: order[0] };
}

/**
 * Whether a failed call says its replica is down: no HTTP answer at all (refused, reset, timed
 * out, or the liveness watch found the server silent). An HTTP error is an answer from a live
 * server and stays with it (its retries deal with a 503).
 */
export function replicaDown(error: { status: number | null }): boolean {
  return error.status === null;
}

/** The servers a worker sends a run's calls to, and where that list came from (for errors). */
export interface WorkerReplicas {
  replicas: string[];
  /** 'ASSAY_MODEL_BASE_URL' when the worker's own endpoint replaced the config's model.base_url. */
  source: 'ASSAY_MODEL_BASE_URL' | 'model.base_url';
}

/**
 * The replicas of a run for this worker: ASSAY_MODEL_BASE_URL (one URL, or several separated by
 * commas), when set, replaces model.base_url for this worker's calls (e.g. the vLLM server on its
 * own GPU node); otherwise the config's list. Which server answered is recorded per call; the
 * experiment's identity does not depend on it.
 */
export function workerReplicas(settings: Pick<ModelCallSettings, 'baseUrl' | 'replicas'>, env: NodeJS.ProcessEnv): WorkerReplicas {
  const raw = env.ASSAY_MODEL_BASE_URL?.trim();
  if (!raw) return { replicas: settings.replicas ?? [settings.baseUrl], source: 'model.base_url' };
  const replicas = raw.split(',').map((u) => u.trim());
  for (const url of replicas) {
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) throw new Error(`ASSAY_MODEL_BASE_URL: '${url}' is not an http(s) URL (expected e.g. http://127.0.0.1:8000/v1, or several separated by commas)`);
  }
  return { replicas, source: 'ASSAY_MODEL_BASE_URL' };
}
