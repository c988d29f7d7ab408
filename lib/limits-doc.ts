import { PLATFORM_LIMITS, PlatformLimit } from './limits';

/** The markers between which docs/limits.md holds the rendered limits table. */
export const LIMITS_BEGIN = '<!-- limits:begin (npm run docs:limits writes this table from lib/limits.ts) -->';
export const LIMITS_END = '<!-- limits:end -->';

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const shown = (l: PlatformLimit) => (typeof l.value === 'number' ? l.value.toLocaleString('en-US') : `\`${l.value}\``);

/** The limits table as Markdown, one row per limit, in table order. */
export function renderLimitsTable(): string {
  const rows = PLATFORM_LIMITS.map((l) =>
    [
      `${cell(l.title)} (\`${l.id}\`)`,
      `${shown(l)} ${cell(l.unit)}`,
      cell(l.scope),
      l.adjustable ? 'yes' : 'no',
      cell(l.handling),
      `[${cell(l.doc.title)}](${l.doc.url})`,
    ].join(' | '),
  );
  return ['| limit | value | applies | adjustable | what the construct does | source |', '| --- | --- | --- | --- | --- | --- |', ...rows.map((r) => `| ${r} |`)].join('\n');
}

/** The limits page's text with the table between the markers replaced by the current one. */
export function withLimitsTable(page: string): string {
  const begin = page.indexOf(LIMITS_BEGIN);
  const end = page.indexOf(LIMITS_END);
  if (begin < 0 || end < begin) throw new Error(`docs/limits.md has no "${LIMITS_BEGIN}" ... "${LIMITS_END}" markers`);
  return `${page.slice(0, begin + LIMITS_BEGIN.length)}\n${renderLimitsTable()}\n${page.slice(end)}`;
}
