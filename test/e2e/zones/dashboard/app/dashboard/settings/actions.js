'use server';

// Server action: invoked by a POST to /dashboard/settings carrying a
// `Next-Action` header. Next.js rejects it unless the request's Origin host
// matches x-forwarded-host (or Host when that is absent).
export async function echo(_prevState, formData) {
  const value = String(formData.get('value') ?? '');
  return `echo: ${value}`;
}
