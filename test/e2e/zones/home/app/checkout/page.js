export const metadata = { title: 'Checkout | home | /checkout' };

export default function CheckoutPage() {
  return (
    <main data-zone="home">
      <h1>Checkout (home)</h1>
      <a href="/" id="link-home">Home</a>
    </main>
  );
}
