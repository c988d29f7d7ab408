import Link from 'next/link';

export const metadata = { title: 'Dashboard | dashboard | /dashboard' };

export default function DashboardPage() {
  return (
    <main data-zone="dashboard">
      <h1>Dashboard</h1>
      {/* Same zone: client-side (soft) navigation */}
      <Link href="/dashboard/settings" id="link-settings">Settings</Link>{' '}
      {/* Other zone: plain anchor, full (hard) navigation */}
      <a href="/" id="link-home">Home</a>
    </main>
  );
}
