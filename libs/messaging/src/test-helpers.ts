import { createEvent, type AnyEnvelope } from '@assay/contracts';

/** Test fixtures shared by the messaging integration tests (not exported from the lib). */

/** A small valid event (a config-stage experiment.failed) on `stream`; `error` tells messages apart. */
export function failedEvent(stream: string, error: string): AnyEnvelope {
  return createEvent(
    'experiment.failed',
    { requestId: null, identity: null, attempt: null, stage: 'config', error, details: [] },
    { stream, correlationId: 'c', causationId: null, producer: 'test', codeVersion: 'test' },
  );
}
