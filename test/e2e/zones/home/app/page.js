import Link from 'next/link';

export const metadata = { title: 'Home | home | /' };

export default function HomePage() {
  return (
    <main data-zone="home">
      <h1>Home</h1>
      <nav>
        <ul>
          {/* Same zone: client-side (soft) navigation */}
          <li><Link href="/about" id="link-about">About</Link></li>
          {/* Other zones: plain anchors, full (hard) navigation */}
          <li><a href="/blog" id="link-blog">Blog</a></li>
          <li><a href="/dashboard" id="link-dashboard">Dashboard</a></li>
          <li><a href="/checkout" id="link-checkout">Checkout</a></li>
          {/* Excluded from prefetching (a GET with a side effect) */}
          <li><a href="/dashboard/signout" id="link-signout">Sign out</a></li>
        </ul>
      </nav>
    </main>
  );
}
