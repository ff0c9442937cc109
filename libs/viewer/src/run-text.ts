/**
 * Reading the run directory's text files back into parts for the run page: README.txt's sections
 * and review.txt's checklist. Both are written by libs/report in a fixed shape (a title, a dashed
 * underline; one `[VERDICT] check — detail` line per check); anything else is kept as plain text.
 */

export interface ReadmeSection {
  title: string;
  body: string;
}

/** The README sections the run page shows as its key facts, in the README's order. */
export const KEY_SECTIONS = ['PURPOSE', 'SCOPE', 'WARNINGS (read before the results)', 'MODEL', 'KEY RESULTS (test split)', 'PREFIX CACHE'];

export function readmeSections(text: string): ReadmeSection[] {
  const lines = text.split('\n');
  const sections: ReadmeSection[] = [];
  let current: { title: string; body: string[] } | null = null;
  for (let i = 0; i < lines.length; i++) {
    const underline = lines[i + 1];
    if (lines[i] !== '' && underline !== undefined && /^-+$/.test(underline) && underline.length === lines[i].length) {
      if (current) sections.push({ title: current.title, body: current.body.join('\n').trimEnd() });
      current = { title: lines[i], body: [] };
      i++;
      continue;
    }
    current?.body.push(lines[i]);
  }
  if (current) sections.push({ title: current.title, body: current.body.join('\n').trimEnd() });
  return sections;
}

export function keyFacts(readme: string): ReadmeSection[] {
  const sections = readmeSections(readme);
  return KEY_SECTIONS.map((title) => sections.find((s) => s.title === title)).filter((s): s is ReadmeSection => s !== undefined);
}

export interface ReviewItem {
  verdict: 'PASS' | 'WARN' | 'FAIL' | 'TODO';
  check: string;
  detail: string;
}

export interface ReviewChecklist {
  checks: ReviewItem[];
  overall: string | null;
  todos: ReviewItem[];
  /** Lines of another shape, kept so nothing the file says is lost. */
  other: string[];
}

const REVIEW_LINE = /^\[(PASS|WARN|FAIL|TODO)\] (.*?) — (.*)$/;

export function parseReview(text: string): ReviewChecklist {
  const out: ReviewChecklist = { checks: [], overall: null, todos: [], other: [] };
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('FOR YOU TO DO')) continue;
    const m = REVIEW_LINE.exec(line);
    if (m) (m[1] === 'TODO' ? out.todos : out.checks).push({ verdict: m[1] as ReviewItem['verdict'], check: m[2], detail: m[3] });
    else if (line.startsWith('OVERALL: ')) out.overall = line.slice('OVERALL: '.length);
    else out.other.push(line);
  }
  return out;
}
