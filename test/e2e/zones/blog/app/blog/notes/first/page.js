import Link from 'next/link';
import { release } from '../../../../release';
import ReleaseForm from '../ReleaseForm';

export const metadata = { title: 'First note | blog | /blog/notes/first' };

export default function FirstNote() {
  return (
    <main data-zone="blog" data-release={release}>
      <h1>First note</h1>
      <ReleaseForm />
      {/* No prefetch: the navigation fetches the page when clicked, from whichever release the edge picks then. */}
      <Link href="/blog/notes/second" prefetch={false} id="link-note-second">Second note</Link>{' '}
      <a href="/blog" id="link-blog">All posts</a>
    </main>
  );
}
