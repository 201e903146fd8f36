/* /bookings/{id}: a booking and its tickets, each with its QR code (GET /tickets/{id}/qr.png,
 * fetched with the bearer token and shown as a blob: URL) and its code in text. */
'use strict';
(async () => {
  tix.header('');
  const { api, el, say, money, when } = tix;
  const id = decodeURIComponent(location.pathname.split('/')[2] || '');
  const $ = (x) => document.getElementById(x);
  const status = $('status');
  if (!tix.session()) { say(status, 'Sign in (at the top of the page) to see this booking.', 'error'); return; }
  let b;
  try { b = await api('GET', '/bookings/' + encodeURIComponent(id)); } catch (e) {
    say(status, e.status === 404 ? 'No such booking.' : e.message, 'error');
    return;
  }
  let show = null;
  try { show = await api('GET', '/shows/' + encodeURIComponent(b.show_id)); } catch (e) { /* gone */ }
  $('title').textContent = show ? show.movie_title : 'Your tickets';
  $('summary').textContent = (show ? when(show.starts_at) + ' · ' + show.theatre_name + ', ' + show.hall_name + ' · ' : '') +
    'Booking ' + b.id + ' · ' + b.status + ' · ' + money(b.amount, b.currency);
  say(status, b.status === 'confirmed' ? b.tickets.length + ' tickets' : 'No tickets: this booking is ' + b.status + '.',
    b.status === 'confirmed' ? 'ok' : 'error');
  for (const t of b.tickets) {
    const img = el('img', { alt: 'QR code of the ticket for seat ' + t.label, width: '192', height: '192' });
    $('tickets').append(el('li', { class: 'ticket', 'data-ticket': t.id },
      el('h2', { text: 'Seat ' + t.label }), img, el('p', {}, 'Code ', el('code', { text: t.code }))));
    api('GET', '/tickets/' + encodeURIComponent(t.id) + '/qr.png', undefined, { raw: true })
      .then((r) => r.blob()).then((blob) => { img.src = URL.createObjectURL(blob); img.dataset.loaded = 'yes'; })
      .catch((e) => { img.alt = 'QR code unavailable: ' + e.message; });
  }
  if (b.tickets.length) {
    const pdf = $('pdf');
    pdf.hidden = false;
    pdf.addEventListener('click', async () => {
      const r = await api('GET', '/bookings/' + encodeURIComponent(b.id) + '/tickets.pdf', undefined, { raw: true });
      const a = el('a', { href: URL.createObjectURL(await r.blob()), download: 'tickets-' + b.id + '.pdf' });
      document.body.append(a); a.click(); a.remove();
    });
  }
})();
