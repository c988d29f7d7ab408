import Link from 'next/link';

export const metadata = { title: 'About | home | /about' };

export default function AboutPage() {
  return (
    <main data-zone="home">
      <h1>About</h1>
      <p>About page of the home zone.</p>
      <Link href="/" id="link-home">Home</Link>
    </main>
  );
}
