import Head from 'next/head';
import Link from 'next/link';
import { posts } from '../../posts';
import { release } from '../../release';

export default function BlogPost({ post }) {
  const path = `/blog/${post.slug}`;
  return (
    <main data-zone="blog" data-release={release}>
      <Head>
        <title>{`${post.title} | blog | ${path}`}</title>
      </Head>
      <h1>{post.title}</h1>
      <p>{post.body}</p>
      <Link href="/blog" id="link-blog">All posts</Link>{' '}
      <a href="/" id="link-home">Home</a>
    </main>
  );
}

// SSG: client-side navigation to a post fetches
// /_next/data/<buildId>/blog/<slug>.json — NOT under assetPrefix.
export function getStaticPaths() {
  return { paths: posts.map((p) => ({ params: { slug: p.slug } })), fallback: false };
}

export function getStaticProps({ params }) {
  const post = posts.find((p) => p.slug === params.slug);
  if (!post) return { notFound: true };
  return { props: { post } };
}
