import {
  FlagNotFoundError,
  ParseError,
  StandardResolutionReasons,
  TypeMismatchError,
  type EvaluationContext,
  type JsonValue,
  type Provider,
  type ResolutionDetails,
} from '@openfeature/server-sdk';
import { parseZoneFlagsHeader, ZONE_FLAGS_HEADER } from './header';
import { zoneFlagsHeaderValue, type ZoneRequestHeaders } from './request-headers';

/** The evaluation context attribute that carries the header's value: the header's own name. */
export const ZONE_FLAGS_CONTEXT_KEY = ZONE_FLAGS_HEADER;

/**
 * The evaluation context for a request: the zone flags header's value under
 * `ZONE_FLAGS_CONTEXT_KEY`, or an empty context when the request has none.
 * Pass it per evaluation, or set it as the request's transaction context.
 */
export function zoneFlagsContext(headers: ZoneRequestHeaders | null | undefined): EvaluationContext {
  let value: string | undefined;
  try {
    value = zoneFlagsHeaderValue(headers);
  } catch {
    value = undefined;
  }
  return value === undefined ? {} : { [ZONE_FLAGS_CONTEXT_KEY]: value };
}

/**
 * An OpenFeature server provider for the flags the edge decided per viewer.
 * It evaluates nothing itself: a boolean flag resolves to the decision the
 * context's header carries. A flag the header does not name, or a context
 * without the header, resolves to the caller's default (FLAG_NOT_FOUND); a
 * malformed header to the default too (PARSE_ERROR). With `false` as the
 * default, as for `readZoneFlags`, every such case reads as off.
 */
export class ZoneFlagsProvider implements Provider {
  public readonly metadata = { name: 'multizone-flags' } as const;
  public readonly runsOn = 'server' as const;

  public async resolveBooleanEvaluation(flagKey: string, _defaultValue: boolean, context: EvaluationContext): Promise<ResolutionDetails<boolean>> {
    const raw = context[ZONE_FLAGS_CONTEXT_KEY];
    if (raw === undefined) {
      throw new FlagNotFoundError(`the evaluation context has no "${ZONE_FLAGS_CONTEXT_KEY}"; build it with zoneFlagsContext(headers)`);
    }
    const parsed = parseZoneFlagsHeader(typeof raw === 'string' ? raw : String(raw));
    if (parsed.status === 'malformed') throw new ParseError(parsed.problem);
    const on = parsed.status === 'ok' ? parsed.flags[flagKey] : undefined;
    if (on === undefined) throw new FlagNotFoundError(`${ZONE_FLAGS_HEADER} has no decision for "${flagKey}"`);
    return { value: on, variant: on ? 'on' : 'off', reason: StandardResolutionReasons.TARGETING_MATCH };
  }

  public async resolveStringEvaluation(flagKey: string): Promise<ResolutionDetails<string>> {
    throw mismatch(flagKey, 'string');
  }

  public async resolveNumberEvaluation(flagKey: string): Promise<ResolutionDetails<number>> {
    throw mismatch(flagKey, 'number');
  }

  public async resolveObjectEvaluation<T extends JsonValue>(flagKey: string): Promise<ResolutionDetails<T>> {
    throw mismatch(flagKey, 'object');
  }
}

function mismatch(flagKey: string, type: string): TypeMismatchError {
  return new TypeMismatchError(`zone flag "${flagKey}" is a boolean, not a ${type}`);
}
