/**
 * The warnings of experiment.started that `assay run` has not said yet: the planner's own (data
 * values outside an item's range, empty values skipped, entities without observations, data
 * changed since the split was drawn) follow the request's, which the CLI said itself.
 */
export function plannerWarnings(started: readonly string[], saidByCli: readonly string[]): string[] {
  const said = new Set(saidByCli);
  return [...new Set(started)].filter((w) => !said.has(w));
}
