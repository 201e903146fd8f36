/* /shows/{id}: the live seat map. Every seat is a <button> labelled with its seat label, its
 * category, price and status in words (and a mark, so status never rests on colour alone).
 * The map follows GET /shows/{id}/events (Server-Sent Events; after a reconnect it reloads the
 * map, since events may have been missed). Pick seats or ask for the best available, hold them
 * (a countdown to expires_at), pay (Razorpay Checkout when the server has Razorpay keys, else
 * the embedded test provider), and land on /bookings/{id}.
 * Performance marks: "seatmap-painted" once the first map has been painted (two animation
 * frames after it was built); window.tixSeatmapPaintMs holds its time since navigation start. */
'use strict';
(async () => {
  tix.header('');
  const { api, el, say, money, when } = tix;
  const showId = decodeURIComponent(location.pathname.split('/')[2] || '');
  const $ = (id) => document.getElementById(id);
  const status = $('status');
  const map = $('seatmap');
  const MAX = 10;
  const STORE = 'ticketd.hold.' + showId;
  const seats = new Map(); /* id -> {seat, button} */
  const picked = new Set();
  let currency = 'INR';
  let hold = null; /* the hold's answer {hold_id, seats, amount, currency, expires_at} */
  let timer = null;
  const MARK = { available: '', held: '◌', booked: '✕', blocked: '▪' };

  function mine(id) { return hold && hold.seats.some((s) => s.id === id); }

  function paint(id) {
    const e = seats.get(id);
    if (!e) return;
    const { seat, button } = e;
    const yours = mine(id);
    const selected = picked.has(id);
    const word = yours ? 'held for you' : selected ? 'selected' : seat.status;
    button.dataset.status = seat.status;
    button.classList.toggle('mine', yours);
    button.disabled = !yours && seat.status !== 'available';
    if (seat.status === 'available') button.setAttribute('aria-pressed', selected ? 'true' : 'false');
    else button.removeAttribute('aria-pressed');
    button.setAttribute('aria-label', seat.label + ', ' + seat.category + ', ' + money(seat.price, currency) + ', ' + word);
    button.lastChild.textContent = yours || selected ? '✓' : MARK[seat.status] || '';
  }

  /* Keyboard: the map is one tab stop (a roving tabindex); arrow keys move between the seats
   * that can be picked, Home and End go to the first and last; Enter or Space picks. */
  let rover = null;
  function setRover(button) {
    if (rover && rover !== button) rover.tabIndex = -1;
    rover = button;
    if (rover) rover.tabIndex = 0;
  }
  function keepRover() {
    if (rover && !rover.disabled) return;
    let first = null;
    for (const { button } of seats.values()) if (!button.disabled) { first = button; break; }
    setRover(first);
  }
  function step(from, key) {
    const a = seats.get(from.dataset.id).seat;
    let best = null;
    let bestCost = Infinity;
    for (const { seat: b, button } of seats.values()) {
      if (button.disabled || button === from) continue;
      const dx = b.x - a.x;
      const dy = b.y - a.y;
      const ok = key === 'ArrowRight' ? dy === 0 && dx > 0 : key === 'ArrowLeft' ? dy === 0 && dx < 0
        : key === 'ArrowDown' ? dy > 0 : key === 'ArrowUp' ? dy < 0 : false;
      if (!ok) continue;
      const cost = key === 'ArrowRight' || key === 'ArrowLeft' ? Math.abs(dx) : Math.abs(dy) * 1000 + Math.abs(dx);
      if (cost < bestCost) { bestCost = cost; best = button; }
    }
    return best;
  }
  map.addEventListener('keydown', (ev) => {
    const from = ev.target.closest('button.seat');
    if (!from) return;
    let to = null;
    if (ev.key === 'Home' || ev.key === 'End') {
      const open = [...seats.values()].filter((e) => !e.button.disabled);
      to = open.length ? open[ev.key === 'Home' ? 0 : open.length - 1].button : null;
    } else if (ev.key.startsWith('Arrow')) {
      to = step(from, ev.key);
    } else {
      return;
    }
    ev.preventDefault();
    if (to) { setRover(to); to.focus(); }
  });
  map.addEventListener('focusin', (ev) => {
    const b = ev.target.closest('button.seat');
    if (b) setRover(b);
  });

  const esc = (t) => String(t).replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');

  /* The whole map as one HTML string (no style attributes: the CSP refuses them) (one parse, far faster than 2,000 createElement calls on
   * a large hall), then each button's state through paint(). */
  function render(data) {
    currency = data.currency;
    const cats = new Set();
    const html = [];
    seats.clear();
    for (const s of data.seats) {
      cats.add(s.category);
      html.push('<button type="button" class="seat ' + esc(s.category) + '" data-id="' + esc(s.id) +
        '" data-label="' + esc(s.label) + '">' +
        esc(s.label) + '<span class="mark" aria-hidden="true"></span></button>');
    }
    const box = document.createElement('div');
    box.innerHTML = html.join('');
    let i = 0;
    for (const button of box.children) {
      const s = data.seats[i++];
      seats.set(s.id, { seat: s, button });
      /* through the CSSOM: the page's CSP refuses style attributes */
      button.style.gridArea = (s.y + 1) + ' / ' + (s.x + 1);
      button.tabIndex = -1;
      paint(s.id);
    }
    rover = null;
    keepRover();
    const frag = document.createDocumentFragment();
    frag.append(...box.children);
    map.replaceChildren(frag);
    const cat = $('category');
    if (cat.options.length === 1) for (const c of cats) cat.append(el('option', { value: c, text: c }));
  }

  async function loadSeats() {
    const data = await api('GET', '/shows/' + encodeURIComponent(showId) + '/seats');
    performance.mark('seatmap-data');
    render(data);
    performance.mark('seatmap-built');
    const c = data.counts || {};
    say(status, (c.available ?? '?') + ' seats available');
    return data;
  }

  function showPicked() {
    const list = [...picked].map((id) => seats.get(id).seat);
    $('picked').textContent = list.length ? 'Picked: ' + list.map((s) => s.label).join(', ') + ' (' +
      money(list.reduce((a, s) => a + s.price, 0), currency) + ')' : 'No seats picked. Pick seats on the map, or ask for the best available.';
    $('hold').disabled = list.length === 0;
  }

  map.addEventListener('click', (ev) => {
    const b = ev.target.closest('button.seat');
    if (!b || b.disabled) return;
    const id = b.dataset.id;
    if (mine(id)) return;
    if (picked.has(id)) picked.delete(id);
    else if (picked.size >= MAX) { say(status, 'At most ' + MAX + ' seats in one hold.', 'error'); return; }
    else picked.add(id);
    paint(id);
    showPicked();
  });

  function setHold(h) {
    const before = hold ? hold.seats.map((s) => s.id) : [];
    hold = h;
    if (h) sessionStorage.setItem(STORE, JSON.stringify(h)); else sessionStorage.removeItem(STORE);
    for (const id of before) paint(id);
    if (h) for (const s of h.seats) { picked.delete(s.id); paint(s.id); }
    showPicked();
    $('hold-panel').hidden = !h;
    clearInterval(timer);
    if (!h) return;
    $('hold-summary').textContent = h.seats.map((s) => s.label).join(', ') + ': ' + money(h.amount, h.currency);
    const tick = () => {
      const left = Math.max(0, Math.round((Date.parse(h.expires_at) - Date.now()) / 1000));
      $('countdown').textContent = Math.floor(left / 60) + ':' + String(left % 60).padStart(2, '0');
      if (left === 0) { setHold(null); say(status, 'Your hold expired; the seats went back on sale.', 'error'); }
    };
    tick();
    timer = setInterval(tick, 1000);
  }

  async function makeHold(body) {
    if (!tix.session()) { say(status, 'Sign in first (at the top of the page) to hold seats.', 'error'); return; }
    try {
      const h = await api('POST', '/shows/' + encodeURIComponent(showId) + '/holds', body,
        { headers: { 'Idempotency-Key': crypto.randomUUID ? crypto.randomUUID() : String(Math.random()) } });
      setHold(h);
      say(status, 'Held ' + h.seats.map((s) => s.label).join(', ') + '.', 'ok');
    } catch (e) {
      const un = (e.details.unavailable || []).map((id) => (seats.get(id) || { seat: { label: id } }).seat.label);
      say(status, e.message + (un.length ? ' (' + un.join(', ') + ')' : ''), 'error');
      if (un.length) for (const id of e.details.unavailable) picked.delete(id);
      showPicked();
    }
  }

  $('hold').addEventListener('click', () => makeHold({ seat_ids: [...picked] }));
  $('best').addEventListener('click', () => {
    const body = { quantity: Number($('quantity').value) };
    if ($('category').value) body.category = $('category').value;
    makeHold(body);
  });
  $('release').addEventListener('click', async () => {
    if (!hold) return;
    try { await api('DELETE', '/holds/' + encodeURIComponent(hold.hold_id)); } catch (e) { /* expired already */ }
    setHold(null);
    say(status, 'Released.');
  });
  /* How this server takes payments (GET /payments/config): the embedded test provider, or
   * Razorpay Checkout, whose script (from checkout_url: the page's CSP allows its origin only
   * when Razorpay is on) is loaded once, when first needed. */
  let payConfig = null;
  let checkoutScript = null;
  function loadCheckout(url) {
    if (!checkoutScript) {
      checkoutScript = new Promise((resolve, reject) => {
        const s = document.createElement('script');
        s.src = url;
        s.onload = () => (window.Razorpay ? resolve(window.Razorpay) : reject(new Error('Razorpay Checkout did not start.')));
        s.onerror = () => { checkoutScript = null; reject(new Error('Razorpay Checkout could not be loaded; try again.')); };
        document.head.append(s);
      });
    }
    return checkoutScript;
  }
  /* Opens Checkout on the booking's order; resolves with Checkout's answer
   * {razorpay_payment_id, razorpay_order_id, razorpay_signature}, rejects when the payment
   * failed or the buyer closed Checkout. */
  async function razorpayCheckout(booking, payment) {
    const Razorpay = await loadCheckout(payConfig.checkout_url);
    return new Promise((resolve, reject) => {
      const rzp = new Razorpay({
        key: payment.key_id || payConfig.key_id, order_id: payment.order_id,
        amount: payment.amount, currency: payment.currency, name: 'ticketd',
        description: $('hold-summary').textContent,
        prefill: { email: (tix.session().user || {}).email || '' },
        handler: (answer) => resolve(answer),
        modal: { ondismiss: () => reject(new Error('Payment not finished; booking ' + booking.id + ' waits for payment while your hold lasts.')) },
      });
      if (rzp.on) rzp.on('payment.failed', (r) => reject(new Error('Payment failed: ' + ((r && r.error && r.error.description) || 'try again') + '.')));
      rzp.open();
    });
  }

  let pending = null; /* {booking, payment} of this hold, so a second try reuses its order */
  $('pay').addEventListener('click', async () => {
    if (!hold) return;
    $('pay').disabled = true;
    try {
      say(status, 'Paying…');
      if (!payConfig) payConfig = await api('GET', '/payments/config');
      if (!pending || pending.hold_id !== hold.hold_id) {
        const made = await api('POST', '/bookings', { hold_id: hold.hold_id });
        pending = { hold_id: hold.hold_id, booking: made.booking, payment: made.payment };
      }
      const { booking, payment } = pending;
      let paid;
      if (payment.provider === 'razorpay') {
        paid = await razorpayCheckout(booking, payment);
        say(status, 'Paid; confirming…');
      } else if (payment.provider === 'test') {
        /* The embedded test provider: what a checkout returns, then the confirmation. */
        paid = await api('POST', '/payments/test/' + encodeURIComponent(payment.order_id) + '/pay');
      } else {
        say(status, 'This page cannot pay through ' + payment.provider + '; booking ' + booking.id + ' waits for payment.', 'error');
        return;
      }
      const done = await api('POST', '/bookings/' + encodeURIComponent(booking.id) + '/confirm', {
        razorpay_order_id: paid.razorpay_order_id, razorpay_payment_id: paid.razorpay_payment_id,
        razorpay_signature: paid.razorpay_signature });
      sessionStorage.removeItem(STORE);
      location.assign('/bookings/' + encodeURIComponent(done.id));
    } catch (e) { say(status, e.message, 'error'); } finally { $('pay').disabled = false; }
  });

  try {
    const show = await api('GET', '/shows/' + encodeURIComponent(showId));
    $('title').textContent = show.movie_title || 'Seats';
    document.title = (show.movie_title || 'Seats') + ' · ticketd';
    $('subtitle').textContent = when(show.starts_at) + ' · ' + (show.theatre_name || '') + ', ' + (show.hall_name || '') +
      (show.status !== 'scheduled' ? ' · ' + show.status : '');
    await loadSeats();
  } catch (e) {
    say(status, e.status === 404 ? 'No such show.' : e.message, 'error');
    return;
  }
  requestAnimationFrame(() => requestAnimationFrame(() => {
    performance.mark('seatmap-painted');
    window.tixSeatmapPaintMs = performance.getEntriesByName('seatmap-painted')[0].startTime;
    document.body.dataset.seatmap = 'painted';
  }));
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORE));
    if (saved && Date.parse(saved.expires_at) > Date.now()) setHold(saved); else sessionStorage.removeItem(STORE);
  } catch (e) { sessionStorage.removeItem(STORE); }

  let ready = 0;
  const es = new EventSource('/api/v1/shows/' + encodeURIComponent(showId) + '/events');
  es.addEventListener('ready', () => {
    if (ready++ > 0) loadSeats().catch(() => {}); /* reconnected: events may have been missed */
    document.body.dataset.live = 'yes';
  });
  es.addEventListener('seats', (ev) => {
    const d = JSON.parse(ev.data);
    for (const id of d.seats) {
      const e = seats.get(id);
      if (!e) continue;
      e.seat.status = d.status;
      if (d.status !== 'available' && picked.has(id) && !mine(id)) { picked.delete(id); showPicked(); }
      paint(id);
    }
    keepRover();
    if (hold && d.status === 'available' && d.seats.some((id) => mine(id))) {
      setHold(null);
      say(status, 'Your hold ended; the seats went back on sale.', 'error');
    }
  });
})();
