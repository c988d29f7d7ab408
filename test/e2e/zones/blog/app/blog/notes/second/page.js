import Link from 'next/link';
import { release } from '../../../../release';
import ReleaseForm from '../ReleaseForm';

export const metadata = { title: 'Second note | blog | /blog/notes/second' };

export default function SecondNote() {
  return (
    <main data-zone="blog" data-release={release}>
      <h1>Second note</h1>
      <ReleaseForm />
      <Link href="/blog/notes/first" prefetch={false} id="link-note-first">First note</Link>{' '}
      <a href="/blog" id="link-blog">All posts</a>
    </main>
  );
}
