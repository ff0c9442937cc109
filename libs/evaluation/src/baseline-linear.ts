import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import { compareCodeUnits, itemKey } from '@assay/contracts';
import type { ItemDef } from '@assay/contracts';
import { encodedEntities, trainByItem, trainEntityIds, type BaselineAnswer, type BaselineFitter, type BaselinePredictor, type BaselineTrainingData } from './baseline-fit';
import { isPositive } from './metrics';

/**
 * The learned tabular baseline: per item, a linear model of the profile fitted on the train
 * split, on the same train-learnt encoding as kNN (numeric columns z-scored, few-valued text
 * columns one-hot, free text ignored). Ordinal and continuous items: ridge regression, predicted
 * value clipped to the item's range. Binary items: L2-penalised logistic regression, predicting
 * the probability of yes (>= 0.5 counts as yes, as for every method).
 *
 * Ridge is closed form (ml-matrix's Cholesky solve); logistic is Newton's method on a strictly
 * convex objective from zero weights. Train rows are taken in entity-id order, so a fit is a pure
 * function of the train data: the same numbers on every run and machine. The intercept is never
 * penalised.
 */

export const LINEAR_METHOD = 'baseline_linear';
/**
 * The L2 penalty on the (z-scored) feature weights, ridge and logistic alike. Light shrinkage:
 * it keeps a fit defined when one-hot dimensions are collinear or outnumber an item's train
 * answers, and keeps logistic weights finite on separable data, without tuning per item.
 */
export const RIDGE_LAMBDA = 1;
/** A logistic fit stops when no gradient component is larger than this (the optimum)... */
const GRADIENT_TOLERANCE = 1e-8;
/** ...or fails the item (a reason, never a half-fitted model) after this many Newton steps. */
const MAX_NEWTON_STEPS = 100;

interface LinearFit {
  weights: number[];
  metadata: Record<string, unknown>;
}

function dot(a: number[], b: number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** gram + lambda on every diagonal entry but the intercept's (index 0). */
function penalised(gram: Matrix, scale: number): Matrix {
  const a = gram.clone().mul(scale);
  for (let j = 1; j < a.rows; j++) a.set(j, j, a.get(j, j) + RIDGE_LAMBDA);
  return a;
}

function cholesky(a: Matrix): CholeskyDecomposition | null {
  const c = new CholeskyDecomposition(a);
  return c.isPositiveDefinite() ? c : null;
}

function solve(c: CholeskyDecomposition, b: number[]): number[] {
  return c.solve(Matrix.columnVector(b)).to1DArray();
}

function fitRidge(rows: number[][], y: number[], gram: Matrix): LinearFit | string {
  const p = gram.rows;
  const xty = new Array<number>(p).fill(0);
  rows.forEach((r, i) => {
    for (let j = 0; j < p; j++) xty[j] += r[j] * y[i];
  });
  const c = cholesky(penalised(gram, 1));
  if (c === null) return 'ridge system is not positive definite (numerically singular features)';
  return { weights: solve(c, xty), metadata: { model: 'ridge', lambda: RIDGE_LAMBDA } };
}

/** -loglik + lambda/2 * |w without intercept|^2, from the linear scores. */
function logisticObjective(scores: Float64Array, y: number[], w: Float64Array): number {
  let f = 0;
  for (let i = 0; i < y.length; i++) {
    const t = scores[i];
    // log(1 + e^t) without overflow
    const softplus = t > 0 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t));
    f += softplus - y[i] * t;
  }
  let penalty = 0;
  for (let j = 1; j < w.length; j++) penalty += w[j] * w[j];
  return f + (RIDGE_LAMBDA / 2) * penalty;
}

/**
 * Cholesky factorisation L L' of a symmetric positive definite matrix given by its lower triangle
 * (row-major, p x p), in place: the inner loop of every Newton step, so typed arrays rather than
 * ml-matrix's element accessors (about ten times faster at a few hundred dimensions).
 * False when the matrix is not positive definite.
 */
