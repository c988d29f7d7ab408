export const metadata = { title: 'Not found | home | 404' };

export default function NotFound() {
  return (
    <main data-zone="home">
      <h1>Not found (home)</h1>
      <a href="/">Home</a>
    </main>
  );
}
