export { ZONE_FLAGS_HEADER, MAX_ZONE_FLAGS_HEADER_LENGTH, parseZoneFlagsHeader, type ParsedZoneFlags } from './header';
export { type HeaderReader, type HeaderRecord, type ZoneRequestHeaders } from './request-headers';
export { readZoneFlags, isZoneFlagOn, type ZoneFlags } from './read';
