import { InitEventStore1764000000000 } from './1764000000000-init-event-store';

/** Listed explicitly (no glob), so the compiled services find them wherever they run. */
export const MIGRATIONS = [InitEventStore1764000000000];
