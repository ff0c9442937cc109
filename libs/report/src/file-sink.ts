import { Worker } from 'node:worker_threads';
import type { TreeHasher } from './tree-hash';

/**
 * Writes the tree's many small files (~46k for 589 entities x 72 items) on a dedicated worker
 * thread, in order, with synchronous fs calls.
 *
 * Why not a pool of async writes on the main thread: measured on 2 cores, 42k x 12 KB files took
 * 3.6 s with 32 async writeFile in flight against 1.1 s with plain writeFileSync (tmpfs); the
 * per-call cost of fs/promises (FileHandle objects, thread-pool hand-offs, promises) is CPU the
 * main thread needs for rendering and parquet encoding. Sync calls on the main thread would block
 * the reporter's event loop for seconds; on a worker they run beside it on the second core.
 *
 * Operations are batched (BATCH_OPS / BATCH_BYTES) and at most MAX_PENDING_BYTES of content is in
 * flight, so memory stays bounded whatever the tree size. mkdir and write run in submission order,
 * so a file may be queued right after its folder. The first failure (an exception in the worker,
 * e.g. ENOSPC) is rethrown by the next call and by close().
 *
 * The worker hashes each file's bytes as it writes them and sends the sha256 back with the batch's
 * acknowledgement, into the caller's TreeHasher: the tree hash costs no second read of ~35k files.
 *
 * With `reuseFrom` (the tree being replaced, e.g. on a replay), a file whose bytes equal the
 * regular file at the same path there is hard-linked instead of created. Creating a file is the
 * bulk of the tree's cost on the bench machine's ext4 (0.1 to 2 ms per file, varying with the
 * disk's other traffic), reading + comparing + linking 0.03 ms. Safe because nothing modifies a
 * run tree's files in place: the old tree is moved aside and unlinked, which leaves the shared
 * content to the new one. Where hard links are not possible (another filesystem, unsupported) the
 * file is written as usual.
 *
 * With `replaceExisting` (a tree written over the leftovers of a killed attempt at it), each file
 * is unlinked before it is written or linked: a leftover may be a hard link into the tree being
 * replaced, which writing in place would change, and link() refuses an existing target.
 */

const BATCH_OPS = 128;
const BATCH_BYTES = 1 << 20;
const MAX_PENDING_BYTES = 16 << 20;

/**
 * The worker's young generation, in MB. Everything it allocates dies young (a batch's file
 * contents, gone once written), so a small one costs nothing, while V8's default (48 MB for a
 * thread) fills with dead batches between collections and stays committed: on the 10x bench's
 * replay (report-bench build, 357k files) the reporter peaked at 453 and 470 MB with the default,
 * 421 and 419 MB with 8. At 2 the batches outgrew it and were promoted (457 MB).
 */
const WORKER_YOUNG_GENERATION_MB = 8;

/** Paths are relative to the sink's root, '/'-separated. */
type Op = { mkdir: string } | { path: string; data: string };

interface Ack {
  bytes: number;
  /** [relative path, sha256 hex] of each file of the batch. */
  written: Array<[string, string]>;
  /** How many of them were hard-linked from reuseFrom. */
  linked: number;
}

// Plain JS, evaluated in the worker: it must not depend on the TypeScript build.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { closeSync, constants, fstatSync, linkSync, mkdirSync, openSync, readSync, unlinkSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { root, reuseFrom, replaceExisting } = workerData;
// link() failures that mean "not possible here", not "something is wrong".
const NO_LINK = new Set(['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP']);
let canLink = true;

// One read buffer for the old files, grown as needed: no allocation per file.
let readBuffer = Buffer.allocUnsafe(1 << 16);

// The sha256 (hex) of path when it is a regular file (a symlink is not followed), else null.
function sha256OfRegularFile(path) {
  let fd;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    if (error.code === 'ENOENT' || error.code === 'ELOOP' || error.code === 'ENOTDIR' || error.code === 'EISDIR') return null;
    throw error;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return null;
    if (stat.size > readBuffer.length) readBuffer = Buffer.allocUnsafe(2 ** Math.ceil(Math.log2(stat.size)));
    for (let at = 0; at < stat.size; ) {
      const n = readSync(fd, readBuffer, at, stat.size - at, at);
      if (n === 0) return null; // shrank while read: not the same content
      at += n;
    }
    return createHash('sha256').update(readBuffer.subarray(0, stat.size)).digest('hex');
  } finally {
    closeSync(fd);
  }
}