function choleskyInPlace(a: Float64Array, p: number): boolean {
  for (let j = 0; j < p; j++) {
    const rj = j * p;
    let d = a[rj + j];
    for (let k = 0; k < j; k++) d -= a[rj + k] * a[rj + k];
    if (!(d > 0)) return false;
    const ljj = Math.sqrt(d);
    a[rj + j] = ljj;
    for (let i = j + 1; i < p; i++) {
      const ri = i * p;
      let v = a[ri + j];
      for (let k = 0; k < j; k++) v -= a[ri + k] * a[rj + k];
      a[ri + j] = v / ljj;
    }
  }
  return true;
}

/** Solves L L' x = b with the factor from choleskyInPlace. */
function choleskySolve(l: Float64Array, p: number, b: number[]): number[] {
  const z = new Array<number>(p);
  for (let i = 0; i < p; i++) {
    let v = b[i];
    for (let k = 0; k < i; k++) v -= l[i * p + k] * z[k];
    z[i] = v / l[i * p + i];
  }
  const x = new Array<number>(p);
  for (let i = p - 1; i >= 0; i--) {
    let v = z[i];
    for (let k = i + 1; k < p; k++) v -= l[k * p + i] * x[k];
    x[i] = v / l[i * p + i];
  }
  return x;
}

function scoresOf(rows: Float64Array[], w: Float64Array): Float64Array {
  const out = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    let t = 0;
    for (let j = 0; j < r.length; j++) t += r[j] * w[j];
    out[i] = t;
  }
  return out;
}

/**
 * Penalised logistic regression by Newton's method (the Hessian X'WX + lambda formed in place and
 * factored by a typed-array Cholesky) with a backtracking line search, so every step lowers the
 * objective. The objective is strictly convex (the penalty), so the optimum is unique: where it
 * stops does not depend on the path. One class only -> that class, no fit.
 */
function* fitLogistic(rows: number[][], y: number[], p: number): Generator<void, LinearFit | string> {
  if (y.every((v) => v === y[0])) {
    // The unpenalised intercept would run off to infinity: the answer is the one class seen.
    return { weights: new Array<number>(p).fill(0), metadata: { model: 'logistic', lambda: RIDGE_LAMBDA, constant: y[0] } };
  }
  const x = rows.map((r) => Float64Array.from(r));
  const n = x.length;
  const w = new Float64Array(p);
  // Start at the intercept-only optimum (the log-odds of yes): one or two Newton steps fewer.
  const share = y.reduce((a, b) => a + b, 0) / y.length;
  w[0] = Math.log(share / (1 - share));
  let scores = scoresOf(x, w);
  let objective = logisticObjective(scores, y, w);
  const hessian = new Float64Array(p * p);
  for (let step = 1; step <= MAX_NEWTON_STEPS; step++) {
    const gradient = new Array<number>(p).fill(0);
    hessian.fill(0);
    for (let i = 0; i < n; i++) {
      const prob = sigmoid(scores[i]);
      const curvature = prob * (1 - prob);
      const residual = prob - y[i];
      const r = x[i];
      for (let a = 0; a < p; a++) {
        const ra = r[a];
        gradient[a] += ra * residual;
        const wa = ra * curvature;
        if (wa === 0) continue;
        // Lower triangle only: the factorisation reads no other.
        const row = a * p;
        for (let b = 0; b <= a; b++) hessian[row + b] += wa * r[b];
      }
    }
    for (let j = 1; j < p; j++) gradient[j] += RIDGE_LAMBDA * w[j];
    let largest = 0;
    for (let j = 0; j < p; j++) largest = Math.max(largest, Math.abs(gradient[j]));
    if (largest < GRADIENT_TOLERANCE) return { weights: Array.from(w), metadata: { model: 'logistic', lambda: RIDGE_LAMBDA, newtonSteps: step - 1 } };
    for (let j = 1; j < p; j++) hessian[j * p + j] += RIDGE_LAMBDA;
    if (!choleskyInPlace(hessian, p)) return 'logistic Newton system is not positive definite (numerically singular features)';
    const direction = choleskySolve(hessian, p, gradient);
    // Backtracking: halve until the objective decreases enough (Armijo).
    let slope = 0;
    for (let j = 0; j < p; j++) slope -= gradient[j] * direction[j];
    let size = 1;
    for (;;) {
      const trial = new Float64Array(p);
      for (let j = 0; j < p; j++) trial[j] = w[j] - size * direction[j];
      const trialScores = scoresOf(x, trial);
      const trialObjective = logisticObjective(trialScores, y, trial);
      if (trialObjective <= objective + 1e-4 * size * slope) {
        w.set(trial);
        scores = trialScores;
        objective = trialObjective;
        break;
      }
      size /= 2;
      // Only rounding stops the descent this close to the optimum: the fit is as good as it gets.
      if (size < 1e-10) return { weights: Array.from(w), metadata: { model: 'logistic', lambda: RIDGE_LAMBDA, newtonSteps: step } };
    }
    // One Newton step is n*p^2: a turn of the event loop for a yielding caller.
    yield;
  }
  return `logistic fit did not converge in ${MAX_NEWTON_STEPS} Newton steps`;
}

