import { chooseIdentity } from './identity-prefix';
import { CliError } from './nats-session';

const A = '1a2b3c4d_abc1234';
const B = '1a2b9999_abc1234';

function failure(fn: () => unknown): CliError {
  try {
    fn();
  } catch (error) {
    if (error instanceof CliError) return error;
    throw error;
  }
  throw new Error('expected a CliError');
}

describe('identity prefixes', () => {
  it('given a prefix that begins one identity, names that identity', () => {
    expect(chooseIdentity('1a2b3', [A])).toBe(A);
  });

  it('given a whole identity that also begins another, takes the exact one', () => {
    expect(chooseIdentity(A, [A, `${A}-dirty`])).toBe(A);
  });

  it('given a prefix of several identities, refuses as a usage error listing them', () => {
    const e = failure(() => chooseIdentity('1a2b', [A, B]));
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain(A);
    expect(e.message).toContain(B);
    expect(e.message).toMatch(/ambiguous/);
  });

  it('given a prefix of nothing, says it is not in the registry (exit 1)', () => {
    const e = failure(() => chooseIdentity('ffff', []));
    expect(e.exitCode).toBe(1);
    expect(e.message).toContain("'ffff'");
  });

  it('given an empty prefix, refuses as a usage error instead of matching everything', () => {
    expect(failure(() => chooseIdentity('', [A, B])).exitCode).toBe(2);
  });
});
