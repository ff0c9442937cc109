/**
 * Loaded with `node --require` (through NODE_OPTIONS, where --cpu-prof is not allowed) into
 * every process of a profiled stack: profiles the whole process life with the V8 sampler and
 * writes `CPU.<time>.<pid>.0.001.cpuprofile` into $ASSAY_BENCH_PROFILE_DIR when it exits.
 * The in-thread inspector session answers synchronously, so this works inside 'exit'.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.ASSAY_BENCH_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  let written = false;
  process.on('exit', () => {
    if (written) return;
    written = true;
    session.post('Profiler.stop', (error, result) => {
      if (error || !result) return;
      try {
        writeFileSync(join(dir, `CPU.${Date.now()}.${process.pid}.0.001.cpuprofile`), JSON.stringify(result.profile));
      } catch {
        // Profiling is best effort: never change how the process exits.
      }
    });
  });
}
