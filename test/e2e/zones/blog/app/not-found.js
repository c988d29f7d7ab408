import { release } from '../release';

export const metadata = { title: 'Not found | blog | 404' };

export default function NotFound() {
  return (
    <main data-zone="blog" data-release={release}>
      <h1>Not found (blog)</h1>
      <a href="/blog">Blog</a>
    </main>
  );
}
