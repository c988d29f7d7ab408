// Tiny in-repo "CMS" so the app needs no network.
export const posts = [
  { slug: 'post-1', title: 'Post 1', body: 'The first post of the blog zone.' },
  { slug: 'post-2', title: 'Post 2', body: 'The second post of the blog zone.' },
];
