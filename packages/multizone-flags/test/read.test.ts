import { isZoneFlagOn, MAX_ZONE_FLAGS_HEADER_LENGTH, readZoneFlags, ZONE_FLAGS_HEADER } from '../src';
import { receive } from './receive';

const HEADER = 'new-checkout=off,new-nav=on';

describe('App Router and route handlers: a WHATWG Headers', () => {
  test('each flag reads as the edge decided it', () => {
    const flags = readZoneFlags(new Headers({ [ZONE_FLAGS_HEADER]: HEADER }));
    expect({ ...flags }).toEqual({ 'new-checkout': false, 'new-nav': true });
  });

  test('the header name matches in any case, as HTTP header names do', () => {
    expect(readZoneFlags(new Headers({ 'X-MultiZone-Flags': 'new-nav=on' }))['new-nav']).toBe(true);
  });

  test('a flag the header does not name is absent, and isZoneFlagOn reads it off', () => {
    const headers = new Headers({ [ZONE_FLAGS_HEADER]: HEADER });
    expect(readZoneFlags(headers)['dark-mode']).toBeUndefined();
    expect(isZoneFlagOn(headers, 'dark-mode')).toBe(false);
    expect(isZoneFlagOn(headers, 'new-nav')).toBe(true);
    expect(isZoneFlagOn(headers, 'new-checkout')).toBe(false);
  });

  test('the result is frozen and inherits nothing, so a flag named like an Object method is only what the header says', () => {
    const flags = readZoneFlags(new Headers({ [ZONE_FLAGS_HEADER]: 'toString=on' }));
    expect(Object.isFrozen(flags)).toBe(true);
    expect(flags['toString']).toBe(true);
    expect(flags['constructor']).toBeUndefined();
    expect(isZoneFlagOn(new Headers(), 'constructor')).toBe(false);
  });

  test('typed names: the type parameter narrows which names may be read', () => {
    const flags = readZoneFlags<'new-nav' | 'new-checkout'>(new Headers({ [ZONE_FLAGS_HEADER]: HEADER }));
    expect(flags['new-nav']).toBe(true);
    // @ts-expect-error a name outside the union is a type error (ts-jest fails the file if it is not)
    expect(flags['new-navv']).toBeUndefined();
  });
});

describe('middleware and proxy: request.headers of a Request', () => {
  test('reads the decisions off the incoming request', () => {
    const request = new Request('https://site.example/checkout', { headers: { [ZONE_FLAGS_HEADER]: HEADER, cookie: 'a=b' } });
    expect(isZoneFlagOn(request.headers, 'new-nav')).toBe(true);
    expect(isZoneFlagOn(request.headers, 'new-checkout')).toBe(false);
  });

  test('two copies of the header, which Headers joins with ", ", read as every flag off', () => {
    const headers = new Headers([[ZONE_FLAGS_HEADER, 'new-nav=on'], [ZONE_FLAGS_HEADER, 'new-checkout=on']]);
    expect(headers.get(ZONE_FLAGS_HEADER)).toBe('new-nav=on, new-checkout=on');
    expect(readZoneFlags(headers)).toEqual({});
  });
});

