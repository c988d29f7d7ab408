import Image from 'next/image';
import Link from 'next/link';

export const metadata = { title: 'About | home | /about' };

export default function AboutPage() {
  return (
    <main data-zone="home">
      <h1>About</h1>
      <p>About page of the home zone.</p>
      {/* The default zone's next/image: /_next/image, no images.path needed. */}
      <Image src="/logo.png" alt="Home logo" width={96} height={64} id="home-logo" />
      <Link href="/" id="link-home">Home</Link>
    </main>
  );
}
