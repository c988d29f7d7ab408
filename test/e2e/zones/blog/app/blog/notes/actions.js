'use server';

// Server action: a POST to the page's path with a `Next-Action` header (and
// `x-deployment-id` when the build has one). Its answer names the release that
// ran it; another build does not know this action's id.
export async function whichRelease(_prevState, formData) {
  const note = String(formData.get('note') ?? '');
  return `${note}: ran on release ${process.env.NEXT_DEPLOYMENT_ID || 'none'}`;
}
