import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ColumnSpec, ParquetValue } from './parquet';

/**
 * Encodes and writes parquet files on a thread of their own (parquet-encoder.thread), so the
 * tree's main thread only hands rows over: shredding, page encoding, brotli/gzip, hashing and the
 * file writes of raw_outputs.parquet and predictions.parquet were about a fifth of the main
 * thread's time while it wrote a run's final files, and it is the one the tree waits for.
 * The bytes are ParquetFileWriter's, which the thread runs on the same rows in the same order.
 *
 * Rows go over in batches (BATCH_ROWS / BATCH_BYTES) and at most MAX_PENDING_BYTES of them are on
 * their way, so memory stays bounded whatever the run's size. A file's first failure (a required
 * column without a value, ENOSPC) is thrown by its next append() and by close(), with the code,
 * syscall and path of the OS error, so callers classify it as they would in-process.
 */

const BATCH_ROWS = 256;
const BATCH_BYTES = 1 << 20;
const MAX_PENDING_BYTES = 16 << 20;

export type ToParquetThread =
  | { kind: 'open'; file: number; path: string; columns: Record<string, ColumnSpec> }
  | { kind: 'rows'; file: number; rows: Array<Record<string, ParquetValue>>; bytes: number }
  | { kind: 'close'; file: number }
  | { kind: 'abort'; file: number };

export type FromParquetThread =
  | { kind: 'written'; file: number; bytes: number }
  | { kind: 'closed'; file: number; sha256: string }
  | { kind: 'aborted'; file: number }
  | { kind: 'failed'; file: number; error: SerializedError };

/** An Error as it crosses threads: structured cloning keeps only name and message of an Error. */
export interface SerializedError {
  message: string;
  stack?: string;
  code?: string;
  syscall?: string;
  path?: string;
}

export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { message: String(error) };
  const { code, syscall, path } = error as NodeJS.ErrnoException;
  return { message: error.message, stack: error.stack, code, syscall, path };
}

function deserializeError(e: SerializedError): Error {
  const error: NodeJS.ErrnoException = new Error(e.message);
  if (e.stack !== undefined) error.stack = e.stack;
  if (e.code !== undefined) error.code = e.code;
  if (e.syscall !== undefined) error.syscall = e.syscall;
  if (e.path !== undefined) error.path = e.path;
  return error;
}

/** What a parquet file being written offers, in-process (ParquetFileWriter) or on the thread. */
export interface ParquetRowWriter {
  append(row: Record<string, ParquetValue>): Promise<void>;
  close(): Promise<void>;
  /** The sha256 (hex) of the whole file; only after close(). */
  sha256(): string;
  /** Releases the file after a failure elsewhere; never throws. */
  abort(): Promise<void>;
}

/** The compiled thread, beside this module in the build (dist/libs/report/src/). */
const THREAD_SCRIPT = join(__dirname, 'parquet-encoder.thread.js');

export class ParquetThread {
  private readonly worker: Worker;
  private readonly files = new Map<number, ThreadedParquetFile>();
  private nextFile = 1;
  private exitError: Error | null = null;

  /**
   * The thread of the build this module is part of, or null where this module runs from its
   * TypeScript source (Jest), which has no compiled thread beside it: the caller encodes
   * in-process there. The thread's own spec runs it from the build.
   */
  static beside(): ParquetThread | null {
    return __filename.endsWith('.ts') ? null : new ParquetThread(THREAD_SCRIPT);
  }

  constructor(script: string) {
    if (!existsSync(script)) throw new Error(`parquet thread: ${script} does not exist (build the project: npm run build)`);
    this.worker = new Worker(script);
    this.worker.on('message', (message: FromParquetThread) => this.files.get(message.file)?.receive(message));
    this.worker.on('error', (error: Error) => this.stopped(error));
    this.worker.on('exit', (code) => this.stopped(new Error(`parquet thread exited (code ${code})`)));
  }

