import { experimentStream } from '@assay/contracts';
import { lockStream, readTypedStream, VersionConflictError, type EventStore, type Sql, type StreamAppend } from '@assay/event-store';
import { TransientError } from '@assay/messaging';
import { appendInChunks } from '../plan/plan-append';
import { allEvents, concatPages, eventPages, type EventPages } from '../plan/plan-pages';
import { decide, type Decision, type ExperimentCommand, type Need } from './decide';
import { evolve, initialState, type ExperimentState } from './state';

/**
 * Events folded per read. A run's stream holds every batch's request (its entity's ~12 KB prefix
 * on the bench) and answers: read whole, a process seeing a 329k-prompt run for the first time
 * (the reporter at its evaluation, any restarted service) held ~1 GB of rows and parsed events
 * for a state of a few MB.
 */
export const LOAD_PAGE = 256;

/**
 * loadExperiment: the experiment's state, folded from its stream's typed events, a page at a
 * time. Given a state loaded earlier it reads only the events after it (a stream only grows, so
 * an older state is a prefix of the newer one).
 */
export async function loadExperiment(sql: Sql, identity: string, known: ExperimentState = initialState()): Promise<ExperimentState> {
  const stream = experimentStream(identity);
  let state = known;
  for (;;) {
    const page = await readTypedStream(sql, stream, state.version, LOAD_PAGE);
    for (const event of page) {
      // Positions of a stream are 1, 2, 3, ...: a gap would mean the fold missed an event.
      if (event.streamPosition !== state.version + 1n) throw new Error(`${stream}: event at position ${event.streamPosition} follows position ${state.version}; the stream has a gap`);
      state = evolve(state, event);
    }
    if (page.length < LOAD_PAGE) return state;
  }
}

/**
 * The states a process loaded last, by identity, so each load reads only what was appended since
 * (every scored batch would otherwise read the whole stream again). States are immutable (evolve
 * copies what it changes), so concurrent handlers can share them.
 */
export class ExperimentStates {
  private readonly known = new Map<string, ExperimentState>();

  constructor(private readonly capacity = 256) {}

  /** The state loaded last, without reading what was appended since (undefined if none is kept). */
  cached(identity: string): ExperimentState | undefined {
    return this.known.get(identity);
  }

  async load(store: EventStore, identity: string): Promise<ExperimentState> {
    return store.read((sql) => this.loadWith(sql, identity));
  }

  async loadWith(sql: Sql, identity: string): Promise<ExperimentState> {
    const state = await loadExperiment(sql, identity, this.known.get(identity));
    this.keep(identity, state);
    return state;
  }

  /** Keeps a state read from committed events (never one that includes a transaction's own uncommitted appends). */
  keep(identity: string, state: ExperimentState): void {
    const current = this.known.get(identity);
    // Concurrent loads: keep the furthest state.
    if (!current || current.version <= state.version) {
      this.known.delete(identity);
      this.known.set(identity, state);
      if (this.known.size > this.capacity) this.known.delete(this.known.keys().next().value!);
    }
  }
}

/**
 * Supplies what the decider asked for (I/O: the pre-flight, a read of the log, the evaluation),
 * returning the command with it. `sql` is the deciding transaction when the decision holds the
 * stream's lock: reads of the stream go through it, so they see what earlier decisions of the
 * same transaction appended (a group commit).
 */
export type Provide<C extends ExperimentCommand> = (need: Need, command: C, state: ExperimentState, sql?: Sql) => Promise<C>;

export type Decided = Exclude<Decision, { kind: 'need' }>;

/** How often a command is decided again after another writer appended to the stream first, before its message is redelivered later. */
export const MAX_CONFLICT_RETRIES = 10;

/** decide() until it stops asking for inputs, supplying each once. */
export async function decideFully<C extends ExperimentCommand>(command: C, state: ExperimentState, provide: Provide<C>, sql?: Sql): Promise<Decided> {
  let current = command;
  const asked = new Set<string>();
  for (;;) {
    const decision = decide(current, state);
    if (decision.kind !== 'need') return decision;
    if (asked.has(decision.need.input)) throw new Error(`the decider asked for '${decision.need.input}' again after it was supplied`);
    asked.add(decision.need.input);
    current = await provide(decision.need, current, state, sql);
  }
}