/**
 * The fit, one item per step: a caller on an event loop runs it with fitLinearYielding, which
 * yields between items (an item's logistic fit is tens of milliseconds at a few hundred
 * dimensions; all of them together are seconds).
 */
function* linearSteps({ trainSamples, items, features }: BaselineTrainingData): Generator<void, BaselinePredictor> {
  const trainIds = trainEntityIds(trainSamples);
  const { dims, vectorOf } = encodedEntities(features, trainIds, 'linear baseline');
  yield;
  const rowOf = (entityId: string): number[] => [1, ...vectorOf(entityId)];
  // The Gram matrix of every train entity, computed once; an item's is this minus the rows of
  // the train entities that did not answer it (usually few), not a new product per item.
  const all = new Matrix(trainIds.map(rowOf));
  yield;
  const gramAll = all.transpose().mmul(all);
  yield;
  const byKey = new Map(items.map((it) => [itemKey(it.group, it.item), it]));
  const fits = new Map<string, LinearFit | string>();
  for (const [key, list] of trainByItem(trainSamples)) {
    const item = byKey.get(key);
    if (item === undefined) throw new Error(`no item definition for ${key}`);
    const answers = [...list].sort((a, b) => compareCodeUnits(a.entityId, b.entityId));
    const answered = new Set(answers.map((s) => s.entityId));
    const g = gramAll.to2DArray();
    for (const id of trainIds) {
      if (answered.has(id)) continue;
      const r = rowOf(id);
      for (let i = 0; i < r.length; i++) {
        const gi = g[i];
        for (let j = 0; j < r.length; j++) gi[j] -= r[i] * r[j];
      }
    }
    const gram = new Matrix(g);
    const rows = answers.map((s) => rowOf(s.entityId));
    const fit =
      item.kind === 'binary'
        ? yield* fitLogistic(rows, answers.map((s) => (isPositive(s.actual, item) ? 1 : 0)), gram.rows)
        : fitRidge(rows, answers.map((s) => s.actual), gram);
    fits.set(key, typeof fit === 'string' ? fit : { weights: fit.weights, metadata: { ...fit.metadata, nTrain: answers.length, dimensions: dims.length } });
    yield;
  }
  return {
    predict(entityId: string, item: ItemDef): BaselineAnswer {
      const fit = fits.get(itemKey(item.group, item.item));
      if (fit === undefined) return { error: `no train samples for item ${JSON.stringify(item.item)} in group ${JSON.stringify(item.group)}` };
      if (typeof fit === 'string') return { error: `${fit} for item ${JSON.stringify(item.item)} in group ${JSON.stringify(item.group)}` };
      const score = dot(fit.weights, rowOf(entityId));
      if (item.kind === 'binary') {
        const constant = fit.metadata.constant;
        const probability = typeof constant === 'number' ? constant : sigmoid(score);
        return { value: item.min + probability * (item.max - item.min), metadata: fit.metadata };
      }
      const value = Math.min(item.max, Math.max(item.min, score));
      return { value, metadata: value === score ? fit.metadata : { ...fit.metadata, clippedFrom: score } };
    },
  };
}

export const fitLinear: BaselineFitter = (train) => {
  const steps = linearSteps(train);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
};

/** fitLinear with a turn of the event loop between items: the same numbers, without blocking a service for seconds. */
export async function fitLinearYielding(train: BaselineTrainingData): Promise<BaselinePredictor> {
  const steps = linearSteps(train);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
