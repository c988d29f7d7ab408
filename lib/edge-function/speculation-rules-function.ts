import { createHash } from 'crypto';
import { MultiZoneValidationError } from '../errors';
import { limitValue } from '../limits';
import { SPECULATION_RULES_CONTENT_TYPE, SPECULATION_RULES_PATH } from '../speculation-rules';

/** CloudFront Functions' limit on code size, which the rules file counts against (lib/limits.ts). */
const MAX_RULES_CODE_BYTES = limitValue('speculation-rules-code-size');

/**
 * The viewer-request function of the rules behavior: it answers with the
 * rules file itself, so no zone is asked. CloudFront runs a viewer-request
 * function before its cache and never caches what one answers, so the
 * answer is made on every request (sub-millisecond, at the edge); browsers
 * keep it, revalidating each time (`no-cache`) with its ETag, so a deploy
 * that changes the rules is seen on the next page load. The body lives in
 * the code: throws when the code would pass CloudFront's 10 KB.
 */
export function speculationRulesFunctionCode(body: Record<string, unknown>): string {
  const json = JSON.stringify(body);
  const etag = `"${createHash('sha256').update(json).digest('hex').slice(0, 16)}"`;
  const code = [
    `var B = ${JSON.stringify(json)};`,
    `var E = ${JSON.stringify(etag)};`,
    'function handler(event) {',
    'var m = event.request.headers["if-none-match"];',
    `var h = { "content-type": { value: ${JSON.stringify(SPECULATION_RULES_CONTENT_TYPE)} }, "cache-control": { value: "no-cache" }, etag: { value: E } };`,
    'if (m && m.value.indexOf(E) >= 0) return { statusCode: 304, statusDescription: "Not Modified", headers: h };',
    'return { statusCode: 200, statusDescription: "OK", headers: h, body: { encoding: "text", data: B } };',
    '}',
    '',
  ].join('\n');
  const bytes = Buffer.byteLength(code);
  if (bytes > MAX_RULES_CODE_BYTES) {
    throw new MultiZoneValidationError(
      `crossZonePrefetch: the function answering ${SPECULATION_RULES_PATH} holds the rules file in its code, ${bytes} bytes, and CloudFront Functions allow at most ${MAX_RULES_CODE_BYTES} (10 KB, not adjustable); ` +
        'the rules list each zone\'s asset prefix and each exclude pattern: use fewer or shorter exclude patterns or asset prefixes, or set crossZonePrefetch: CrossZonePrefetch.none()',
    );
  }
  return code;
}