/**
 * A consumer's whole job: load the experiment, decide, append with expected = state.version and
 * record the message as handled, in one transaction. When another writer appended to the stream
 * between the load and the append (VersionConflictError), the state is loaded again and the
 * command decided again on it; after MAX_CONFLICT_RETRIES the message goes back to the broker
 * (TransientError: redelivered later), the normal nak path.
 *
 * `lock` takes the stream's lock for the load, the decision and the append: pass it, with the
 * reason, where expected version alone is not enough. An experiment stream has writers whose
 * appends never change a given decision (every worker appends its batch's answers, the evaluator
 * its scores): with a version check alone a decision on a running experiment loses to those
 * unrelated appends again and again (in the e2e test of ten identical requests during a run,
 * requests lost ten decisions in a row). Under the lock the version cannot move, so the expected
 * version holds; inputs the decider asks for are then supplied under the lock, so supply the
 * expensive ones (a pre-flight) before, from a decision on an unlocked load.
 */
export async function handleExperimentCommand<C extends ExperimentCommand>(args: {
  store: EventStore;
  states: ExperimentStates;
  consumer: string;
  messageId: string;
  identity: string;
  command: C;
  provide: Provide<C>;
  /** Appends to other streams that commit with the decision (e.g. the request recorded in its request stream). */
  alsoAppend?: StreamAppend[];
  /** Why this decision holds the stream's lock (see above); absent: expected version only. */
  lock?: string;
  /**
   * Appends the decision's events in chunks of these sizes (appendInChunks: the first at the
   * expected version, each its own transaction), for decisions of hundreds of events (a plan)
   * that workers can start on before the last is written. Not with `lock` nor `alsoAppend`.
   */
  inChunks?: { first: number; max: number };
}): Promise<{ decision: Decided; state: ExperimentState; handled: { duplicate: boolean } }> {
  const { store, states, consumer, messageId, identity, command, provide, inChunks } = args;
  const stream = experimentStream(identity);
  if (inChunks && (args.lock !== undefined || args.alsoAppend)) throw new Error(`${consumer}: a chunked append cannot hold the stream's lock nor append to other streams`);
  const appendsFor = (state: ExperimentState, decision: Decided): StreamAppend[] => appendsOf(stream, state, decision, args.alsoAppend);
  for (let attempt = 1; attempt <= MAX_CONFLICT_RETRIES; attempt++) {
    try {
      if (args.lock !== undefined) {
        const [one] = await decideLockedGroup({ store, states, consumer, identity, alsoAppend: args.alsoAppend, messages: [{ messageId, command, provide }] });
        return one;
      }
      const state = await states.load(store, identity);
      const decision = await decideFully(command, state, provide);
      const events = decision.kind === 'append' ? decisionPages(decision) : eventPages([]);
      const handled =
        inChunks && events.count > 0
          ? await appendInChunks(store, consumer, messageId, stream, chunkedHere(events, stream), inChunks, state.version)
          : await store.handle(consumer, messageId, async () => appendsFor(state, decision));
      return { decision, state, handled };
    } catch (error) {
      if (!(error instanceof VersionConflictError && error.stream === stream)) throw error;
    }
  }
  throw new TransientError(`${consumer}: ${stream} changed under ${MAX_CONFLICT_RETRIES} decisions in a row (message ${messageId}); it is redelivered and decided again`);
}

/** A message of a group commit: its id, its command and the supplier of what its decision asks for. */
export interface GroupedCommand<C extends ExperimentCommand> {
  messageId: string;
  command: C;
  provide: Provide<C>;
}

export type HandledCommand = { decision: Decided; state: ExperimentState; handled: { duplicate: boolean } };

/**
 * handleExperimentCommand with `lock` for several messages of one experiment at once (group
 * commit): one transaction, one lock. For each message in order: its processed-message record
 * (a message handled before, or twice in the group, is skipped), its decision on the state as
 * the decisions before it in the group left it, its events; then one commit. Returns each
 * message's outcome in order; if the transaction fails, every message of it fails (nothing of
 * any is stored) and each is redelivered and decided again. Version conflicts are retried as in
 * handleExperimentCommand.
 */
