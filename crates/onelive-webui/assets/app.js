// OneLiveRec web UI: a face on the engine's HTTP API (docs/api.md).
// No logic of its own: every page reads and changes the engine through /api/.
'use strict';

(function () {
  const TOKEN_KEY = 'onelive.token';
  const LANG_KEY = 'onelive.lang';
  const CHANNELS_EVERY_MS = 2000;
  const RECORDINGS_EVERY_MS = 4000;
  const DELIVERIES_EVERY_MS = 5000;
  const EVENT_TYPES = [
    'app_launch', 'app_exit', 'live_start', 'live_end', 'video_file_create',
    'video_file_finish', 'video_transmux_finish', 'title_change', 'category_change', 'error',
  ];
  // Placeholders of the file name template (crates/onelive-engine/src/template.rs).
  // The recorder's template variables plus the engine's {name} and {session}
  // ({date} and {time} are accepted as old aliases but not advertised).
  const PLACEHOLDERS = ['platform', 'channel', 'name', 'uname', 'title', 'start_time:%Y-%m-%d_%H-%M-%S', 'part', 'part:03', 'session', 'ext'];
  const TEMPLATE_VARIABLES = ['platform', 'channel', 'name', 'uname', 'title', 'start_time', 'part', 'session', 'ext', 'date', 'time'];

  // ---------------------------------------------------------------- helpers

  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  // Builds an element; children are nodes or strings (always text, never HTML).
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function setText(el, text) {
    const s = text === null || text === undefined ? '' : String(text);
    if (el.textContent !== s) el.textContent = s;
  }

  function formatBytes(n) {
    if (n === null || n === undefined || isNaN(n)) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let v = Number(n);
    let i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i === 0 ? String(v) : v.toFixed(v >= 100 ? 0 : 1)) + ' ' + units[i];
  }

  function formatBitrate(bitsPerSecond) {
    if (!isFinite(bitsPerSecond) || bitsPerSecond <= 0) return '–';
    if (bitsPerSecond >= 1e6) return (bitsPerSecond / 1e6).toFixed(2) + ' Mbit/s';
    return Math.round(bitsPerSecond / 1e3) + ' kbit/s';
  }

  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined || isNaN(seconds)) return '–';
    const s = Math.round(Number(seconds));
    const hh = Math.floor(s / 3600);
    const mm = Math.floor((s % 3600) / 60);
    const ss = s % 60;
    const pad = (x) => String(x).padStart(2, '0');
    return (hh ? hh + ':' + pad(mm) : String(mm)) + ':' + pad(ss);
  }

  function formatTime(iso) {
    if (!iso) return '–';
    const d = new Date(iso);
    if (isNaN(d.getTime())) return String(iso);
    return d.toLocaleString(lang === 'zh' ? 'zh-CN' : 'en-GB');
  }

  function baseName(path) {
    if (!path) return '';
    const parts = String(path).split(/[\\/]/);
    return parts[parts.length - 1];
  }

  // ------------------------------------------------------------------ i18n

  let dict = { en: {}, zh: {} };
  let lang = 'en';

  function detectLanguage() {
    const saved = localStorage.getItem(LANG_KEY);
    if (saved === 'en' || saved === 'zh') return saved;
    const langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'en'];
    for (const l of langs) {
      const low = String(l).toLowerCase();
      if (low.startsWith('zh')) return 'zh';
      if (low.startsWith('en')) return 'en';
    }
    return 'en';
  }

  // Translates a key; `{name}` in the text is replaced from `vars`.
  function t(key, vars) {
    let s = (dict[lang] && dict[lang][key]) || (dict.en && dict.en[key]) || key;
    if (vars) for (const [k, v] of Object.entries(vars)) s = s.split('{' + k + '}').join(String(v));
    return s;
  }

  function applyLanguage() {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    for (const el of $$('[data-i18n]')) setText(el, t(el.dataset.i18n));
    for (const el of $$('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
    setText($('#lang-toggle'), lang === 'zh' ? 'English' : '中文');
    $('#lang-toggle').title = t('lang.switch');
    document.title = 'OneLiveRec';
  }

  async function loadDictionary() {
    try {
      const res = await fetch('/ui/i18n.json', { cache: 'force-cache' });
      if (res.ok) dict = await res.json();
    } catch (_) { /* keep the built-in English keys */ }
  }

  // ------------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  let tokenPrompt = null;

  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const token = localStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = 'Bearer ' + token;
    let res;
    try {
      res = await fetch(path, {
        method, headers, cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      setConnection('down');
      throw new ApiError(0, t('error.network'));
    }
    setConnection('up');
    if (res.status === 401) {
      askForToken(Boolean(token));
      throw new ApiError(401, t('auth.required'));
    }
    const text = await res.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (_) { data = { error: text }; }
    }
    if (!res.ok) {
      const msg = (data && data.error) || res.statusText || 'HTTP ' + res.status;
      throw new ApiError(res.status, msg);
    }
    return data;
  }

  function setConnection(state) {
    const el = $('#conn');
    if (el.dataset.state !== state) {
      el.dataset.state = state;
      el.title = t(state === 'up' ? 'conn.up' : 'conn.down');
      setText($('#footer-status'), state === 'up' ? '' : t('conn.down'));
    }
  }

  function askForToken(rejected) {
    const dialog = $('#token-dialog');
    const err = $('#token-error');
    if (rejected) { setText(err, t('auth.rejected')); err.hidden = false; } else { err.hidden = true; }
    if (!dialog.open) {
      $('#token-input').value = '';
      dialog.showModal();
      $('#token-input').focus();
    }
    if (!tokenPrompt) {
      tokenPrompt = new Promise((resolve) => {
        dialog.addEventListener('close', function onClose() {
          dialog.removeEventListener('close', onClose);
          tokenPrompt = null;
          resolve();
        });
      });
    }
    return tokenPrompt;
  }

  function initAuth() {
    $('#token-form').addEventListener('submit', (e) => {
      const value = $('#token-input').value.trim();
      if (!value) { e.preventDefault(); return; }
      localStorage.setItem(TOKEN_KEY, value);
      $('#token-forget').hidden = false;
      setTimeout(refreshCurrent, 0);
    });
    $('#token-dialog').addEventListener('cancel', (e) => e.preventDefault());
    $('#token-forget').hidden = !localStorage.getItem(TOKEN_KEY);
    $('#token-forget').addEventListener('click', () => {
      localStorage.removeItem(TOKEN_KEY);
      $('#token-forget').hidden = true;
      refreshCurrent();
    });
  }

  // ------------------------------------------------------------ UI helpers

  function confirmDialog(text) {
    const dialog = $('#confirm-dialog');
    setText($('#confirm-text'), text);
    dialog.returnValue = '';
    dialog.showModal();
    return new Promise((resolve) => {
      dialog.addEventListener('close', function onClose() {
        dialog.removeEventListener('close', onClose);
        resolve(dialog.returnValue === 'yes');
      });
    });
  }

  let toastTimer = null;
  function toast(text, isError) {
    const el = $('#toast');
    setText(el, text);
    el.classList.toggle('error', Boolean(isError));
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.hidden = true; }, 4000);
  }

  function showFormError(el, message) {
    if (message) { setText(el, message); el.hidden = false; } else { setText(el, ''); el.hidden = true; }
  }

  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (_) {
      // Plain HTTP on a LAN is not a secure context: fall back to a selection.
      const area = h('textarea', { class: 'offscreen', readonly: true });
      area.value = text;
      document.body.append(area);
      area.select();
      let ok = false;
      try { ok = document.execCommand('copy'); } catch (_) { ok = false; }
      area.remove();
      return ok;
    }
  }

  // -------------------------------------------------------------- channels

  const rates = new Map(); // channel id -> { file, bytes, at, bps }
  let channelsCache = [];

  function channelStatus(c) {
    if (!c.enabled || c.state === 'disabled') return 'disabled';
    if (c.recording) return 'recording';
    if (c.state === 'ending') return 'ending';
    if (c.live) return 'live';
    return 'offline';
  }

  function updateRate(c) {
    const now = performance.now();
    const bytes = Number(c.bytes_written || 0);
    const prev = rates.get(c.id);
    let bps = typeof c.bitrate === 'number' ? c.bitrate : NaN; // if the API ever reports it
    if (isNaN(bps)) {
      if (prev && prev.file === c.current_file && bytes >= prev.bytes && now > prev.at) {
        const instant = ((bytes - prev.bytes) * 8 * 1000) / (now - prev.at);
        bps = isFinite(prev.bps) && prev.bps > 0 ? prev.bps * 0.5 + instant * 0.5 : instant;
      }
    }
    if (!c.recording) bps = NaN;
    rates.set(c.id, { file: c.current_file, bytes, at: now, bps });
    return bps;
  }

  function channelRow(c) {
    const row = h('article', { class: 'card channel', dataset: { id: c.id } },
      h('div', { class: 'channel-head' },
        h('span', { class: 'state badge' }),
        h('div', { class: 'names' },
          h('strong', { class: 'channel-name' }),
          h('span', { class: 'platform' })),
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'toggle-enabled' }),
          h('button', { type: 'button', class: 'toggle-record' }),
          h('button', { type: 'button', class: 'remove danger' }))),
      h('div', { class: 'live-title' }),
      h('dl', { class: 'facts' },
        h('dt', { 'data-i18n': 'channels.file' }, t('channels.file')), h('dd', { class: 'current-file mono' }),
        h('dt', { 'data-i18n': 'channels.bytes' }, t('channels.bytes')), h('dd', { class: 'bytes' }),
        h('dt', { 'data-i18n': 'channels.bitrate' }, t('channels.bitrate')), h('dd', { class: 'bitrate' }),
        h('dt', { 'data-i18n': 'channels.lastPoll' }, t('channels.lastPoll')), h('dd', { class: 'last-poll' })),
      h('p', { class: 'channel-error', hidden: true }),
      h('div', { class: 'channel-url mono' }));

    row.querySelector('.toggle-enabled').addEventListener('click', () => {
      const c2 = channelsCache.find((x) => x.id === row.dataset.id);
      channelAction(row.dataset.id, c2 && c2.enabled ? 'disable' : 'enable');
    });
    row.querySelector('.toggle-record').addEventListener('click', () => {
      const c2 = channelsCache.find((x) => x.id === row.dataset.id);
      // `record/start` and `record/stop` act now (the channel's `record` setting stays).
      channelAction(row.dataset.id, c2 && c2.recording ? 'record/stop' : 'record/start');
    });
    row.querySelector('.remove').addEventListener('click', async () => {
      const c2 = channelsCache.find((x) => x.id === row.dataset.id);
      const ok = await confirmDialog(t('channels.confirmRemove', { name: c2 ? c2.name : row.dataset.id }));
      if (!ok) return;
      try {
        await api('DELETE', '/api/channels/' + encodeURIComponent(row.dataset.id));
        toast(t('channels.removed'));
      } catch (e) { toast(e.message, true); }
      refreshChannels();
    });
    return row;
  }

  function fillChannelRow(row, c) {
    const status = channelStatus(c);
    const badge = row.querySelector('.state');
    badge.dataset.state = status;
    row.dataset.state = status;
    setText(badge, t('state.' + status));
    setText(row.querySelector('.channel-name'), c.name || c.channel);
    const showChannel = c.channel && c.channel !== c.name && c.channel !== c.url;
    setText(row.querySelector('.platform'), c.platform + (showChannel ? ' · ' + c.channel : ''));
    const info = c.live_info || {};
    const cats = Array.isArray(info.categories) && info.categories.length ? ' · ' + info.categories.join(' / ') : '';
    setText(row.querySelector('.live-title'), info.title ? info.title + cats : '');
    setText(row.querySelector('.current-file'), c.current_file || '–');
    row.querySelector('.current-file').title = c.current_file || '';
    setText(row.querySelector('.bytes'), c.recording || c.bytes_written ? formatBytes(c.bytes_written) : '–');
    setText(row.querySelector('.bitrate'), formatBitrate(updateRate(c)));
    setText(row.querySelector('.last-poll'), formatTime(c.last_poll));
    const err = row.querySelector('.channel-error');
    err.hidden = !c.last_error;
    setText(err, c.last_error ? t('channels.error') + ': ' + c.last_error : '');
    setText(row.querySelector('.channel-url'), c.url);
    setText(row.querySelector('.toggle-enabled'), t(c.enabled ? 'channels.disable' : 'channels.enable'));
    setText(row.querySelector('.toggle-record'), t(c.recording ? 'channels.stop' : 'channels.start'));
    row.querySelector('.toggle-record').classList.toggle('danger-outline', Boolean(c.recording));
    row.querySelector('.toggle-record').disabled = !c.enabled;
    setText(row.querySelector('.remove'), t('channels.remove'));
    for (const dt of row.querySelectorAll('dt[data-i18n]')) setText(dt, t(dt.dataset.i18n));
  }

  function renderChannels(list) {
    channelsCache = list;
    const container = $('#channel-list');
    const seen = new Set();
    list.forEach((c, index) => {
      seen.add(c.id);
      let row = container.querySelector('.channel[data-id="' + CSS.escape(c.id) + '"]');
      if (!row) row = channelRow(c);
      fillChannelRow(row, c);
      if (container.children[index] !== row) container.insertBefore(row, container.children[index] || null);
    });
    for (const row of $$('.channel', container)) if (!seen.has(row.dataset.id)) row.remove();
    $('#channels-empty').hidden = list.length > 0;
  }

  async function refreshChannels() {
    try {
      const data = await api('GET', '/api/channels');
      renderChannels((data && data.channels) || []);
    } catch (e) {
      if (e.status !== 401) setText($('#footer-status'), e.message);
    }
  }

  async function channelAction(id, action) {
    try {
      await api('POST', '/api/channels/' + encodeURIComponent(id) + '/' + action);
    } catch (e) { toast(e.message, true); }
    refreshChannels();
  }

  function initChannels() {
    $('#channel-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const url = $('#channel-url').value.trim();
      const name = $('#channel-name').value.trim();
      const errEl = $('#channel-add-error');
      if (!url) { showFormError(errEl, t('channels.urlRequired')); return; }
      const body = { url };
      if (name) body.name = name;
      const button = $('#channel-add');
      button.disabled = true;
      try {
        await api('POST', '/api/channels', body);
        showFormError(errEl, '');
        $('#channel-url').value = '';
        $('#channel-name').value = '';
        toast(t('channels.added'));
        await refreshChannels();
      } catch (err) {
        showFormError(errEl, err.message);
      } finally {
        button.disabled = false;
      }
    });
  }

  // ------------------------------------------------------------ recordings

  // One entry per file from GET /api/recordings (kept across restarts); the
  // engine's recent events of each file and of its session are attached for the details.
  function recordingsFrom(recs, events) {
    const list = recs.map((x) => ({
      path: x.path, platform: x.platform, channel: x.channel, session: x.session_id, title: x.title,
      created: x.started_at, finished: x.finished_at,
      size: x.size === null ? undefined : x.size, duration: x.duration === null ? undefined : x.duration,
      state: x.state === 'finished' && x.transmux === 'done' ? 'transmuxed' : x.state,
      transmux: x.transmux, output: x.transmux_output, transmuxError: x.transmux_error, events: [],
    }));
    const byPath = new Map(list.map((r) => [r.path, r]));
    const sorted = events.slice().sort((a, b) => String(a.ts).localeCompare(String(b.ts)));
    for (const ev of sorted) {
      const d = ev.data || {};
      const path = ev.type === 'video_transmux_finish' ? d.input : d.path;
      if (['video_file_create', 'video_file_finish', 'video_transmux_finish'].includes(ev.type) && byPath.has(path)) {
        byPath.get(path).events.push(ev);
      } else if (['live_start', 'live_end', 'title_change', 'category_change', 'error'].includes(ev.type) && d.session_id) {
        // Session-wide events (live start/end, title changes, errors) join each file of their session.
        for (const r of list) if (r.session === d.session_id) r.events.push(ev);
      }
    }
    return list;
  }

  function transmuxLabel(r) {
    if (r.transmux === 'done') return t('recordings.transmuxed', { file: baseName(r.output) });
    if (r.transmux === 'failed') return t('recordings.transmuxFailed', { error: r.transmuxError || '' });
    if (r.transmux === 'pending') return t('recordings.transmuxRunning');
    if (r.state === 'finished' || r.state === 'interrupted') return t('recordings.transmuxPending');
    return '–';
  }

  const openDetails = new Set(); // paths whose event list is unfolded, kept across refreshes

  function renderRecordings(list) {
    const container = $('#recording-list');
    container.replaceChildren(...list.map((r) => h('article', { class: 'card recording', dataset: { path: r.path, state: r.state } },
      h('div', { class: 'recording-head' },
        h('span', { class: 'badge', dataset: { state: r.state === 'recording' ? 'recording' : (r.state === 'interrupted' ? 'disabled' : 'finished') } }, t('recstate.' + r.state)),
        h('strong', { class: 'recording-file mono', title: r.path }, baseName(r.path))),
      h('dl', { class: 'facts' },
        h('dt', {}, t('recordings.channel')), h('dd', {}, [r.platform, r.channel].filter(Boolean).join(' · ') || '–'),
        h('dt', {}, t('recordings.path')), h('dd', { class: 'mono' }, r.path),
        h('dt', {}, t('recordings.size')), h('dd', { class: 'recording-size' }, r.size !== undefined ? formatBytes(r.size) : '–'),
        h('dt', {}, t('recordings.duration')), h('dd', { class: 'recording-duration' }, formatDuration(r.duration)),
        h('dt', {}, t('recordings.transmux')), h('dd', { class: 'recording-transmux' }, transmuxLabel(r)),
        r.title ? [h('dt', {}, t('recordings.liveTitle')), h('dd', {}, r.title)] : null),
      h('details', {
        class: 'events', open: openDetails.has(r.path),
        ontoggle: (e) => { if (e.target.open) openDetails.add(r.path); else openDetails.delete(r.path); },
      },
        h('summary', {}, t('recordings.events', { n: r.events.length })),
        h('ol', {}, r.events.map((ev) => h('li', {},
          h('time', {}, formatTime(ev.ts)), ' ', h('code', {}, ev.type),
          ev.data && ev.data.error ? ' ' + ev.data.error : '')))))));
    $('#recordings-empty').hidden = list.length > 0;
  }

  async function refreshRecordings() {
    try {
      const [recs, data, chans] = await Promise.all([api('GET', '/api/recordings?limit=200'), api('GET', '/api/events'), api('GET', '/api/channels')]);
      const list = recordingsFrom((recs && recs.recordings) || [], (data && data.events) || []);
      // Files still being written: their size so far, from the channel writing them.
      for (const c of (chans && chans.channels) || []) {
        const r = list.find((x) => x.path === c.current_file && x.state === 'recording');
        if (r) r.size = c.bytes_written;
      }
      renderRecordings(list);
    } catch (e) {
      if (e.status !== 401) setText($('#footer-status'), e.message);
    }
  }

  // -------------------------------------------------------------- webhooks

  let webhooksCache = [];
  let editing = null; // webhook being edited, or null when creating
  const testResults = new Map(); // webhook id -> { ok, text }
  const deliveriesCache = new Map(); // webhook id -> [DeliveryRecord] | { error }

  function generateSecret() {
    const bytes = new Uint8Array(32);
    crypto.getRandomValues(bytes);
    let bin = '';
    for (const b of bytes) bin += String.fromCharCode(b);
    return 'whsec_' + btoa(bin);
  }

  function renderEventBoxes(selected) {
    const all = !selected || selected.length === 0;
    $('#webhook-event-boxes').replaceChildren(...EVENT_TYPES.map((type) =>
      h('label', { class: 'check event-box' },
        h('input', { type: 'checkbox', name: 'event', value: type, checked: all || selected.includes(type) }),
        ' ', h('code', {}, type), h('span', { class: 'event-desc', 'data-i18n': 'event.' + type }, t('event.' + type)))));
  }

  // `stored`: the header exists on the server; an empty value keeps its stored value.
  function headerRow(name, value, stored) {
    const row = h('div', { class: 'row header-row', dataset: stored ? { stored: name } : {} },
      h('input', { type: 'text', class: 'header-name mono', placeholder: 'X-Header', value: name || '', 'aria-label': t('webhooks.headerName') }),
      h('input', { type: 'text', class: 'header-value mono grow', placeholder: t(stored ? 'webhooks.headerKept' : 'webhooks.headerValue'), value: value || '', 'aria-label': t('webhooks.headerValue') }),
      h('button', { type: 'button', class: 'link danger', onclick: () => row.remove() }, '✕'));
    return row;
  }

  function openWebhookForm(hook) {
    editing = hook || null;
    const form = $('#webhook-form');
    form.hidden = false;
    setText($('#webhook-form-title'), t(hook ? 'webhooks.edit' : 'webhooks.create'));
    $('#webhook-form-title').dataset.i18n = hook ? 'webhooks.edit' : 'webhooks.create';
    $('#webhook-url').value = hook ? hook.url : '';
    $('#webhook-enabled').checked = hook ? hook.enabled !== false : true;
    renderEventBoxes(hook ? hook.events : null);
    // The API never returns a secret or header values; an edit that leaves them empty keeps them.
    const signed = !!(hook && hook.signed);
    $('#webhook-secret').value = hook ? '' : generateSecret();
    $('#webhook-secret').disabled = false;
    $('#webhook-secret').placeholder = signed ? t('webhooks.secretHidden') : t('webhooks.unsigned');
    setText($('#webhook-secret-generate'), t(hook ? 'webhooks.rotate' : 'webhooks.generate'));
    $('#webhook-secret-generate').dataset.i18n = hook ? 'webhooks.rotate' : 'webhooks.generate';
    $('#webhook-secret-state').hidden = !signed;
    $('#webhook-secret-remove-label').hidden = !signed;
    $('#webhook-secret-remove').checked = false;
    const names = hook && Array.isArray(hook.headers) ? hook.headers : [];
    $('#webhook-headers').replaceChildren(...names.map((n) => headerRow(n, '', true)));
    $('#webhook-headers-note').hidden = names.length === 0;
    showFormError($('#webhook-form-error'), '');
    $('#webhook-url').focus();
  }

  function closeWebhookForm() {
    $('#webhook-form').hidden = true;
    editing = null;
  }

  function readWebhookForm() {
    const url = $('#webhook-url').value.trim();
    const events = $$('#webhook-event-boxes input[name=event]:checked').map((b) => b.value);
    const body = { url, events: events.length === EVENT_TYPES.length ? [] : events, enabled: $('#webhook-enabled').checked };
    // Secret: a value sets it; on an edit, empty keeps the stored one and "remove" sends null.
    const secret = $('#webhook-secret').value.trim();
    if (editing && $('#webhook-secret-remove').checked) body.secret = null;
    else if (secret) body.secret = secret;
    // Headers: the full set; a stored header left empty is sent as null (keep its stored value).
    const headers = {};
    for (const row of $$('#webhook-headers .header-row')) {
      const name = row.querySelector('.header-name').value.trim();
      const value = row.querySelector('.header-value').value;
      const stored = row.dataset.stored;
      if (name && value) headers[name] = value;
      else if (name && stored && stored.toLowerCase() === name.toLowerCase()) headers[name] = null;
    }
    body.headers = headers;
    return { body, events };
  }

  async function saveWebhook(e) {
    e.preventDefault();
    const errEl = $('#webhook-form-error');
    const { body, events } = readWebhookForm();
    if (!body.url) { showFormError(errEl, t('webhooks.urlRequired')); return; }
    if (events.length === 0) { showFormError(errEl, t('webhooks.noEvents')); return; }
    const button = $('#webhook-save');
    button.disabled = true;
    try {
      if (editing) await api('PUT', '/api/webhooks/' + encodeURIComponent(editing.id), body);
      else await api('POST', '/api/webhooks', body);
      toast(t('webhooks.saved'));
      closeWebhookForm();
      await refreshWebhooks();
    } catch (err) {
      showFormError(errEl, err.message);
    } finally {
      button.disabled = false;
    }
  }

  function deliveriesTable(id) {
    const list = deliveriesCache.get(id);
    if (!list) return h('p', { class: 'hint' }, t('common.loading'));
    if (list.error) return h('p', { class: 'form-error' }, list.error);
    if (list.length === 0) return h('p', { class: 'hint deliveries-empty' }, t('deliveries.empty'));
    return h('div', { class: 'table-wrap' }, h('table', { class: 'deliveries' },
      h('thead', {}, h('tr', {},
        h('th', {}, t('deliveries.event')), h('th', {}, t('deliveries.status')),
        h('th', {}, t('deliveries.attempts')), h('th', {}, t('deliveries.lastStatus')),
        h('th', {}, t('deliveries.lastError')), h('th', {}, ''))),
      h('tbody', {}, list.map((d) => h('tr', { class: 'delivery', dataset: { id: d.id, status: d.status } },
        h('td', {}, h('code', {}, d.event_type)),
        h('td', {}, h('span', { class: 'badge', dataset: { state: d.status } }, t('delivery.' + d.status))),
        h('td', {}, String(d.attempts)),
        h('td', {}, d.last_status === null || d.last_status === undefined ? '–' : String(d.last_status)),
        h('td', { class: 'delivery-error' }, d.last_error || ''),
        h('td', {}, h('button', { type: 'button', class: 'redeliver', onclick: () => redeliver(id, d.id) }, t('deliveries.redeliver'))))))));
  }

  function webhookCard(w) {
    const result = testResults.get(w.id);
    const all = !w.events || w.events.length === 0;
    return h('article', { class: 'card webhook', dataset: { id: w.id } },
      h('div', { class: 'webhook-head' },
        h('span', { class: 'badge', dataset: { state: w.enabled ? 'live' : 'disabled' } }, t(w.enabled ? 'webhooks.on' : 'webhooks.off')),
        h('strong', { class: 'webhook-url mono' }, w.url),
        w.signed ? h('span', { class: 'badge', dataset: { state: 'signed' } }, t('webhooks.signed')) : h('span', { class: 'badge', dataset: { state: 'disabled' } }, t('webhooks.unsignedBadge'))),
      h('div', { class: 'chips' }, all ? h('span', { class: 'chip' }, t('webhooks.allEvents')) : w.events.map((e) => h('code', { class: 'chip' }, e))),
      Array.isArray(w.headers) && w.headers.length ? h('p', { class: 'hint' }, t('webhooks.headersList', { names: w.headers.join(', ') })) : null,
      h('div', { class: 'row wrap' },
        h('button', { type: 'button', class: 'webhook-test primary', onclick: () => sendTest(w.id) }, t('webhooks.test')),
        h('button', { type: 'button', class: 'webhook-edit', onclick: () => openWebhookForm(w) }, t('webhooks.editButton')),
        h('button', { type: 'button', class: 'webhook-remove danger', onclick: () => removeWebhook(w) }, t('webhooks.remove'))),
      h('div', { class: 'webhook-test-result' + (result ? (result.ok ? ' ok' : ' failed') : ''), hidden: !result, role: 'status' },
        result ? [h('strong', {}, t(result.ok ? 'webhooks.testOk' : 'webhooks.testFailed')), ' ', h('span', { class: 'mono answer' }, result.text)] : null),
      h('h3', {}, t('deliveries.title')),
      h('div', { class: 'deliveries-box' }, deliveriesTable(w.id)));
  }

  function renderWebhooks() {
    $('#webhook-list').replaceChildren(...webhooksCache.map(webhookCard));
    $('#webhooks-empty').hidden = webhooksCache.length > 0;
  }

  async function refreshWebhooks() {
    try {
      const data = await api('GET', '/api/webhooks');
      webhooksCache = (data && data.webhooks) || [];
      renderWebhooks();
      await refreshDeliveries();
    } catch (e) {
      if (e.status !== 401) setText($('#footer-status'), e.message);
    }
  }

  async function refreshDeliveries() {
    await Promise.all(webhooksCache.map(async (w) => {
      try {
        const data = await api('GET', '/api/webhooks/' + encodeURIComponent(w.id) + '/deliveries?limit=10');
        deliveriesCache.set(w.id, (data && data.deliveries) || []);
      } catch (e) {
        deliveriesCache.set(w.id, { error: e.message });
      }
      const card = $('#webhook-list .webhook[data-id="' + CSS.escape(w.id) + '"] .deliveries-box');
      if (card) card.replaceChildren(deliveriesTable(w.id));
    }));
  }

  async function sendTest(id) {
    const card = $('#webhook-list .webhook[data-id="' + CSS.escape(id) + '"]');
    const button = card && card.querySelector('.webhook-test');
    if (button) { button.disabled = true; setText(button, t('webhooks.testing')); }
    try {
      const data = await api('POST', '/api/webhooks/' + encodeURIComponent(id) + '/test');
      const outcome = data && data.result !== undefined ? data.result : data;
      const text = typeof outcome === 'string' ? outcome : JSON.stringify(outcome);
      const ok = !(outcome && typeof outcome === 'object' && outcome.ok === false) && !/^(error|failed|refused)/i.test(text);
      testResults.set(id, { ok, text });
    } catch (e) {
      testResults.set(id, { ok: false, text: e.message });
    }
    renderWebhooks();
    refreshDeliveries();
  }

  async function removeWebhook(w) {
    if (!(await confirmDialog(t('webhooks.confirmRemove', { url: w.url })))) return;
    try {
      await api('DELETE', '/api/webhooks/' + encodeURIComponent(w.id));
      testResults.delete(w.id);
      toast(t('webhooks.removed'));
    } catch (e) { toast(e.message, true); }
    refreshWebhooks();
  }

  async function redeliver(webhookId, deliveryId) {
    try {
      await api('POST', '/api/deliveries/' + encodeURIComponent(deliveryId) + '/redeliver');
      toast(t('deliveries.requeued'));
    } catch (e) { toast(e.message, true); }
    refreshDeliveries();
  }

  function initWebhooks() {
    $('#webhook-new').addEventListener('click', () => openWebhookForm(null));
    $('#webhook-cancel').addEventListener('click', closeWebhookForm);
    $('#webhook-form').addEventListener('submit', saveWebhook);
    $('#webhook-events-all').addEventListener('click', () => $$('#webhook-event-boxes input').forEach((b) => { b.checked = true; }));
    $('#webhook-events-none').addEventListener('click', () => $$('#webhook-event-boxes input').forEach((b) => { b.checked = false; }));
    $('#webhook-secret-generate').addEventListener('click', () => {
      $('#webhook-secret').value = generateSecret();
      $('#webhook-secret').disabled = false;
      $('#webhook-secret-remove').checked = false;
    });
    $('#webhook-secret-remove').addEventListener('change', (e) => {
      // Removing the secret: nothing to type; unticking restores the field.
      $('#webhook-secret').disabled = e.target.checked;
      if (e.target.checked) $('#webhook-secret').value = '';
    });
    $('#webhook-secret-copy').addEventListener('click', async () => {
      const v = $('#webhook-secret').value;
      if (!v) return;
      toast(t((await copyText(v)) ? 'common.copied' : 'common.copyFailed'));
    });
    $('#webhook-header-add').addEventListener('click', () => $('#webhook-headers').append(headerRow('', '')));
  }

  // ------------------------------------------------------------- recording

  function sanitizeValue(value, time) {
    // Mirrors onelive-recorder's sanitize_value: separators and controls become `_`, the
    // characters Windows, URLs and shells trip on become full-width; `{` and `}` stay text.
    // A formatted start time (sanitize_time) only loses what file systems refuse, to `_`.
    const fullWidth = ':*?"<>|#%&+=;$`';
    let s = Array.from(String(value)).map((ch) => {
      const code = ch.charCodeAt(0);
      if ('/\\'.includes(ch) || code < 32 || (code >= 127 && code < 160)) return '_';
      if (time) return ':*?"<>|'.includes(ch) ? '_' : ch;
      return fullWidth.includes(ch) ? String.fromCharCode(code + 0xFEE0) : ch;
    }).join('');
    s = s.trim().replace(/[. ]+$/, '');
    if (!s || /^\.+$/.test(s)) s = '_';
    const stem = s.split('.')[0].toUpperCase();
    if (['CON', 'PRN', 'AUX', 'NUL'].includes(stem) || /^(COM|LPT)[1-9]$/.test(stem)) s = '_' + s;
    return Array.from(s).slice(0, 100).join('').replace(/[. ]+$/, '');
  }

  // The engine's `[output]` (GET /api/output): the zone of `{start_time}`
  // and its UTC offset now. UTC until it is known.
  let outputSettings = { time_zone: 'UTC', zone: 'UTC', utc_offset_seconds: 0 };

  async function loadOutputSettings() {
    try {
      outputSettings = await api('GET', '/api/output');
    } catch (_) { return; }
    updateRecordingPreview();
  }

  function offsetText(seconds) {
    const a = Math.abs(seconds);
    const pad = (x) => String(x).padStart(2, '0');
    return (seconds < 0 ? '-' : '+') + pad(Math.floor(a / 3600)) + pad(Math.floor((a % 3600) / 60));
  }

  // strftime subset of `{start_time:...}`, in the engine's time zone
  // (`offset`: its UTC offset in seconds), like the engine.
  function strftime(format, instant, offset) {
    const off = offset || 0;
    const d = new Date(instant.getTime() + off * 1000);
    const pad = (x, n) => String(x).padStart(n || 2, '0');
    const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
    const ordinal = Math.round((day - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86400000) + 1;
    const map = {
      Y: pad(d.getUTCFullYear(), 4), y: pad(d.getUTCFullYear() % 100), m: pad(d.getUTCMonth() + 1), d: pad(d.getUTCDate()),
      H: pad(d.getUTCHours()), M: pad(d.getUTCMinutes()), S: pad(d.getUTCSeconds()), j: pad(ordinal, 3), z: offsetText(off),
      s: String(Math.floor(instant.getTime() / 1000)), '%': '%',
    };
    map.F = map.Y + '-' + map.m + '-' + map.d;
    map.T = map.H + ':' + map.M + ':' + map.S;
    let out = '';
    for (let i = 0; i < format.length; i++) {
      if (format[i] !== '%') { out += format[i]; continue; }
      const k = format[++i];
      if (k === undefined || !(k in map)) return { error: '%' + (k || '') };
      out += map[k];
    }
    return { text: out };
  }

  // Parses a template like the recorder (plus the engine's variables):
  // returns { pieces } or { error }. Pieces: strings, or { v, spec }.
  function parseTemplate(template) {
    if (!template.trim()) return { error: t('template.empty') };
    if (template.startsWith('/') || template.startsWith('\\')) return { error: t('template.absolute') };
    if (template.split(/[/\\]/).includes('..')) return { error: t('template.dotdot') };
    const pieces = [];
    let lit = '';
    for (let i = 0; i < template.length; i++) {
      const ch = template[i];
      if ((ch === '{' || ch === '}') && template[i + 1] === ch) { lit += ch; i++; continue; }
      if (ch === '}') return { error: t('template.unmatched') };
      if (ch !== '{') { lit += ch; continue; }
      const close = template.indexOf('}', i);
      if (close < 0) return { error: t('template.unclosed') };
      const inner = template.slice(i + 1, close);
      const colon = inner.indexOf(':');
      const v = (colon < 0 ? inner : inner.slice(0, colon)).trim();
      const spec = colon < 0 ? null : inner.slice(colon + 1);
      if (!TEMPLATE_VARIABLES.includes(v)) return { error: t('template.unknown', { name: '{' + v + '}' }) };
      if (v === 'start_time') {
        const r = strftime(spec === null ? '%Y%m%d-%H%M%S' : spec, new Date(0));
        if (r.error) return { error: t('template.directive', { name: r.error }) };
      } else if (v === 'part') {
        if (spec !== null && !/^0*[1-9]$/.test(spec)) return { error: t('template.spec', { name: '{' + inner + '}' }) };
      } else if (spec !== null) return { error: t('template.spec', { name: '{' + inner + '}' }) };
      if (lit) pieces.push(lit);
      lit = '';
      pieces.push({ v, spec });
      i = close;
    }
    if (lit) pieces.push(lit);
    if (!pieces.some((p) => p.v === 'part')) {
      // Every part needs its own name: the engine adds `_part{part}` (before a trailing `.{ext}`).
      const last = pieces.length - 1;
      const tail = [{ v: 'part', spec: null }];
      if (pieces[last] && pieces[last].v === 'ext' && pieces[last - 1] === '.') pieces.splice(last - 1, 0, '_part', ...tail);
      else pieces.push('_part', ...tail);
    }
    if (!pieces.some((p) => p.v === 'ext')) pieces.push('.', { v: 'ext', spec: null });
    return { pieces };
  }

  function renderTemplate(pieces, v) {
    const out = pieces.map((p) => {
      if (typeof p === 'string') return p;
      switch (p.v) {
        case 'start_time': return sanitizeValue(strftime(p.spec === null ? '%Y%m%d-%H%M%S' : p.spec, v.now, v.offset).text, true);
        case 'date': return strftime('%Y-%m-%d', v.now, v.offset).text;
        case 'time': return strftime('%H-%M-%S', v.now, v.offset).text;
        case 'session': return v.session.slice(0, 8);
        case 'part': return String(v.part).padStart(p.spec === null ? 1 : Number.parseInt(p.spec, 10), '0');
        default: return sanitizeValue(v[p.v]);
      }
    }).join('');
    return out.split('/').filter((c) => c !== '' && c !== '.').map((c) => (c === '..' ? '_' : c)).join('/');
  }

  function tomlString(s) {
    return '"' + String(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
  }

  function updateRecordingPreview() {
    const template = $('#tpl-input').value;
    const container = $('#rec-container').value;
    const parsed = parseTemplate(template);
    const problem = parsed.error || '';
    showFormError($('#tpl-error'), problem);
    // `auto`: .ts for HLS, .flv for HTTP-FLV.
    const ext = container === 'auto' ? 'ts' : container;
    const sample = {
      platform: 'bilibili', channel: '21452505', name: 'alice', uname: 'alice', title: t('recording.sampleTitle'),
      now: new Date(), offset: outputSettings.utc_offset_seconds, session: '0190e6a1c3d47b2e', part: 1, ext,
    };
    setText($('#tpl-zone'), outputSettings.zone + ' (UTC' + offsetText(outputSettings.utc_offset_seconds) + ')');
    const folder = $('#rec-folder').value.trim() || 'rec';
    setText($('#tpl-preview'), problem ? '–' : folder.replace(/\/+$/, '') + '/' + renderTemplate(parsed.pieces, sample));
    const lines = ['[output]', 'folder = ' + tomlString(folder), 'filename_template = ' + tomlString(template), 'container = ' + tomlString(container), 'time_zone = ' + tomlString(outputSettings.time_zone), '', '[split]'];
    const dur = $('#rec-split-duration').value.trim();
    const size = $('#rec-split-size').value.trim();
    if (dur) lines.push('max_duration = ' + tomlString(dur));
    if (size) lines.push('max_size_mb = ' + Number.parseInt(size, 10));
    lines.push('', '[transmux]', 'enabled = ' + $('#rec-transmux').checked, 'format = ' + tomlString($('#rec-transmux-format').value), 'delete_source = ' + $('#rec-transmux-delete').checked);
    $('#rec-snippet').value = lines.join('\n') + '\n';
  }

  function initRecordingSettings() {
    setText($('#tpl-placeholders'), PLACEHOLDERS.map((p) => '{' + p + '}').join(' '));
    for (const id of ['#tpl-input', '#rec-folder', '#rec-container', '#rec-split-duration', '#rec-split-size', '#rec-transmux', '#rec-transmux-format', '#rec-transmux-delete']) {
      $(id).addEventListener('input', updateRecordingPreview);
      $(id).addEventListener('change', updateRecordingPreview);
    }
    $('#rec-snippet-copy').addEventListener('click', async () => {
      toast(t((await copyText($('#rec-snippet').value)) ? 'common.copied' : 'common.copyFailed'));
    });
    updateRecordingPreview();
  }

  // ---------------------------------------------------------------- router

  let route = { page: 'channels', sub: null };
  let timers = [];

  function parseRoute() {
    const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
    if (parts[0] === 'recordings') return { page: 'recordings', sub: null };
    if (parts[0] === 'settings') return { page: 'settings', sub: parts[1] === 'recording' ? 'recording' : 'webhooks' };
    return { page: 'channels', sub: null };
  }

  function every(ms, fn) {
    fn();
    timers.push(setInterval(() => { if (!document.hidden) fn(); }, ms));
  }

  function refreshCurrent() {
    if (route.page === 'channels') refreshChannels();
    else if (route.page === 'recordings') refreshRecordings();
    else if (route.page === 'settings' && route.sub === 'webhooks') refreshWebhooks();
  }

  function showRoute() {
    route = parseRoute();
    timers.forEach(clearInterval);
    timers = [];
    for (const p of $$('.page')) p.hidden = p.id !== 'page-' + route.page;
    for (const a of $$('#nav a')) a.classList.toggle('active', a.dataset.route === route.page);
    for (const s of $$('.subpage')) s.hidden = s.id !== 'settings-' + route.sub;
    for (const a of $$('#settings-nav a')) a.classList.toggle('active', a.dataset.sub === route.sub);
    document.body.dataset.page = route.page + (route.sub ? '-' + route.sub : '');
    if (route.page === 'channels') every(CHANNELS_EVERY_MS, refreshChannels);
    else if (route.page === 'recordings') every(RECORDINGS_EVERY_MS, refreshRecordings);
    else if (route.sub === 'webhooks') {
      refreshWebhooks();
      timers.push(setInterval(() => { if (!document.hidden) refreshDeliveries(); }, DELIVERIES_EVERY_MS));
    } else if (route.sub === 'recording') {
      updateRecordingPreview();
      loadOutputSettings();
    }
  }

  function rerender() {
    applyLanguage();
    if (route.page === 'channels') renderChannels(channelsCache);
    else if (route.page === 'recordings') refreshRecordings();
    else if (route.sub === 'webhooks') {
      renderWebhooks();
      if (!$('#webhook-form').hidden) {
        for (const el of $$('#webhook-event-boxes [data-i18n]')) setText(el, t(el.dataset.i18n));
      }
    } else if (route.sub === 'recording') updateRecordingPreview();
  }

  async function start() {
    lang = detectLanguage();
    await loadDictionary();
    applyLanguage();
    $('#lang-toggle').addEventListener('click', () => {
      lang = lang === 'zh' ? 'en' : 'zh';
      localStorage.setItem(LANG_KEY, lang);
      rerender();
    });
    initAuth();
    initChannels();
    initWebhooks();
    initRecordingSettings();
    window.addEventListener('hashchange', showRoute);
    document.addEventListener('visibilitychange', () => { if (!document.hidden) refreshCurrent(); });
    showRoute();
    document.body.dataset.ready = 'true';
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
