/* /door: staff check-in. The theatre list is GET /me/theatres: the ones this account may scan
 * for (door staff: theirs; owners: their own; admins: all). A typed (or scanned) ticket code or signed token goes to
 * POST /theatres/{id}/check-ins; the verdict is shown in words: admitted, already checked in
 * (with when), wrong theatre or show, void, unknown. Where the browser has BarcodeDetector,
 * the camera reads QR codes and submits them the same way. */
'use strict';
(async () => {
  tix.header('/door');
  const { api, el, say, when } = tix;
  const $ = (x) => document.getElementById(x);
  const form = $('checkin');
  const verdict = $('verdict');
  const KEY = 'ticketd.door.theatre';
  if (!tix.session()) { say(verdict, 'Sign in (at the top of the page) as door staff or the owner.', 'error'); return; }
  try {
    /* only the theatres whose door this account may work: staff theirs, owners theirs, admins all */
    let cursor = null;
    let pages = 0;
    do {
      const th = await api('GET', '/me/theatres?limit=100' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
      for (const t of th.items) form.theatre.append(el('option', { value: t.id, text: t.name + ' (' + t.city + ')' }));
      cursor = th.next_cursor;
    } while (cursor && ++pages < 10);
    if (!form.theatre.options.length) say(verdict, 'This account works the door of no theatre: ask a theatre\'s owner to add you as staff.', 'error');
    const saved = localStorage.getItem(KEY);
    if (saved && [...form.theatre.options].some((o) => o.value === saved)) form.theatre.value = saved;
  } catch (e) { say(verdict, e.message, 'error'); }
  form.theatre.addEventListener('change', () => localStorage.setItem(KEY, form.theatre.value));

  let busy = false;
  async function check(text) {
    const value = text.trim();
    if (!value || busy) return;
    busy = true;
    const body = value.startsWith('t1.') ? { token: value } : { code: value };
    try {
      const r = await api('POST', '/theatres/' + encodeURIComponent(form.theatre.value) + '/check-ins', body);
      say(verdict, '✓ Admitted: seat ' + (r.seat && (r.seat.label || r.seat)) + '.', 'verdict ok');
    } catch (e) {
      const first = e.details && e.details.checked_in_at;
      const words = { already_checked_in: '✕ Already checked in' + (first ? ' at ' + when(first) : '') + '.',
        wrong_theatre: '✕ This ticket is for another theatre.', wrong_show: '✕ Not within this show\'s door time.',
        ticket_void: '✕ Void: the booking was cancelled or refunded.', not_found: '✕ Unknown ticket.' };
      say(verdict, words[e.code] || '✕ ' + e.message, 'verdict error');
    } finally { busy = false; }
    form.code.value = '';
    form.code.focus();
  }
  form.addEventListener('submit', (ev) => { ev.preventDefault(); check(form.code.value); });

  const note = $('cam-note');
  if (!('BarcodeDetector' in window) || !navigator.mediaDevices) {
    note.textContent = 'This browser cannot read QR codes from the camera; type the code instead.';
    return;
  }
  note.textContent = 'Point the camera at a ticket\'s QR code.';
  const button = $('camera');
  button.hidden = false;
  button.addEventListener('click', async () => {
    const video = $('video');
    let stream;
    try { stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } }); } catch (e) {
      note.textContent = 'No camera: ' + e.message; return;
    }
    video.srcObject = stream; video.hidden = false; await video.play();
    const detector = new BarcodeDetector({ formats: ['qr_code'] });
    let last = '';
    const scan = async () => {
      try {
        const codes = await detector.detect(video);
        if (codes.length && codes[0].rawValue !== last) { last = codes[0].rawValue; await check(last); }
      } catch (e) { /* a frame that could not be read */ }
      requestAnimationFrame(scan);
    };
    scan();
  });
})();
