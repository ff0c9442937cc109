import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { connectJetStream, healthSubject, natsSettings, wireSubject } from '@assay/messaging';

/**
 * `npm run demo`: starts the simulator and the four services (npm run up), runs the sample
 * experiment with `assay run`, prints where the report is, and stops everything again.
 */
const root = join(__dirname, '..', '..');
const SERVICES = ['planner', 'inference-worker', 'evaluator', 'reporter'];

async function waitForServices(timeoutMs: number): Promise<void> {
  const handle = await connectJetStream(natsSettings(), 'assay-demo');
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const answers = await Promise.all(
        SERVICES.map((s) =>
          handle.nc
            .request(wireSubject(handle.settings, healthSubject(s)), '', { timeout: 1000 })
            .then(() => true)
            .catch(() => false),
        ),
      );
      if (answers.every(Boolean)) return;
      if (Date.now() > deadline) throw new Error(`services not ready after ${timeoutMs / 1000} s: ${SERVICES.filter((_, i) => !answers[i]).join(', ')}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await handle.nc.close();
  }
}

async function main(): Promise<number> {
  const up = spawn(process.execPath, [join(root, 'dist/scripts/up.js'), '--workers', '2', '--simulator'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let upOutput = '';
  up.stdout!.on('data', (c: Buffer) => (upOutput += c.toString()));
  up.stderr!.on('data', (c: Buffer) => (upOutput += c.toString()));
  const stopUp = () =>
    new Promise<void>((resolve) => {
      if (up.exitCode !== null) return resolve();
      up.once('exit', () => resolve());
      up.kill('SIGTERM');
    });
  try {
    console.error('starting the simulator and the four services (npm run up -- --workers 2 --simulator) ...');
    await waitForServices(60_000);
    const run = spawn(process.execPath, [join(root, 'bin/assay.js'), 'run', 'configs/experiments/demo.yaml'], { cwd: root, stdio: 'inherit' });
    const code = await new Promise<number>((resolve) => run.on('exit', (c) => resolve(c ?? 1)));
    if (code === 0) console.error('\nthe last line above is the run directory: start with its README.txt, then groups/_index.csv and review.txt');
    return code;
  } catch (error) {
    console.error(`demo failed: ${(error as Error).message}\n--- services' output ---\n${upOutput.slice(-4000)}`);
    return 1;
  } finally {
    await stopUp();
  }
}

main().then((code) => process.exit(code));
