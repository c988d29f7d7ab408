export const metadata = { title: 'Not found | dashboard | 404' };

export default function NotFound() {
  return (
    <main data-zone="dashboard">
      <h1>Not found (dashboard)</h1>
      <a href="/dashboard">Dashboard</a>
    </main>
  );
}
