/* ticketd web app: what every page shares. The JSON API (/api/v1) with the signed-in user's
 * bearer token (kept in localStorage, refreshed once on a 401), money and time formatting, and
 * the header's sign-in form. No framework, no build step: each page loads this file, then its own. */
'use strict';

const tix = (() => {
  const KEY = 'ticketd.session';

  function session() {
    try { return JSON.parse(localStorage.getItem(KEY)) || null; } catch (e) { return null; }
  }
  function saveSession(s) {
    if (s) localStorage.setItem(KEY, JSON.stringify(s)); else localStorage.removeItem(KEY);
  }

  class ApiError extends Error {
    constructor(status, body) {
      const e = (body && body.error) || {};
      super(e.message || ('HTTP ' + status));
      this.status = status; this.code = e.code || 'http_' + status; this.details = e.details || {};
    }
  }

  async function refresh() {
    const s = session();
    if (!s || !s.refresh_token) return false;
    const r = await fetch('/api/v1/auth/refresh', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh_token: s.refresh_token }) });
    if (!r.ok) { saveSession(null); return false; }
    const b = await r.json();
    saveSession({ user: b.user || s.user, access_token: b.access_token, refresh_token: b.refresh_token });
    return true;
  }

  /* fetch on the API: path under /api/v1; body (object) sent as JSON; returns the parsed body,
   * or a Response when raw is set; throws ApiError on 4xx/5xx. */
  async function api(method, path, body, opts = {}) {
    for (let attempt = 0; attempt < 2; attempt++) {
      const headers = Object.assign({ Accept: 'application/json' }, opts.headers || {});
      const s = session();
      if (s && s.access_token) headers.Authorization = 'Bearer ' + s.access_token;
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      const r = await fetch('/api/v1' + path, { method, headers,
        body: body === undefined ? undefined : JSON.stringify(body) });
      if (r.status === 401 && attempt === 0 && s && await refresh()) continue;
      if (!r.ok) {
        let b = null;
        try { b = await r.json(); } catch (e) { /* not JSON */ }
        throw new ApiError(r.status, b);
      }
      if (opts.raw) return r;
      return r.status === 204 ? null : r.json();
    }
  }

  const formats = new Map(); /* currency -> [Intl.NumberFormat, 10^digits]: made once (slow) */
  function money(minor, currency) {
    try {
      if (!formats.has(currency)) {
        const f = new Intl.NumberFormat(undefined, { style: 'currency', currency });
        formats.set(currency, [f, Math.pow(10, f.resolvedOptions().maximumFractionDigits)]);
      }
      const [f, scale] = formats.get(currency);
      return f.format(minor / scale);
    } catch (e) { return (minor / 100).toFixed(2) + ' ' + currency; }
  }
  function when(iso) {
    return new Date(iso).toLocaleString(undefined, { weekday: 'short', day: 'numeric', month: 'short',
      hour: '2-digit', minute: '2-digit' });
  }
  function time(iso) {
    return new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  }
  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = v; else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }
  function say(node, text, kind) {
    node.textContent = text; node.className = 'status' + (kind ? ' ' + kind : '');
  }

  /* The header: brand, navigation and the account form (sign in / signed in as … / sign out). */
  function header(current) {
    const links = [['/', 'Films and shows'], ['/door', 'Door'], ['/sales', 'Sales'], ['/docs', 'API docs']];
    const nav = el('nav', { 'aria-label': 'Main' }, el('ul', {}, ...links.map(([href, text]) =>
      el('li', {}, el('a', { href, 'aria-current': href === current ? 'page' : null, text })))));
    const account = el('div', { class: 'account' });
    const top = el('header', { class: 'top' }, el('a', { class: 'brand', href: '/', text: 'ticketd' }), nav, account);
    document.body.prepend(top);
    renderAccount(account);
  }

  function renderAccount(box) {
    box.replaceChildren();
    const s = session();
    if (s && s.user) {
      box.append(el('span', { id: 'signed-in', text: 'Signed in as ' + (s.user.email || s.user.name) + ' ' }),
        el('button', { type: 'button', id: 'sign-out', onclick: async () => {
          try { await api('POST', '/auth/logout', { refresh_token: s.refresh_token }); } catch (e) { /* gone */ }
          saveSession(null); location.reload();
        }, text: 'Sign out' }));
      return;
    }
    const msg = el('span', { class: 'status', role: 'status' });
    const form = el('form', { id: 'sign-in', 'aria-label': 'Sign in' },
      el('label', {}, 'E-mail', el('input', { type: 'email', name: 'email', id: 'email', autocomplete: 'username', required: true })),
      el('label', {}, 'Password', el('input', { type: 'password', name: 'password', id: 'password', autocomplete: 'current-password', required: true })),
      el('button', { type: 'submit', class: 'primary', text: 'Sign in' }), msg);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        const b = await api('POST', '/auth/login', { email: form.email.value, password: form.password.value });
        saveSession({ user: b.user, access_token: b.access_token, refresh_token: b.refresh_token });
        location.reload();
      } catch (e) { say(msg, e.message, 'error'); }
    });
    box.append(form);
  }

  return { api, ApiError, session, money, when, time, el, say, header };
})();
