import { AsyncLocalStorageTransactionContextPropagator, ErrorCode, OpenFeature, StandardResolutionReasons } from '@openfeature/server-sdk';
import { ZONE_FLAGS_HEADER } from '../src';
import { ZONE_FLAGS_CONTEXT_KEY, ZoneFlagsProvider, zoneFlagsContext } from '../src/openfeature';
import { receive } from './receive';

const HEADER = 'new-checkout=off,new-nav=on';

beforeAll(async () => {
  await OpenFeature.setProviderAndWait(new ZoneFlagsProvider());
});

afterAll(async () => {
  await OpenFeature.close();
});

describe('the OpenFeature provider, through the real server SDK', () => {
  test('the API reports the provider by name', () => {
    expect(OpenFeature.getProviderMetadata().name).toBe('multizone-flags');
  });

  test('App Router: a boolean flag resolves to the edge decision, with variant and reason', async () => {
    const client = OpenFeature.getClient();
    const context = zoneFlagsContext(new Headers({ [ZONE_FLAGS_HEADER]: HEADER }));
    expect(context).toEqual({ [ZONE_FLAGS_CONTEXT_KEY]: HEADER });
    expect(await client.getBooleanValue('new-nav', false, context)).toBe(true);
    expect(await client.getBooleanValue('new-checkout', true, context)).toBe(false);
    const details = await client.getBooleanDetails('new-nav', false, context);
    expect(details).toMatchObject({ flagKey: 'new-nav', value: true, variant: 'on', reason: StandardResolutionReasons.TARGETING_MATCH });
    expect(details.errorCode).toBeUndefined();
  });

  test('Pages Router: the context built from req.headers of a real request resolves the same', async () => {
    const req = await receive([ZONE_FLAGS_HEADER, HEADER]);
    const client = OpenFeature.getClient();
    expect(await client.getBooleanValue('new-nav', false, zoneFlagsContext(req.headers))).toBe(true);
    expect(await client.getBooleanDetails('new-checkout', true, zoneFlagsContext(req.headers))).toMatchObject({ value: false, variant: 'off' });
  });

  test('a flag the header does not name gets the default value and FLAG_NOT_FOUND', async () => {
    const context = zoneFlagsContext(new Headers({ [ZONE_FLAGS_HEADER]: HEADER }));
    const details = await OpenFeature.getClient().getBooleanDetails('dark-mode', true, context);
    expect(details).toMatchObject({ value: true, errorCode: ErrorCode.FLAG_NOT_FOUND, reason: StandardResolutionReasons.ERROR });
    expect(details.errorMessage).toContain('dark-mode');
  });

  test('a request without the header, or a context without it, gets the default value and FLAG_NOT_FOUND', async () => {
    const client = OpenFeature.getClient();
    expect(zoneFlagsContext(new Headers())).toEqual({});
    expect(await client.getBooleanDetails('new-nav', false, zoneFlagsContext(new Headers()))).toMatchObject({ value: false, errorCode: ErrorCode.FLAG_NOT_FOUND });
    const details = await client.getBooleanDetails('new-nav', false, { targetingKey: 'viewer-1' });
    expect(details).toMatchObject({ value: false, errorCode: ErrorCode.FLAG_NOT_FOUND });
    expect(details.errorMessage).toContain('zoneFlagsContext');
  });

  test('a malformed header gets the default value and PARSE_ERROR, even for a flag it names', async () => {
    const context = zoneFlagsContext(new Headers([[ZONE_FLAGS_HEADER, 'new-nav=on'], [ZONE_FLAGS_HEADER, 'new-nav=on']]));
    const details = await OpenFeature.getClient().getBooleanDetails('new-nav', false, context);
    expect(details).toMatchObject({ value: false, errorCode: ErrorCode.PARSE_ERROR, reason: StandardResolutionReasons.ERROR });
  });

  test('string, number and object evaluations are TYPE_MISMATCH with the default value', async () => {
    const client = OpenFeature.getClient();
    const context = zoneFlagsContext(new Headers({ [ZONE_FLAGS_HEADER]: HEADER }));
    expect(await client.getStringDetails('new-nav', 'x', context)).toMatchObject({ value: 'x', errorCode: ErrorCode.TYPE_MISMATCH });
    expect(await client.getNumberDetails('new-nav', 7, context)).toMatchObject({ value: 7, errorCode: ErrorCode.TYPE_MISMATCH });
    expect(await client.getObjectDetails('new-nav', { a: 1 }, context)).toMatchObject({ value: { a: 1 }, errorCode: ErrorCode.TYPE_MISMATCH });
  });

  test('middleware: the request headers as transaction context reach every evaluation in the request', async () => {
    OpenFeature.setTransactionContextPropagator(new AsyncLocalStorageTransactionContextPropagator());
    const client = OpenFeature.getClient();
    const request = new Request('https://site.example/', { headers: { [ZONE_FLAGS_HEADER]: HEADER } });
    const seen = await new Promise<boolean>((resolve) => {
      OpenFeature.setTransactionContext(zoneFlagsContext(request.headers), () => {
        void client.getBooleanValue('new-nav', false).then(resolve);
      });
    });
    expect(seen).toBe(true);
    expect(await client.getBooleanValue('new-nav', false)).toBe(false);
  });
});
