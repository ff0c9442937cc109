/**
 * The never-NaN guard: every public result passes through it before it is returned, so a
 * NaN/Infinity is a loud bug at its source instead of a silent "NaN" cell in a report.
 */
export function assertAllFinite(value: unknown, label: string): void {
  walk(value, label);
}

function walk(value: unknown, path: string): void {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`non-finite number ${String(value)} at ${path}`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => walk(v, `${path}[${i}]`));
    return;
  }
  if (value instanceof Map) {
    for (const [k, v] of value) walk(v, `${path}.get(${JSON.stringify(k)})`);
    return;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) walk(v, `${path}.${k}`);
  }
}
