import Head from 'next/head';
import Image from 'next/image';
import Link from 'next/link';
import { isZoneFlagOn } from 'multizone-flags';
import { posts } from '../../posts';
import { release } from '../../release';

export default function BlogIndex({ newNav }) {
  return (
    <main data-zone="blog" data-release={release}>
      <Head>
        <title>Blog | blog | /blog</title>
      </Head>
      <p id="zone-flag-new-nav" data-state={newNav ? 'on' : 'off'}>new-nav: {newNav ? 'on' : 'off'}</p>
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
      {/* The App Router pages of the zone: a document load from here */}
      <a href="/blog/notes/first" id="link-notes">Notes</a>{' '}
      {/* Other zone: plain anchor, full (hard) navigation */}
      <a href="/" id="link-home">Home</a>
    </main>
  );
}

// Pages Router: the edge's decision arrives on the request, read per request.
export function getServerSideProps({ req }) {
  return { props: { newNav: isZoneFlagOn(req.headers, 'new-nav') } };
}