export async function handleExperimentCommands<C extends ExperimentCommand>(args: {
  store: EventStore;
  states: ExperimentStates;
  consumer: string;
  identity: string;
  messages: readonly GroupedCommand<C>[];
  /** Why these decisions hold the stream's lock (see handleExperimentCommand); a group always does. */
  lock: string;
}): Promise<HandledCommand[]> {
  const stream = experimentStream(args.identity);
  for (let attempt = 1; attempt <= MAX_CONFLICT_RETRIES; attempt++) {
    try {
      return await decideLockedGroup(args);
    } catch (error) {
      if (!(error instanceof VersionConflictError && error.stream === stream)) throw error;
    }
  }
  throw new TransientError(`${args.consumer}: ${stream} changed under ${MAX_CONFLICT_RETRIES} decisions in a row (messages ${args.messages.map((m) => m.messageId).join(', ')}); they are redelivered and decided again`);
}

/** One try of a locked group: lock, load, then decide and append message after message, one commit. */
async function decideLockedGroup<C extends ExperimentCommand>(args: {
  store: EventStore;
  states: ExperimentStates;
  consumer: string;
  identity: string;
  messages: readonly GroupedCommand<C>[];
  alsoAppend?: StreamAppend[];
}): Promise<HandledCommand[]> {
  const { store, states, consumer, identity, messages } = args;
  const stream = experimentStream(identity);
  const decided: Array<{ state: ExperimentState; decision: Decided } | null> = messages.map(() => null);
  // Lock and load once, at the first message not handled before; later messages read on from
  // the state as the decisions before them left it (their appends are visible in the transaction).
  let state: ExperimentState | null = null;
  let appendedInGroup = false;
  const handled = await store.handleEach(
    consumer,
    messages.map((m) => m.messageId),
    async (sql, index) => {
      if (state === null) {
        await lockStream(sql, stream);
        state = await states.loadWith(sql, identity);
      } else if (appendedInGroup) {
        // Not kept in `states`: it includes this transaction's appends, which may yet roll back.
        state = await loadExperiment(sql, identity, state);
      }
      const { command, provide } = messages[index];
      const decision = await decideFully(command, state, provide, sql);
      decided[index] = { state, decision };
      const appends = appendsOf(stream, state, decision, args.alsoAppend);
      if (appends.some((a) => a.stream === stream)) appendedInGroup = true;
      return appends;
    },
  );
  // Committed: the state after the group's last decision is what the next load starts from.
  const last = decided.filter((d) => d !== null).at(-1);
  const after = last && appendedInGroup ? await store.read((sql) => loadExperiment(sql, identity, last.state)) : null;
  if (after) states.keep(identity, after);
  // A redelivery of a handled message decides nothing: report it with the state as it is now.
  const now = decided.some((d) => d === null) ? (after ?? (await states.load(store, identity))) : null;
  return messages.map((_, i): HandledCommand => {
    const d = decided[i];
    return d ? { ...d, handled: handled[i] } : { decision: { kind: 'append', events: [], said: [] }, state: now!, handled: handled[i] };
  });
}

/** The appends of a decision: the experiment stream's at the state's version, other streams' at any version. */
function appendsOf(stream: string, state: ExperimentState, decision: Decided, alsoAppend: StreamAppend[] | undefined): StreamAppend[] {
  const events = decision.kind === 'append' ? [...decision.events, ...(decision.plan ? allEvents(decision.plan) : [])] : [];
  // A decision may answer in another stream (a rejected re-evaluation, in its request's stream): only the experiment stream's append is checked against the state.
  const elsewhere = events.filter((e) => e.stream !== stream);
  const here = events.filter((e) => e.stream === stream);
  return [
    ...(alsoAppend ?? []),
    ...(elsewhere.length > 0 ? [...new Set(elsewhere.map((e) => e.stream))].map((s): StreamAppend => ({ stream: s, expected: 'any', events: elsewhere.filter((e) => e.stream === s) })) : []),
    ...(here.length > 0 ? [{ stream, expected: state.version, events: here }] : []),
  ];
}

/** A decision's events and then its plan's, as pages. */
function decisionPages(decision: Extract<Decided, { kind: 'append' }>): EventPages {
  return decision.plan ? concatPages([eventPages(decision.events), decision.plan]) : eventPages(decision.events);
}

/** The pages, each checked as it is made: a chunked append writes only to the experiment's stream. */
function chunkedHere<E extends { stream: string; type: string }>(events: EventPages<E>, stream: string): EventPages<E> {
  return {
    count: events.count,
    page(start, end) {
      const page = events.page(start, end);
      const elsewhere = page.find((e) => e.stream !== stream);
      if (elsewhere) throw new Error(`a chunked append writes only to ${stream}, but the decision has ${elsewhere.type} for ${elsewhere.stream}`);
      return page;
    },
  };
}
