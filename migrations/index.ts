import { InitEventStore1764000000000 } from './1764000000000-init-event-store';
import { EvaluationRoundIndex1764100000000 } from './1764100000000-evaluation-round-index';
import { CheckpointTransaction1764200000000 } from './1764200000000-checkpoint-transaction';
import { DropCheckpoints1764300000000 } from './1764300000000-drop-checkpoints';
import { PlannedStageKeyIndex1764400000000 } from './1764400000000-planned-stage-key-index';
import { BatchKeyIndex1764500000000 } from './1764500000000-batch-key-index';

/** Listed explicitly (no glob), so the compiled services find them wherever they run. */
export const MIGRATIONS = [InitEventStore1764000000000, EvaluationRoundIndex1764100000000, CheckpointTransaction1764200000000, DropCheckpoints1764300000000, PlannedStageKeyIndex1764400000000, BatchKeyIndex1764500000000];
