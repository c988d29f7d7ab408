export { MultiZoneDistribution, MultiZoneDistributionProps, BoundZone } from './multi-zone-distribution';
export { DefaultZoneDefinition, OverrideDefinition, ZoneDefinition } from './zones';
export { ZoneReleases } from './zone-releases';
export { OriginVerifyHeader } from './zone-origin';
export { CrossZonePrefetch, CrossZonePrefetchOptions } from './cross-zone-prefetch';
export { MultiZoneErrors, MultiZoneValidationError } from './errors';
