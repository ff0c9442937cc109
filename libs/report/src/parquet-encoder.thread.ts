import { parentPort } from 'node:worker_threads';
import { ParquetFileWriter } from './parquet';
import { serializeError, type FromParquetThread, type ToParquetThread } from './parquet-thread';

/**
 * The parquet encoder's thread (see ParquetThread): the files' ParquetFileWriters live here, so
 * shredding, page encoding, compression, hashing and writing run beside the tree's main thread.
 * Messages are handled one at a time, in the order they came: a file's rows reach it in order.
 */
const files = new Map<number, ParquetFileWriter>();
/** Files that failed: their later messages are dropped, the failure was sent once. */
const failed = new Set<number>();
let queue: Promise<void> = Promise.resolve();

function reply(message: FromParquetThread): void {
  parentPort!.postMessage(message);
}

async function handle(message: ToParquetThread): Promise<void> {
  const { file } = message;
  if (message.kind === 'abort') {
    await files.get(file)?.abort();
    files.delete(file);
    reply({ file, kind: 'aborted' });
    return;
  }
  if (failed.has(file)) return;
  try {
    if (message.kind === 'open') {
      files.set(file, await ParquetFileWriter.open(message.path, message.columns));
      return;
    }
    const writer = files.get(file);
    if (writer === undefined) throw new Error(`parquet thread: file ${file} is not open`);
    if (message.kind === 'rows') {
      for (const row of message.rows) await writer.append(row);
      reply({ file, kind: 'written', bytes: message.bytes });
      return;
    }
    await writer.close();
    files.delete(file);
    reply({ file, kind: 'closed', sha256: writer.sha256() });
  } catch (error) {
    failed.add(file);
    await files.get(file)?.abort();
    files.delete(file);
    reply({ file, kind: 'failed', error: serializeError(error) });
  }
}

parentPort!.on('message', (message: ToParquetThread) => {
  queue = queue.then(() => handle(message));
});
