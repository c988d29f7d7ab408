/**
 * The metadata key under which the synthesized distribution describes the
 * site for the tools that read templates (`SiteMetadata`).
 */
export const METADATA_KEY = 'MultiZone';
