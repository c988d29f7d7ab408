import Head from 'next/head';
import { release } from '../release';

export default function NotFound() {
  return (
    <main data-zone="blog" data-release={release}>
      <Head>
        <title>Not found | blog | 404</title>
      </Head>
      <h1>Not found (blog)</h1>
      <a href="/blog">Blog</a>
    </main>
  );
}
