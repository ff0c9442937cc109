import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** A Vega-Lite chart description (the high-level grammar) or a full Vega spec. */
export type ChartSpec = TopLevelSpec | vega.Spec;

// Text widths decide label layout. With node-canvas installed vega would measure text with it,
// without it vega estimates from character counts: force the estimate so the SVG bytes do not
// depend on which optional native packages a machine happens to have.
// vega exports these two scenegraph controls at run time, but its type declarations omit them.
const scenegraph = vega as unknown as { textMetrics: { canvas(use: boolean): void }; resetSVGDefIds(): void };
scenegraph.textMetrics.canvas(false);

// Gradient and clip ids come from module-wide counters; renders are queued one at a time and
// the counters reset before each, so the same spec always renders to the same bytes.
let queue: Promise<unknown> = Promise.resolve();

// A chart is rendered from the data in its spec only: a spec that names a URL or a file is refused
// before rendering (vega itself would only log a failed load), and the loader refuses too, so a
// render never reaches the network or the disk.
const inlineOnly = vega.loader();
inlineOnly.sanitize = (uri: string) => Promise.reject(new Error(`chart data must be inline (values), not loaded from "${uri}"`));

function isVegaLite(spec: ChartSpec): spec is TopLevelSpec {
  const schema = (spec as { $schema?: unknown }).$schema;
  if (typeof schema === 'string') return schema.includes('vega-lite');
  // Vega-Lite specs have a mark, a composition or a layer at the top; Vega specs have marks.
  return !('marks' in spec);
}

/** The path of the first `url` in a spec (a data source to be loaded), or undefined. */
function findUrl(node: unknown, path: string): string | undefined {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const found = findUrl(node[i], `${path}[${i}]`);
      if (found) return found;
    }
  } else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'url' && typeof value === 'string') return `${path}.url = "${value}"`;
      const found = findUrl(value, `${path}.${key}`);
      if (found) return found;
    }
  }
  return undefined;
}

async function renderNow(spec: ChartSpec): Promise<string> {
  const url = findUrl(spec, 'spec');
  if (url) throw new Error(`chart data must be inline (values), not loaded: ${url}`);
  const vegaSpec = isVegaLite(spec) ? compile(spec).spec : spec;
  scenegraph.resetSVGDefIds();
  // renderer 'none': no DOM, no canvas; toSVG builds the markup from the scenegraph.
  const view = new vega.View(vega.parse(vegaSpec), { renderer: 'none', logLevel: vega.Error, loader: inlineOnly });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Renders a chart to an SVG document in Node, with no browser and no canvas.
 * Deterministic: the same spec gives the same bytes on every call and every machine.
 * The spec must carry its data inline (values), never a URL: nothing is fetched.
 */
export function renderSvg(spec: ChartSpec): Promise<string> {
  const rendered = queue.then(() => renderNow(spec));
  queue = rendered.catch(() => undefined);
  return rendered;
}
