import { cpuInWindow, cpuLimit, type CpuSample } from './cpu-limit';

const sample = (at: number, pids: CpuSample['pids'], busyS: number, totalS: number): CpuSample => ({ at, pids, machine: { busyS, totalS } });

describe('cpuInWindow', () => {
  it('given samples around a window, when measured, then each group counts its processes from the first sample inside to their last value, including one that exited and one that started inside', () => {
    const samples = [
      sample(0, { '1': { group: 'services', cpuS: 0 } }, 0, 0),
      sample(1000, { '1': { group: 'services', cpuS: 1 }, '2': { group: 'simulators', cpuS: 5 } }, 2, 2),
      sample(2000, { '1': { group: 'services', cpuS: 1.5 }, '2': { group: 'simulators', cpuS: 5.5 }, '3': { group: 'infra', cpuS: 0.25 } }, 3.5, 4),
      // The simulator was killed: its half second before that still counts.
      sample(3000, { '1': { group: 'services', cpuS: 2 }, '3': { group: 'infra', cpuS: 0.5 } }, 5, 6),
      sample(4000, { '1': { group: 'services', cpuS: 9 } }, 9, 8),
    ];
    expect(cpuInWindow(samples, 500, 3500)).toEqual({ seconds: 2, byGroup: { services: 1, simulators: 0.5, infra: 0.5 }, other: 1, cores: 2 });
  });

  it('given fewer than two samples inside the window, then null', () => {
    expect(cpuInWindow([sample(0, {}, 0, 0), sample(5000, {}, 1, 10)], 1000, 4000)).toBeNull();
  });
});

describe('cpuLimit', () => {
  it('given 2 cores, 100 prompts/s at 10 ms of CPU per prompt and a baseline of 50/s, then a ceiling of 200/s = 4x, less with the cores others took', () => {
    const l = cpuLimit({ seconds: 10, byGroup: { services: 5, simulators: 4, infra: 1 }, other: 5, cores: 2 }, 100, 50);
    expect(l.msPerPrompt).toEqual({ services: 5, simulators: 4, infra: 1, total: 10 });
    expect([l.ceilingRate, l.ceilingSpeedup]).toEqual([200, 4]);
    expect([l.ceilingRateLeft, l.ceilingSpeedupLeft]).toEqual([150, 3]);
  });
});