function linked(from, to) {
  try {
    linkSync(from, to);
    return true;
  } catch (error) {
    if (!NO_LINK.has(error.code)) throw error;
    canLink = false;
    return false;
  }
}

parentPort.on('message', (batch) => {
  const written = [];
  let linkedCount = 0;
  for (const op of batch.ops) {
    if (op.mkdir !== undefined) {
      mkdirSync(join(root, op.mkdir), { recursive: true });
      continue;
    }
    // Strings straight to hash and write: encoding them to a Buffer here first cost ~40 MB of
    // peak RSS (a 12 KB Buffer per file for the GC to catch up with).
    const sha256 = createHash('sha256').update(op.data, 'utf8').digest('hex');
    const target = join(root, op.path);
    if (replaceExisting) {
      try {
        unlinkSync(target);
      } catch (error) {
        if (error.code !== 'ENOENT') throw error;
      }
    }
    const old = reuseFrom === null ? null : join(reuseFrom, op.path);
    // Equal sha256 is taken as equal content, as the tree hash itself does.
    if (old !== null && canLink && sha256OfRegularFile(old) === sha256 && linked(old, target)) linkedCount += 1;
    else writeFileSync(target, op.data);
    written.push([op.path, sha256]);
  }
  parentPort.postMessage({ bytes: batch.bytes, written, linked: linkedCount });
});
`;

export class FileSink {
  private readonly worker: Worker;
  private batch: Op[] = [];
  private batchBytes = 0;
  private pendingBytes = 0;
  private pendingBatches = 0;
  private failure: Error | null = null;
  private exited = false;
  private wake: (() => void) | null = null;

  /** Files hard-linked from reuseFrom so far. */
  linkedFiles = 0;

  /** Writes under `root`; each written file's content hash goes to `hasher`. */
  constructor(
    root: string,
    private readonly hasher: TreeHasher,
    reuseFrom: string | null = null,
    opts: { replaceExisting?: boolean } = {},
  ) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { root, reuseFrom, replaceExisting: opts.replaceExisting === true }, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
    this.worker.on('message', ({ bytes, written, linked }: Ack) => {
      this.linkedFiles += linked;
      try {
        for (const [path, sha256] of written) this.hasher.add(path, sha256);
      } catch (error) {
        // A path written twice: the tree would keep only the second content.
        this.failure ??= error as Error;
      }
      this.pendingBytes -= bytes;
      this.pendingBatches -= 1;
      this.notify();
    });
    this.worker.on('error', (error: Error) => {
      this.failure ??= error;
      this.notify();
    });
    this.worker.on('exit', (code) => {
      this.exited = true;
      if (this.pendingBatches > 0) this.failure ??= new Error(`file writer thread exited (code ${code}) with ${this.pendingBatches} batches unwritten`);
      this.notify();
    });
  }

  async mkdir(relPath: string): Promise<void> {
    await this.push({ mkdir: relPath }, 0);
  }

  async write(relPath: string, data: string): Promise<void> {
    await this.push({ path: relPath, data }, data.length);
  }

  /** Waits until everything queued is on disk and its hashes are in the TreeHasher. */
  async drain(): Promise<void> {
    this.flush();
    while (this.pendingBatches > 0 && !this.failure) await this.sleep();
    this.throwIfFailed();
  }

  /** Waits until everything queued is on disk, then stops the thread. */
  async close(): Promise<void> {
    try {
      await this.drain();
    } finally {
      await this.worker.terminate();
    }
  }

  /** Stops the thread after a failure elsewhere; the caller reports that failure, not this one. */
  async abort(): Promise<void> {
    this.batch = [];
    await this.worker.terminate();
  }

  private async push(op: Op, bytes: number): Promise<void> {
    this.throwIfFailed();
    this.batch.push(op);
    this.batchBytes += bytes;
    if (this.batch.length >= BATCH_OPS || this.batchBytes >= BATCH_BYTES) this.flush();
    while (this.pendingBytes > MAX_PENDING_BYTES && !this.failure) await this.sleep();
    this.throwIfFailed();
  }

  private flush(): void {
    if (this.batch.length === 0) return;
    if (this.exited) throw this.failure ?? new Error('file writer thread is not running');
    this.worker.postMessage({ ops: this.batch, bytes: this.batchBytes });
    this.pendingBytes += this.batchBytes;
    this.pendingBatches += 1;
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
