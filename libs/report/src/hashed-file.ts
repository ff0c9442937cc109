import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';

/**
 * A file of the tree written as a stream (parquet, the run-wide CSV of every row), not through the
 * FileSink: its bytes are hashed on their way to disk, so the tree hash needs no second read of it
 * and the text never has to be whole in memory. write(chunk, callback) and end(callback) are what
 * parquetjs-lite calls on its output stream; append() and close() are the promise forms.
 */
export class HashedFile {
  private readonly hash: Hash = createHash('sha256');
  private failure: Error | null = null;
  private digest: string | null = null;

  private constructor(
    readonly path: string,
    private readonly file: WriteStream,
  ) {
    // A write error reaches the writer through write()'s callback; it is kept here as well
    // because an 'error' event without a listener would crash the process instead.
    file.on('error', (error) => (this.failure ??= error));
  }

  static async open(path: string): Promise<HashedFile> {
    const file = createWriteStream(path);
    const opened = new HashedFile(path, file);
    await once(file, 'open');
    return opened;
  }

  /**
   * A write error is kept (thrown by the next append() and by close()), not handed to `callback`:
   * parquetjs-lite does not wait for the write of its file header, so an error handed to that
   * write's callback (a file aborted at once, a full disk) would be an unhandled rejection, which
   * ends the process.
   */
  write(chunk: Buffer | string, callback: () => void): boolean {
    this.hash.update(chunk);
    return this.file.write(chunk, (error) => {
      if (error) this.failure ??= error;
      callback();
    });
  }

  end(callback: () => void): WriteStream {
    return this.file.end(() => {
      if (this.failure === null) this.digest = this.hash.digest('hex');
      callback();
    });
  }

  /**
   * Writes `text` (UTF-8); waits only when the stream's buffer is full (a round trip to the disk
   * per call cost the tree seconds at a call per entity). A write error is thrown by close().
   */
  async append(text: string): Promise<void> {
    this.throwIfFailed();
    if (!this.write(text, () => undefined)) await once(this.file, 'drain');
  }

  /** Ends the file; its sha256 (hex) is then sha256(). */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.end(resolve));
    this.throwIfFailed();
  }

  /** The sha256 (hex) of the whole file; only after it ended without error. */
  sha256(): string {
    this.throwIfFailed();
    if (this.digest === null) throw new Error(`${this.path}: sha256() needs the file closed first`);
    return this.digest;
  }

  /**
   * Releases the file handle after a failure elsewhere; the partial file is left for the caller to
   * delete. Never throws: a write still in flight fails with ERR_STREAM_DESTROYED (kept as the
   * failure, so sha256() refuses), and the caller reports the original error, not that one.
   */
  async abort(): Promise<void> {
    if (this.file.closed) return;
    // Not once(file, 'close'): it rejects on the destroyed write's 'error', which comes first.
    const closed = new Promise<void>((resolve) => this.file.once('close', () => resolve()));
    this.file.destroy();
    await closed;
  }

  /** Throws the first write error, if any. */
  throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }
}
