import { headers } from 'next/headers';
import { isZoneFlagOn } from 'multizone-flags';

export const metadata = {
  title: 'dashboard',
};

export default async function RootLayout({ children }) {
  // The edge's decision for this viewer, the same one every zone reads.
  const newNav = isZoneFlagOn(await headers(), 'new-nav');
  return (
    <html lang="en">
      <body>
        <p id="zone-flag-new-nav" data-state={newNav ? 'on' : 'off'}>new-nav: {newNav ? 'on' : 'off'}</p>
        {children}
      </body>
    </html>
  );
}