  open(path: string, columns: Record<string, ColumnSpec>): ThreadedParquetFile {
    if (this.exitError) throw this.exitError;
    const file = this.nextFile++;
    const writer = new ThreadedParquetFile(path, (message) => this.post(message), file);
    this.files.set(file, writer);
    this.post({ kind: 'open', file, path, columns });
    return writer;
  }

  /** Stops the thread; call it once every file is closed or aborted. */
  async terminate(): Promise<void> {
    await this.worker.terminate();
  }

  private post(message: ToParquetThread): void {
    if (this.exitError) throw this.exitError;
    this.worker.postMessage(message);
  }

  private stopped(error: Error): void {
    this.exitError ??= error;
    for (const file of this.files.values()) file.stopped(this.exitError);
  }
}

/** One parquet file written on the ParquetThread: append() batches rows, close() waits for the file and its sha256. */
export class ThreadedParquetFile implements ParquetRowWriter {
  private batch: Array<Record<string, ParquetValue>> = [];
  private batchBytes = 0;
  private pendingBytes = 0;
  private failure: Error | null = null;
  private digest: string | null = null;
  private state: 'open' | 'closing' | 'closed' | 'aborting' | 'aborted' = 'open';
  private wake: (() => void) | null = null;
  private threadGone = false;

  constructor(
    readonly path: string,
    private readonly post: (message: ToParquetThread) => void,
    private readonly file: number,
  ) {}

  async append(row: Record<string, ParquetValue>): Promise<void> {
    this.throwIfFailed();
    if (this.state !== 'open') throw new Error(`${this.path}: append() after close()`);
    this.batch.push(row);
    this.batchBytes += rowBytes(row);
    if (this.batch.length >= BATCH_ROWS || this.batchBytes >= BATCH_BYTES) this.flush();
    while (this.pendingBytes > MAX_PENDING_BYTES && !this.failure) await this.sleep();
    this.throwIfFailed();
  }

  async close(): Promise<void> {
    this.throwIfFailed();
    this.flush();
    this.state = 'closing';
    this.post({ kind: 'close', file: this.file });
    while (this.digest === null && !this.failure) await this.sleep();
    this.throwIfFailed();
    this.state = 'closed';
  }

  sha256(): string {
    this.throwIfFailed();
    if (this.digest === null) throw new Error(`${this.path}: sha256() needs the file closed first`);
    return this.digest;
  }

  async abort(): Promise<void> {
    if (this.state === 'closed' || this.state === 'aborted') return;
    this.batch = [];
    // A thread that is gone cannot be asked to close the file: nothing more can be done here.
    if (this.threadGone) {
      this.state = 'aborted';
      return;
    }
    this.state = 'aborting';
    this.post({ kind: 'abort', file: this.file });
    while (this.state === 'aborting') await this.sleep();
  }

  /** A message of the thread about this file. */
  receive(message: FromParquetThread): void {
    if (message.kind === 'written') this.pendingBytes -= message.bytes;
    else if (message.kind === 'closed') this.digest = message.sha256;
    else if (message.kind === 'aborted') this.state = 'aborted';
    else this.failure ??= deserializeError(message.error);
    this.notify();
  }

  /** The thread stopped: what is not done will not be. */
  stopped(error: Error): void {
    this.threadGone = true;
    if (this.state === 'aborting') this.state = 'aborted';
    else if (this.state !== 'closed' && this.state !== 'aborted') this.failure ??= new Error(`${this.path}: ${error.message}`);
    this.notify();
  }

  private flush(): void {
    if (this.batch.length === 0) return;
    this.post({ kind: 'rows', file: this.file, rows: this.batch, bytes: this.batchBytes });
    this.pendingBytes += this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
  }

  private sleep(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }
}

/** A row's size as it is counted against the batch and in-flight limits: its text, UTF-16 units. */
function rowBytes(row: Record<string, ParquetValue>): number {
  let bytes = 0;
  for (const key in row) {
    const value = row[key];
    bytes += typeof value === 'string' ? value.length : 8;
  }
  return bytes;
}
