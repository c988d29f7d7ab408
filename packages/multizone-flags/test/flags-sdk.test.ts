import { evaluate, flag } from 'flags/next';
import { ZONE_FLAGS_HEADER } from '../src';
import { zoneFlagAdapter } from '../src/flags-sdk';
import { receive } from './receive';

const HEADER = 'new-checkout=off,new-nav=on';

// Outside Next.js a flag is called with the request (the Pages Router and
// middleware form); the App Router form, newNav(), needs next/headers.
const newNav = flag<boolean>({ key: 'new-nav', adapter: zoneFlagAdapter() });
const newCheckout = flag<boolean>({ key: 'new-checkout', adapter: zoneFlagAdapter() });
const darkMode = flag<boolean>({ key: 'dark-mode', adapter: zoneFlagAdapter() });
const betaDefaultOn = flag<boolean>({ key: 'beta', defaultValue: true, adapter: zoneFlagAdapter() });

// Flag is a union of the App Router, Pages Router and precomputed call forms; this is the request form.
type FlagRequest = Parameters<typeof evaluate>[1];
const decide = (f: unknown, request: FlagRequest): Promise<boolean> => (f as (request: FlagRequest) => Promise<boolean>)(request);

describe('the Flags SDK adapter, through flag() of flags/next', () => {
  test('middleware: a flag called with the Request decides from its header', async () => {
    const request = new Request('https://site.example/', { headers: { [ZONE_FLAGS_HEADER]: HEADER } });
    expect(await decide(newNav, request)).toBe(true);
    expect(await decide(newCheckout, request)).toBe(false);
  });

  test('Pages Router: a flag called with the real IncomingMessage decides from req.headers', async () => {
    const req = Object.assign(await receive([ZONE_FLAGS_HEADER, HEADER]), { cookies: {} });
    expect(await decide(newNav, req)).toBe(true);
    expect(await decide(newCheckout, req)).toBe(false);
  });

  test('evaluate() resolves several zone flags for one request', async () => {
    const request = new Request('https://site.example/', { headers: { [ZONE_FLAGS_HEADER]: HEADER } });
    expect(await evaluate([newNav, newCheckout], request)).toEqual([true, false]);
  });

  test("a flag the header does not name decides the flag's defaultValue, or off", async () => {
    const request = new Request('https://site.example/', { headers: { [ZONE_FLAGS_HEADER]: HEADER } });
    expect(await decide(darkMode, request)).toBe(false);
    expect(await decide(betaDefaultOn, request)).toBe(true);
  });

  test('a missing or malformed header decides off, or the defaultValue', async () => {
    const missing = new Request('https://site.example/');
    const malformed = new Request('https://site.example/', { headers: { [ZONE_FLAGS_HEADER]: 'new-nav=yes' } });
    expect(await decide(newNav, missing)).toBe(false);
    expect(await decide(newNav, malformed)).toBe(false);
    expect(await decide(betaDefaultOn, malformed)).toBe(true);
  });

  test('every adapter shares one adapterId, so the SDK may group the zone flags', () => {
    expect(zoneFlagAdapter().adapterId).toBe(zoneFlagAdapter().adapterId);
    expect(newNav.adapter?.adapterId).toBe(zoneFlagAdapter().adapterId);
  });
});
