import Link from 'next/link';
import EchoForm from './EchoForm';

export const metadata = { title: 'Settings | dashboard | /dashboard/settings' };

export default function SettingsPage() {
  return (
    <main data-zone="dashboard">
      <h1>Settings</h1>
      <EchoForm />
      <Link href="/dashboard" id="link-dashboard">Dashboard</Link>{' '}
      <a href="/" id="link-home">Home</a>
    </main>
  );
}
