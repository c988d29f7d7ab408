import { headers } from 'next/headers';
import { readZoneFlags } from 'multizone-flags';

export const metadata = {
  title: 'home',
};

export default async function RootLayout({ children }) {
  // The edge's decision for this viewer, the same one every zone reads.
  const newNav = readZoneFlags(await headers())['new-nav'] === true;
  return (
    <html lang="en">
      <body>
        <p id="zone-flag-new-nav" data-state={newNav ? 'on' : 'off'}>new-nav: {newNav ? 'on' : 'off'}</p>
        {children}
      </body>
    </html>
  );
}
