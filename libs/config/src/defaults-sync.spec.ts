import { PARSE_WARN_UP_TO } from '@assay/evaluation';
import { DEFAULT_PROMPT_TEMPLATES, PLACEHOLDERS } from '@assay/prompting';
import { DEFAULT_MAX_FAILURE_SHARE, DEFAULT_SYSTEM_PROMPT, DEFAULT_USER_PROMPT, PROMPT_PLACEHOLDERS } from './index';

// The config lib copies these instead of importing them (it sits below prompting in the
// dependency graph); this spec is what keeps the copies honest.
describe('prompt defaults', () => {
  it('given the prompting lib, when compared, then the config defaults and placeholders are the same', () => {
    expect({ system: DEFAULT_SYSTEM_PROMPT, user: DEFAULT_USER_PROMPT }).toEqual(DEFAULT_PROMPT_TEMPLATES);
    expect([...PROMPT_PLACEHOLDERS]).toEqual([...PLACEHOLDERS]);
  });
});

describe('inference failure threshold default', () => {
  it('given the review checklist, when compared, then model.max_failure_share defaults to its fail threshold (more than 5% fails)', () => {
    expect(DEFAULT_MAX_FAILURE_SHARE).toBe(PARSE_WARN_UP_TO);
  });
});
