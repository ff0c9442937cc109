import { parentPort } from 'node:worker_threads';
import { errorMessage } from '@assay/contracts';
import { renderSvg } from '@assay/plots';
import { RunDirectoryReader } from '@assay/report';
import { plotSpec, type MetricByGroup, type PlotName } from './plots';

/**
 * The plot renderer's thread (see PlotRenderer): reads predictions.parquet and draws with vega
 * here, so the reporter's event loop keeps answering pages while a chart of 41K predictions is
 * drawn (on the main thread it held a page for 6 s).
 */
export interface PlotRequest {
  id: number;
  runDir: string;
  name: PlotName;
  byGroup: MetricByGroup[];
}
export type PlotReply = { id: number; svg: string | null } | { id: number; error: string };

const reader = new RunDirectoryReader({ maxRuns: 2, maxTables: 0 });
parentPort?.on('message', (request: PlotRequest) => {
  void (async (): Promise<PlotReply> => {
    try {
      const points = await reader.predictionPoints(request.runDir);
      const spec = points ? plotSpec(request.name, points, request.byGroup) : null;
      return { id: request.id, svg: spec ? await renderSvg(spec) : null };
    } catch (error) {
      return { id: request.id, error: errorMessage(error) };
    }
  })().then((reply) => parentPort!.postMessage(reply));
});
