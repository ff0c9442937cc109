import { randomBytes } from 'node:crypto';
import { readSync } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where a text was put in a TextSpool: its bytes' offset and length. */
export interface SpoolExtent {
  offset: number;
  length: number;
}

/**
 * Texts written once to an anonymous temporary file and read back later by their extents: what a
 * reader keeps of a log it reads in one pass but hands on in another order (a run's rows, read in
 * log order, written a group at a time). The file is unlinked as soon as it is open, so nothing is
 * left on disk whatever happens to the process; what it holds lives in the OS's page cache, not in
 * the heap.
 */
export class TextSpool {
  private end = 0;
  private closed = false;

  private constructor(
    private readonly file: FileHandle,
    private readonly path: string,
  ) {}

  /** A new spool in `dir` (the OS's temporary directory unless given). */
  static async create(dir: string = tmpdir()): Promise<TextSpool> {
    const path = join(dir, `assay-spool-${process.pid}-${randomBytes(6).toString('hex')}`);
    const file = await open(path, 'wx+');
    try {
      await unlink(path);
    } catch (error) {
      await file.close();
      throw error;
    }
    return new TextSpool(file, path);
  }

  /** Appends a text; its extent reads it back. */
  put(text: string): Promise<SpoolExtent> {
    return this.putBytes(Buffer.from(text, 'utf8'));
  }

  private async putBytes(bytes: Buffer): Promise<SpoolExtent> {
    this.checkOpen();
    // Reserved before the first await, so puts that overlap in time never overlap on disk.
    const offset = this.end;
    this.end += bytes.length;
    for (let done = 0; done < bytes.length; ) {
      const { bytesWritten } = await this.file.write(bytes, done, bytes.length - done, offset + done);
      done += bytesWritten;
    }
    return { offset, length: bytes.length };
  }

  /** Appends texts with one write; their extents read each back. */
  async putAll(texts: readonly string[]): Promise<SpoolExtent[]> {
    const parts = texts.map((text) => Buffer.from(text, 'utf8'));
    const bytes = Buffer.concat(parts);
    const { offset } = await this.putBytes(bytes);
    const extents: SpoolExtent[] = [];
    let at = offset;
    for (const part of parts) {
      extents.push({ offset: at, length: part.length });
      at += part.length;
    }
    return extents;
  }

  /** A text put before. */
  async get(extent: SpoolExtent): Promise<string> {
    this.checkOpen();
    const buffer = Buffer.allocUnsafe(extent.length);
    for (let done = 0; done < extent.length; ) {
      const { bytesRead } = await this.file.read(buffer, done, extent.length - done, extent.offset + done);
      if (bytesRead === 0) throw this.shortRead(extent, done);
      done += bytesRead;
    }
    return buffer.toString('utf8');
  }

  /** get() without waiting: for a lookup made in the middle of synchronous work (a small text, from the page cache). */
  getSync(extent: SpoolExtent): string {
    this.checkOpen();
    const buffer = Buffer.allocUnsafe(extent.length);
    for (let done = 0; done < extent.length; ) {
      const bytesRead = readSync(this.file.fd, buffer, done, extent.length - done, extent.offset + done);
      if (bytesRead === 0) throw this.shortRead(extent, done);
      done += bytesRead;
    }
    return buffer.toString('utf8');
  }

  /** Frees the file's space; later calls are errors. Closing twice is harmless. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.file.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new Error(`text spool ${this.path} (unlinked) is closed`);
  }

  private shortRead(extent: SpoolExtent, done: number): Error {
    return new Error(`text spool ${this.path} (unlinked) ended at byte ${extent.offset + done} of the text at ${extent.offset} (${extent.length} bytes): nothing was put there`);
  }
}
