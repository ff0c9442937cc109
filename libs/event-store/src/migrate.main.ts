import { databaseUrl, redact } from './database';
import { EventStore } from './event-store';
import { errorMessage } from '@assay/contracts';

/** `npm run migrate`: creates the database if missing and applies pending migrations. */
async function main(): Promise<void> {
  const store = await EventStore.open();
  console.log(`migrations applied on ${redact(databaseUrl())}`);
  await store.close();
}

main().catch((error: unknown) => {
  console.error(`migrate failed: ${errorMessage(error)}`);
  process.exit(1);
});
