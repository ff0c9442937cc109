import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import * as ts from 'typescript';
import { createDataSource } from './database';

/**
 * The event store owns SQL: the layout of the log and its bookkeeping tables may change in one
 * place (libs/event-store and migrations/) only if nothing else queries them. Dependency-cruiser
 * sees imports, not SQL text, so this spec reads every string literal of the TypeScript sources
 * and fails on SQL that names one of the store's tables, with file:line of each.
 */

const ROOT = join(__dirname, '..', '..', '..');
const SCANNED = ['services', 'libs', 'scripts'];
/** Where SQL on the store's tables belongs; tests and test fixtures may query directly for assertions. */
const ALLOWED = [/^libs\/event-store\//, /^migrations\//, /\.spec\.ts$/, /\/test-helpers\.ts$/, /^libs\/testing\/src\/fixtures\//];

/** Every table the migrations create, plus the migrations' own bookkeeping table. */
function storeTables(): string[] {
  const dir = join(ROOT, 'migrations');
  const created = readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) => [...readFileSync(join(dir, f), 'utf8').matchAll(/\bCREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"?(\w+)"?/gi)].map((m) => m[1]));
  const migrationsTable = createDataSource('postgres://unused/unused').options.migrationsTableName;
  return [...new Set([...created, ...(migrationsTable ? [migrationsTable] : [])])].sort();
}

/**
 * A keyword that takes a table name, then one of the tables (optionally schema-qualified or
 * quoted). Case-insensitive: `select * from events` is SQL too. Only string literals are read, so
 * prose in comments ("reads from events") does not count.
 */
function sqlPattern(tables: string[]): RegExp {
  return new RegExp(`\\b(?:FROM|JOIN|INTO|UPDATE|TABLE|TRUNCATE|ON|COPY|LOCK)\\s+(?:ONLY\\s+)?(?:"?public"?\\.)?"?(${tables.join('|')})"?(?![\\w.-])`, 'gi');
}

interface Offence {
  file: string;
  line: number;
  table: string;
  text: string;
}

/** SQL on the store's tables in the string and template literals of one TypeScript source. */
function sqlOnStoreTables(file: string, source: string, tables: string[]): Offence[] {
  const pattern = sqlPattern(tables);
  // Parsing is the slow part: most files mention no such SQL even in comments.
  if (source.search(pattern) === -1) return [];
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: Offence[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) {
      const start = node.getStart(sf);
      const raw = source.slice(start, node.getEnd());
      for (const m of raw.matchAll(pattern)) {
        const at = sf.getLineAndCharacterOfPosition(start + m.index);
        found.push({ file, line: at.line + 1, table: m[1], text: source.split('\n')[at.line].trim() });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

function sourcesToScan(): string[] {
  return SCANNED.flatMap((top) =>
    (readdirSync(join(ROOT, top), { recursive: true }) as string[])
      .map((p) => relative(ROOT, join(ROOT, top, p)).split(sep).join('/'))
      .filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts') && !/(^|\/)(node_modules|dist)\//.test(p)),
  ).sort();
}

describe('SQL on the event store tables lives only in libs/event-store and migrations/', () => {
  const tables = storeTables();

  it('given the migrations, the checked tables are the ones they create', () => {
    // An empty list would make the check below pass vacuously.
    expect(tables).toEqual(expect.arrayContaining(['dead_letters', 'events', 'outbox', 'processed_messages', 'schema_migrations']));
  });

  it('given SQL in a string or template literal, it is found with its line; prose in comments and other identifiers are not', () => {
    const source = [
      '// reads from events, then JOIN dead_letters in prose',
      "const a = 'SELECT 1 FROM events WHERE stream = $1';",
      'const b = `',
      '  select count(*)',
      '  from public."dead_letters" d join outbox o on o.x = d.y`;',
      "const c = 'nothing FROM events_archive, nor from events.json';",
      'const d = `INSERT INTO processed_messages (${cols}) VALUES ($1)`;',
      "throw new Error('no event in the events table');",
    ].join('\n');
    expect(sqlOnStoreTables('x.ts', source, tables).map((o) => [o.line, o.table])).toEqual([
      [2, 'events'],
      [5, 'dead_letters'],
      [5, 'outbox'],
      [7, 'processed_messages'],
    ]);
  });

  it('given the services, libs and scripts, no file outside the store, the migrations and tests queries those tables', () => {
    const sources = sourcesToScan();
    expect(sources).toEqual(expect.arrayContaining(['services/cli/src/status.command.ts', 'libs/report/src/types.ts', 'scripts/report-bench.ts']));
    const offences = sources
      .filter((file) => !ALLOWED.some((allowed) => allowed.test(file)))
      .flatMap((file) => sqlOnStoreTables(file, readFileSync(join(ROOT, file), 'utf8'), tables));
    const report = offences.map((o) => `${o.file}:${o.line}: SQL on '${o.table}': ${o.text}`);
    // Move the query into libs/event-store as a named function and call that instead.
    expect(report).toEqual([]);
  });
});
