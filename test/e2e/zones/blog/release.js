// Which build served a page: the deployment id Next.js inlines at build time
// (empty when built without one). Pages render it as main[data-release].
export const release = process.env.NEXT_DEPLOYMENT_ID || '';
