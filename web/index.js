/* /: films and the shows of a city on a date (GET /shows?city=&date=), grouped by film. */
'use strict';
(async () => {
  tix.header('/');
  const { api, el, say, time } = tix;
  const form = document.getElementById('filters');
  const status = document.getElementById('status');
  const out = document.getElementById('movies');
  const params = new URLSearchParams(location.search);
  const today = new Date();
  const iso = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
  form.date.value = params.get('date') || iso(today);

  try {
    const th = await api('GET', '/theatres?limit=100');
    const cities = [...new Set(th.items.map((t) => t.city))].sort();
    for (const c of cities) form.city.append(el('option', { value: c, text: c }));
    form.city.value = params.get('city') || '';
  } catch (e) { say(status, 'Could not load the cities: ' + e.message, 'error'); }

  async function load() {
    say(status, 'Loading…');
    const q = new URLSearchParams({ date: form.date.value, limit: '100' });
    if (form.city.value) q.set('city', form.city.value);
    let items;
    try { items = (await api('GET', '/shows?' + q)).items; } catch (e) { say(status, e.message, 'error'); return; }
    const byMovie = new Map();
    for (const s of items) {
      if (s.status === 'cancelled' || s.status === 'completed') continue;
      if (!byMovie.has(s.movie_id)) byMovie.set(s.movie_id, { title: s.movie_title, shows: [] });
      byMovie.get(s.movie_id).shows.push(s);
    }
    out.replaceChildren();
    for (const m of byMovie.values()) {
      out.append(el('article', { class: 'movie' }, el('h2', { text: m.title }),
        el('ul', {}, ...m.shows.map((s) => el('li', {}, el('a', { href: '/shows/' + encodeURIComponent(s.id),
          text: time(s.starts_at) + ' · ' + s.theatre_name + ', ' + s.hall_name }))))));
    }
    say(status, byMovie.size ? byMovie.size + ' films' : 'No shows on that date.');
  }
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    history.replaceState(null, '', '/?' + new URLSearchParams({ city: form.city.value, date: form.date.value }));
    load();
  });
  load();
})();
