import Head from 'next/head';

export default function NotFound() {
  return (
    <main data-zone="blog">
      <Head>
        <title>Not found | blog | 404</title>
      </Head>
      <h1>Not found (blog)</h1>
      <a href="/blog">Blog</a>
    </main>
  );
}
