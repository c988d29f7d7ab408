import Head from 'next/head';
import Image from 'next/image';
import Link from 'next/link';
import { posts } from '../../posts';

export default function BlogIndex() {
  return (
    <main data-zone="blog">
      <Head>
        <title>Blog | blog | /blog</title>
      </Head>
      <h1>Blog</h1>
      {/* Public files of a zone with an assetPrefix live under it (public/blog-static/). */}
      <Image src="/blog-static/cover.png" alt="Blog cover" width={96} height={64} id="blog-cover" />
      <ul>
        {posts.map((p) => (
          <li key={p.slug}>
            {/* Same zone: client-side (soft) navigation */}
            <Link href={`/blog/${p.slug}`} id={`link-${p.slug}`}>{p.title}</Link>
          </li>
        ))}
      </ul>
      {/* Other zone: plain anchor, full (hard) navigation */}
      <a href="/" id="link-home">Home</a>
    </main>
  );
}