describe('Pages Router: req.headers, a Node IncomingHttpHeaders', () => {
  test('a request received by a real Node server reads as the edge decided', async () => {
    const req = await receive([ZONE_FLAGS_HEADER, HEADER, 'accept', 'text/html']);
    expect(isZoneFlagOn(req.headers, 'new-nav')).toBe(true);
    expect(isZoneFlagOn(req.headers, 'new-checkout')).toBe(false);
  });

  test('two header lines on the wire read as every flag off', async () => {
    const req = await receive([ZONE_FLAGS_HEADER, 'new-nav=on', ZONE_FLAGS_HEADER, 'new-checkout=on']);
    expect(req.headers[ZONE_FLAGS_HEADER]).toBe('new-nav=on, new-checkout=on');
    expect(readZoneFlags(req.headers)).toEqual({});
  });

  test('an array value with one element reads; with two it reads as every flag off', () => {
    expect(isZoneFlagOn({ [ZONE_FLAGS_HEADER]: ['new-nav=on'] }, 'new-nav')).toBe(true);
    expect(readZoneFlags({ [ZONE_FLAGS_HEADER]: ['new-nav=on', 'new-checkout=off'] })).toEqual({});
  });

  test('a plain record reads whatever the case of its key; two keys for the header read as every flag off', () => {
    expect(isZoneFlagOn({ 'X-Multizone-Flags': 'new-nav=on' }, 'new-nav')).toBe(true);
    expect(readZoneFlags({ 'X-Multizone-Flags': 'new-nav=on', [ZONE_FLAGS_HEADER]: 'new-nav=on' })).toEqual({});
    expect(readZoneFlags({ [ZONE_FLAGS_HEADER]: undefined })).toEqual({});
  });
});

describe('a missing or malformed header reads as every flag off, never a throw', () => {
  const longestName = 'n'.repeat(128);
  const malformed: Array<[string, string]> = [
    ['a value other than on or off', 'new-nav=yes'],
    ['an upper-case value', 'new-nav=ON'],
    ['an entry without a value', 'new-checkout=off,new-nav'],
    ['an empty value', 'new-nav='],
    ['an empty name', '=on'],
    ['a name starting with "-"', '-nav=on'],
    ['a name with a space', 'new nav=on'],
    ['a name of 129 characters', `${longestName}n=on`],
    ['a flag named twice', 'new-nav=on,new-nav=off'],
    ['a flag named twice with the same value', 'new-nav=on,new-nav=on'],
    ['spaces after commas', 'new-checkout=off, new-nav=on'],
    ['a trailing comma', 'new-nav=on,'],
    ['a second "=" in an entry', 'new-nav=on=off'],
  ];
  test.each(malformed)('%s', (_what, value) => {
    const headers = new Headers({ [ZONE_FLAGS_HEADER]: value });
    expect(readZoneFlags(headers)).toEqual({});
    expect(isZoneFlagOn(headers, 'new-nav')).toBe(false);
  });

  test('the limits are inclusive: a 128-character name and a header of exactly the maximum length read', () => {
    expect(isZoneFlagOn(new Headers({ [ZONE_FLAGS_HEADER]: `${longestName}=on` }), longestName)).toBe(true);
    // 62 entries with 128-character names and one short one: exactly the maximum.
    const entries = Array.from({ length: 62 }, (_, i) => `${String(i).padStart(3, '0')}${'x'.repeat(125)}=on`);
    const exact = [...entries, 'short=on'].join(',');
    expect(exact.length).toBe(MAX_ZONE_FLAGS_HEADER_LENGTH);
    expect(Object.keys(readZoneFlags(new Headers({ [ZONE_FLAGS_HEADER]: exact })))).toHaveLength(63);
    const over = [...entries, 'shorts=on'].join(',');
    expect(over.length).toBe(MAX_ZONE_FLAGS_HEADER_LENGTH + 1);
    expect(readZoneFlags(new Headers({ [ZONE_FLAGS_HEADER]: over }))).toEqual({});
  });

  test('an empty header is a valid header with no decisions', () => {
    expect(readZoneFlags(new Headers({ [ZONE_FLAGS_HEADER]: '' }))).toEqual({});
  });

  test('no header, no headers, and headers that throw on access', () => {
    expect(readZoneFlags(new Headers({ accept: 'text/html' }))).toEqual({});
    expect(readZoneFlags({})).toEqual({});
    expect(readZoneFlags(undefined)).toEqual({});
    expect(readZoneFlags(null)).toEqual({});
    const throwing = {
      get(): string | null {
        throw new Error('headers() was called outside a request scope');
      },
    };
    expect(readZoneFlags(throwing)).toEqual({});
    expect(isZoneFlagOn(throwing, 'new-nav')).toBe(false);
  });
});
