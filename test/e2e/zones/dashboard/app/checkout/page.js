export const metadata = { title: 'Checkout | dashboard | /checkout' };

export default function CheckoutPage() {
  return (
    <main data-zone="dashboard">
      <h1>Checkout (dashboard)</h1>
      <a href="/dashboard" id="link-dashboard">Dashboard</a>{' '}
      <a href="/" id="link-home">Home</a>
    </main>
  );
}
