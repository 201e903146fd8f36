/* /sales: an owner's (or admin's) sales report, GET /reports/sales?from=&to=&theatre_id=&group_by=,
 * as a table with totals. */
'use strict';
(async () => {
  tix.header('/sales');
  const { api, el, say, money, when } = tix;
  const $ = (x) => document.getElementById(x);
  const form = $('report');
  const status = $('status');
  const s = tix.session();
  const iso = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
  const now = new Date();
  form.from.value = iso(new Date(now.getTime() - 6 * 86400000));
  form.to.value = iso(new Date(now.getTime() + 7 * 86400000));
  if (!s) { say(status, 'Sign in (at the top of the page) as a theatre owner or admin.', 'error'); return; }
  try {
    const q = s.user.role === 'owner' ? '?limit=100&owner_id=' + encodeURIComponent(s.user.id) : '?limit=100';
    const th = await api('GET', '/theatres' + q);
    for (const t of th.items) form.theatre.append(el('option', { value: t.id, text: t.name }));
  } catch (e) { /* the list is a convenience */ }

  async function load() {
    const q = new URLSearchParams({ from: form.from.value, to: form.to.value, group_by: form.group.value });
    if (form.theatre.value) q.set('theatre_id', form.theatre.value);
    say(status, 'Loading…');
    let items;
    try { items = (await api('GET', '/reports/sales?' + q)).items; } catch (e) { say(status, e.message, 'error'); return; }
    const key = { day: 'day', show: 'show_id', movie: 'movie_id', theatre: 'theatre_id' }[form.group.value];
    const by = form.group.selectedOptions[0].textContent;
    const head = [by.charAt(0).toUpperCase() + by.slice(1), 'Tickets', 'Occupancy', 'Gross', 'Discounts', 'Refunds', 'Net'];
    const rows = items.map((r) => el('tr', {}, el('th', { scope: 'row', text: (key === 'show_id' ? r.movie_title + ', ' + when(r.starts_at) : r.movie_title || r.theatre_name || r[key]) }),
      el('td', { class: 'num', text: String(r.tickets) }),
      el('td', { class: 'num', text: (100 * (r.occupancy || 0)).toFixed(1) + '%' }),
      ...['gross', 'discounts', 'refunds', 'net'].map((f) => el('td', { class: 'num', text: money(r[f], r.currency) }))));
    $('table').replaceChildren(el('table', {}, el('caption', { class: 'visually-hidden', text: 'Sales by ' + form.group.value }),
      el('thead', {}, el('tr', {}, ...head.map((h, i) => el('th', { scope: 'col', class: i ? 'num' : null, text: h })))),
      el('tbody', {}, ...rows)));
    say(status, items.length ? items.length + ' rows' : 'No sales in that period.');
  }
  form.addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  load();
})();
