import { bearerMatches } from './bearer';
import { contentTypeFor, isInline } from './content-type';
import { identityProblem } from './identity';
import { KeyedLock } from '../keyed-lock';

describe('identityProblem', () => {
  it.each(['1a2b3c4d_8e2ba3cd', '1a2b3c4d_8e2ba3cd-dirty', 'e0223fc9_9744757e-dirty', 'abcdef12_v1.2.3', 'abcdef12_unknown'])('accepts %s', (id) => {
    expect(identityProblem(id)).toBeNull();
  });
  it.each([
    '',
    'abc',
    '1A2B3C4D_x', // upper-case hex
    '1a2b3c4d',
    '1a2b3c4d_',
    '1a2b3c4_x',
    '1a2b3c4dd_x',
    '../../etc',
    '1a2b3c4d_x/..',
    '1a2b3c4d_x y',
    '1a2b3c4d_x\0',
    '1a2b3c4d_x\n',
    `1a2b3c4d_${'x'.repeat(200)}`,
  ])('refuses %j with a message naming the expected shape', (id) => {
    expect(identityProblem(id)).toMatch(/identity must/);
  });
  it('refuses non-strings', () => expect(identityProblem(42)).toMatch(/string/));
});

describe('bearerMatches', () => {
  it('accepts exactly the configured token, scheme case-insensitive', () => {
    expect(bearerMatches('Bearer s3cret', 's3cret')).toBe(true);
    expect(bearerMatches('bearer s3cret', 's3cret')).toBe(true);
    expect(bearerMatches(['Bearer s3cret'], 's3cret')).toBe(true);
  });
  it.each([undefined, '', 'Bearer', 'Bearer ', 's3cret', 'Basic s3cret', 'Bearer s3cre', 'Bearer s3cret2', 'Bearer S3CRET', 'Bearer s3cret extra', 'Bearers3cret'])(
    'refuses %j',
    (header) => {
      expect(bearerMatches(header, 's3cret')).toBe(false);
    },
  );
  it('refuses repeated headers and an empty expected token', () => {
    expect(bearerMatches(['Bearer s3cret', 'Bearer s3cret'], 's3cret')).toBe(false);
    expect(bearerMatches('Bearer ', '')).toBe(false);
    expect(bearerMatches(undefined, '')).toBe(false);
  });
});

describe('contentTypeFor', () => {
  it.each([
    ['README.txt', 'text/plain; charset=utf-8'],
    ['logs/planner.log', 'text/plain; charset=utf-8'],
    ['groups/_index.csv', 'text/csv; charset=utf-8'],
    ['metrics.json', 'application/json; charset=utf-8'],
    ['config.yaml', 'text/yaml; charset=utf-8'],
    ['CONFIG.YML', 'text/yaml; charset=utf-8'],
    ['predictions.parquet', 'application/octet-stream'],
    ['page.html', 'application/octet-stream'],
    ['noext', 'application/octet-stream'],
  ])('%s -> %s', (name, type) => expect(contentTypeFor(name)).toBe(type));
  it('offers opaque files as downloads', () => {
    expect(isInline(contentTypeFor('a.parquet'))).toBe(false);
    expect(isInline(contentTypeFor('a.csv'))).toBe(true);
  });
});

describe('KeyedLock', () => {
  const tick = () => new Promise((r) => setTimeout(r, 5));
  it('runs tasks of one key one at a time, in order, and other keys concurrently', async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const task = (name: string) => async () => {
      log.push(`start ${name}`);
      await tick();
      log.push(`end ${name}`);
      return name;
    };
    const results = await Promise.all([lock.run('a', task('a1')), lock.run('a', task('a2')), lock.run('b', task('b1'))]);
    expect(results).toEqual(['a1', 'a2', 'b1']);
    expect(log.indexOf('end a1')).toBeLessThan(log.indexOf('start a2'));
    expect(log.indexOf('start b1')).toBeLessThan(log.indexOf('end a1'));
    await tick();
    expect(lock.size).toBe(0);
  });
  it('does not let a failure block the next task', async () => {
    const lock = new KeyedLock();
    const failed = lock.run('a', async () => {
      throw new Error('boom');
    });
    const next = lock.run('a', async () => 'ok');
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('ok');
  });
});
