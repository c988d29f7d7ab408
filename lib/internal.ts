/**
 * The construct's internals for multizone-cli (`multizone-distribution/internal`):
 * the planning functions, the generated function's table format, the flag and
 * path-pattern rules and the limits table, so the CLI reads a template with the
 * same code that wrote it. Not part of the public (jsii) API and not covered by
 * semver: multizone-cli depends on the exact version of this package.
 */
export * from './behaviors';
export * from './behavior-policies';
export * from './body-hashing';
export * from './edge-function/generate';
export * from './edge-function/kvs-table';
export * from './errors';
export * from './flags';
export * from './kvs-sync/table-file';
export * from './limits';
export * from './multi-zone-distribution';
export * from './path-patterns';
export * from './preview';
export * from './releases/record';
export * from './routing-plan';
export * from './site-metadata';
export * from './site-assets';
export * from './zones';
export * from './zone-flags';
export * from './cross-zone-prefetch';
export * from './speculation-rules';
export * from './zone-releases';
