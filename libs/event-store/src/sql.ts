import type { QueryRunner } from 'typeorm';

/** The one thing the store's SQL functions need: run a statement inside the caller's transaction. */
export interface Sql {
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
}

export function sqlOf(runner: QueryRunner): Sql {
  return {
    async query<T>(text: string, params: unknown[] = []): Promise<T[]> {
      const result = await runner.query(text, params as unknown[], true);
      return result.records as T[];
    },
  };
}
