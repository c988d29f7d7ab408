// Root layout of the blog's App Router pages (/blog/notes/...); the posts stay on the Pages Router.
export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
