export { MultiZoneDistribution, MultiZoneDistributionProps, BoundZone } from './multi-zone-distribution';
export { DefaultZoneDefinition, OverrideDefinition, ZoneDefinition } from './zones';
export { OriginVerifyHeader } from './zone-origin';
export { MultiZoneErrors, MultiZoneValidationError } from './errors';
