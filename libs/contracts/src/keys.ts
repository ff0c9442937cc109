/**
 * The small primitives every lib shares: one total string order and one map key per kind of
 * cell. They live here because every lib already depends on contracts.
 */

/**
 * UTF-16 code-unit order (what Array#sort does without a comparator). Never localeCompare: its
 * result varies with ICU data, so output sorted by it would differ between hosts.
 */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Map key of one (group, item) question; JSON keeps it unambiguous whatever characters ids contain. */
export function itemKey(group: string, item: string): string {
  return JSON.stringify([group, item]);
}

/** Map key of one entity's answers within a group; JSON keeps it unambiguous whatever characters ids contain. */
export function groupEntityKey(group: string, entityId: string): string {
  return JSON.stringify([group, entityId]);
}

/** Map key of one (entity, group, item) cell; JSON keeps it unambiguous whatever characters ids contain. */
export function sampleKey(s: { entityId: string; group: string; item: string }): string {
  return JSON.stringify([s.entityId, s.group, s.item]);
}
