import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TextSpool } from './text-spool';

describe('TextSpool', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'text-spool-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('given texts put one after another (some multi-byte, one empty), when read back by their extents in any order, then each comes back as put', async () => {
    const spool = await TextSpool.create(dir);
    const texts = ['{"group":"a"}', 'é—ü 🙂 prefix\n', '', 'x'.repeat(100_000)];
    const extents = [];
    for (const t of texts) extents.push(await spool.put(t));
    expect(extents[1]).toEqual({ offset: 13, length: Buffer.byteLength(texts[1]) });
    expect(extents[3]).toEqual({ offset: texts.slice(0, 3).reduce((n, t) => n + Buffer.byteLength(t), 0), length: 100_000 });
    expect(await spool.get(extents[3])).toBe(texts[3]);
    expect(spool.getSync(extents[1])).toBe(texts[1]);
    expect(await spool.get(extents[2])).toBe('');
    expect(spool.getSync(extents[0])).toBe(texts[0]);
    await spool.close();
  });

  it('given texts put with one write beside single puts, when read back, then each comes back as put', async () => {
    const spool = await TextSpool.create(dir);
    const before = await spool.put('first');
    const texts = ['é—ü 🙂', '', '{"x":1}', 'y'.repeat(70_000)];
    const [together, after] = await Promise.all([spool.putAll(texts), spool.put('last')]);
    expect(together.map((e) => e.length)).toEqual(texts.map((t) => Buffer.byteLength(t)));
    for (let i = 0; i < texts.length; i++) expect(await spool.get(together[i])).toBe(texts[i]);
    expect(await spool.get(before)).toBe('first');
    expect(spool.getSync(after)).toBe('last');
    expect(await spool.putAll([])).toEqual([]);
    await spool.close();
  });

  it('given puts that overlap in time, then none overwrites another', async () => {
    const spool = await TextSpool.create(dir);
    const texts = Array.from({ length: 50 }, (_, i) => `${i}:`.padEnd(1000 + i, String.fromCharCode(97 + (i % 26))));
    const extents = await Promise.all(texts.map((t) => spool.put(t)));
    expect(await Promise.all(extents.map((e) => spool.get(e)))).toEqual(texts);
    await spool.close();
  });

  it('given a spool, then its file is gone from the directory at once (a killed process leaves nothing), and a closed spool refuses reads', async () => {
    const spool = await TextSpool.create(dir);
    const extent = await spool.put('kept in the page cache');
    expect(readdirSync(dir)).toEqual([]);
    await spool.close();
    await spool.close();
    expect(() => spool.getSync(extent)).toThrow(/is closed/);
  });

  it('given an extent past what was put, then the read names where the spool ended', async () => {
    const spool = await TextSpool.create(dir);
    await spool.put('abc');
    await expect(spool.get({ offset: 1, length: 10 })).rejects.toThrow(/ended at byte 3 of the text at 1 \(10 bytes\)/);
    await spool.close();
  });
});
