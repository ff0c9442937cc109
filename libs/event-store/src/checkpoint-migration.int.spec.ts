import { DataSource } from 'typeorm';
import { InitEventStore1764000000000 } from '../../../migrations/1764000000000-init-event-store';
import { EvaluationRoundIndex1764100000000 } from '../../../migrations/1764100000000-evaluation-round-index';
import { createTestDatabase } from '../../testing/src/fixtures/database';
import { createDataSource, migrate } from './database';

describe('checkpoint migration (real Postgres)', () => {
  let db: { url: string; drop: () => Promise<void> };
  const sources: DataSource[] = [];
  beforeAll(async () => {
    db = await createTestDatabase('assay_checkpoint_migration');
  });
  afterAll(async () => {
    for (const s of sources) if (s.isInitialized) await s.destroy();
    await db?.drop();
  });

  it('given a checkpoint stored as a bare global position, when migrating to (transaction, position) checkpoints, then it refuses and says why; without one it applies, and the next migration drops the table', async () => {
    const before = new DataSource({ type: 'postgres', url: db.url, migrations: [InitEventStore1764000000000, EvaluationRoundIndex1764100000000], migrationsTableName: 'schema_migrations' });
    sources.push(before);
    await before.initialize();
    await before.runMigrations();
    await before.query(`INSERT INTO checkpoints (subscription, position) VALUES ('old-reader', 42)`);

    const now = createDataSource(db.url, 2);
    sources.push(now);
    await now.initialize();
    await expect(migrate(now, db.url)).rejects.toThrow(/checkpoints holds 1 row\(s\) stored as bare global positions.*delete them/);

    await before.query(`DELETE FROM checkpoints`);
    expect(await migrate(now, db.url)).toEqual(['CheckpointTransaction1764200000000', 'DropCheckpoints1764300000000', 'PlannedStageKeyIndex1764400000000', 'BatchKeyIndex1764500000000']);
    expect(await now.query(`SELECT to_regclass('checkpoints') AS t`)).toEqual([{ t: null }]);
  });
});
