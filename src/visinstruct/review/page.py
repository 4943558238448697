"""The review page: one HTML document, inline CSS and JS, no external URLs.

Every piece of sample text is put into the page with `textContent` or a form field's `value`:
model output is untrusted and never becomes markup.
"""

from __future__ import annotations

PAGE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf" content="__CSRF__">
<meta name="base" content="__BASE__">
<meta name="reviewer-default" content="__REVIEWER__">
<link rel="icon" href="data:,">
<title>visinstruct review</title>
<style nonce="__NONCE__">
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: #1d1d1f; background: #f4f4f6; }
header { display: flex; gap: 12px; align-items: center; padding: 8px 12px; background: #23262e; color: #eee; }
header h1 { font-size: 15px; margin: 0 12px 0 0; }
header input { width: 140px; }
#progress { margin-left: auto; font-size: 12px; opacity: .9; }
main { display: grid; grid-template-columns: 340px 1fr; height: calc(100vh - 40px); }
aside { border-right: 1px solid #ccc; display: flex; flex-direction: column; min-height: 0;
  background: #fff; }
#filters { display: grid; grid-template-columns: 1fr 1fr; gap: 4px; padding: 8px;
  border-bottom: 1px solid #ddd; }
#filters input { grid-column: span 2; }
#queue { list-style: none; margin: 0; padding: 0; overflow-y: auto; flex: 1; }
#queue li { padding: 6px 8px; border-bottom: 1px solid #eee; cursor: pointer; }
#queue li.sel { background: #dde8ff; }
#queue li .q { display: block; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; color: #444; }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 11px; margin-right: 4px;
  background: #ddd; }
.badge.needs_review { background: #ffe08a; } .badge.accepted { background: #b9f0c4; }
.badge.rejected { background: #f7b5b5; } .badge.edited { background: #bcd6ff; }
#more { margin: 6px; }
#view { overflow-y: auto; padding: 12px 16px; }
#images { display: flex; gap: 8px; flex-wrap: wrap; }
#images img { max-width: 100%; max-height: 58vh; border: 1px solid #bbb; background: #fff; cursor: zoom-in; }
#zoom { position: fixed; inset: 0; background: rgba(0,0,0,.85); overflow: auto; z-index: 10;
  cursor: zoom-out; }
#zoom img { display: block; margin: auto; max-width: none; }
.meta span { margin-right: 10px; }
.turn { display: grid; grid-template-columns: 28px 1fr; gap: 4px; margin: 6px 0; }
textarea, .opt input { width: 100%; font: inherit; padding: 4px; border: 1px solid #bbb; border-radius: 3px; }
textarea.q { min-height: 3em; } textarea.a { min-height: 4em; }
.dirty { border-color: #3b6fd6; background: #f3f7ff; }
.opt { display: grid; grid-template-columns: 28px 1fr; gap: 4px; margin: 3px 0; }
#actions { position: sticky; top: 0; background: #f4f4f6; padding: 6px 0; display: flex; gap: 6px;
  align-items: center; z-index: 2; flex-wrap: wrap; }
#actions button { padding: 4px 10px; }
#msg { margin-left: 8px; } #msg.err { color: #b00020; font-weight: 600; }
#conflict { background: #fff3cd; border: 1px solid #e0b100; padding: 6px 8px; margin: 6px 0; }
#reject-box { display: flex; gap: 6px; align-items: center; }
#reject-box input { width: 360px; }
table.checks { border-collapse: collapse; margin: 4px 0; }
table.checks td, table.checks th { border: 1px solid #ddd; padding: 2px 6px; text-align: left;
  vertical-align: top; }
tr.fail td { background: #fde8e8; }
pre { background: #fff; border: 1px solid #ddd; padding: 6px; white-space: pre-wrap; word-break: break-word;
  max-height: 240px; overflow: auto; font-size: 12px; }
.failed li { color: #9b1c1c; }
.verify { background: #eef; padding: 4px 8px; border-left: 3px solid #55c; }
h3 { margin: 12px 0 4px; font-size: 14px; }
kbd { border: 1px solid #999; border-radius: 3px; padding: 0 3px; font-size: 11px; background: #fff; }
.hint { color: #666; font-size: 12px; }
</style>
</head>
<body>
<header>
  <h1>visinstruct review</h1>
  <label>reviewer <input id="reviewer" autocomplete="off" maxlength="100"></label>
  <span id="progress"></span>
</header>
<main>
<aside>
  <div id="filters">
    <select id="f-status" title="status">
      <option value="">any status</option><option>needs_review</option><option>accepted</option>
      <option>edited</option><option>rejected</option>
    </select>
    <select id="f-check" title="failed check"><option value="">any check</option></select>
    <select id="f-domain" title="domain"><option value="">any domain</option></select>
    <select id="f-type" title="type"><option value="">any type</option></select>
    <input id="f-q" type="search" placeholder="search question/answer" maxlength="200">
  </div>
  <ul id="queue"></ul>
  <button id="more" hidden>load more</button>
</aside>
<section id="view">
  <div id="actions">
    <button id="b-accept" title="a">Accept <kbd>a</kbd></button>
    <button id="b-reject" title="r">Reject <kbd>r</kbd></button>
    <button id="b-edit" title="e">Edit <kbd>e</kbd></button>
    <button id="b-save" title="Ctrl+Enter">Save edit <kbd>Ctrl+Enter</kbd></button>
    <button id="b-prev" title="k">Prev <kbd>k</kbd></button>
    <button id="b-next" title="j">Next <kbd>j</kbd></button>
    <button id="b-undo" title="u">Undo <kbd>u</kbd></button>
    <span id="reject-box" hidden><input id="reason" placeholder="reason, Enter to reject, Esc to cancel"
      maxlength="2000"></span>
    <span id="msg" role="status"></span>
  </div>
  <div id="conflict" hidden></div>
  <div id="sample"><p class="hint">Loading…</p></div>
</section>
</main>
<div id="zoom" hidden></div>
<script nonce="__NONCE__">
'use strict';
(() => {
const CSRF = document.querySelector('meta[name=csrf]').content;
const BASE = document.querySelector('meta[name=base]').content;  // every URL lives under it
const REVIEWER_DEFAULT = document.querySelector('meta[name=reviewer-default]').content;
if (location.search) history.replaceState(null, '', location.pathname);
const $ = (id) => document.getElementById(id);
const HEX64 = /^[0-9a-f]{64}$/;
const LETTERS = 'ABCD';
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
let queue = [], next = null, cur = -1, rec = null, busy = false, loadToken = 0;

const reviewerInput = $('reviewer');
reviewerInput.value = localStorage.getItem('visinstruct.reviewer') || REVIEWER_DEFAULT;
reviewerInput.addEventListener('change', () => {
  localStorage.setItem('visinstruct.reviewer', reviewerInput.value.trim());
  refreshProgress();
});
const reviewer = () => reviewerInput.value.trim() || REVIEWER_DEFAULT;

async function api(method, path, body) {
  const opt = {method, credentials: 'same-origin', headers: {'Accept': 'application/json'}};
  if (body !== undefined) {
    opt.headers['Content-Type'] = 'application/json';
    opt.headers['X-Visinstruct-CSRF'] = CSRF;
    opt.body = JSON.stringify(body);
  }
  try {
    const r = await fetch(BASE + path, opt);
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    return {status: r.status, data};
  } catch (e) {
    return {status: 0, data: {error: 'the server did not answer'}};
  }
}

function msg(text, err) { const m = $('msg'); m.textContent = text || ''; m.className = err ? 'err' : ''; }

async function refreshProgress() {
  const {status, data} = await api('GET', '/api/progress');
  if (status !== 200) return;
  const s = data.overall.by_status;
  const mine = data.reviewers[reviewer()] || {};
  $('progress').textContent =
    `${data.overall.total} samples · needs_review ${s.needs_review || 0} · accepted ${s.accepted || 0}` +
    ` · edited ${s.edited || 0} · rejected ${s.rejected || 0} · reviewed ${data.overall.reviewed}` +
    ` · you: ${mine.total || 0}`;
}

async function loadFacets() {
  const {status, data} = await api('GET', '/api/facets');
  if (status !== 200) return;
  for (const [id, key] of [['f-domain', 'domains'], ['f-type', 'types'], ['f-check', 'checks']]) {
    for (const v of data[key]) { const o = el('option', null, v); o.value = v; $(id).append(o); }
  }
}

function queueItem(it) {
  const li = el('li');
  li.dataset.id = it.id;
  li.dataset.status = it.status;
  li.append(el('span', 'badge ' + it.status, it.status), el('span', null, `${it.domain} · ${it.type}`));
  li.append(el('span', 'q', it.question));
  li.addEventListener('click', () => select(queue.findIndex((x) => x.id === it.id)));
  return li;
}

async function loadQueue(reset) {
  const p = new URLSearchParams();
  for (const k of ['status', 'domain', 'type', 'check', 'q']) {
    const v = $('f-' + k).value.trim();
    if (v) p.set(k, v);
  }
  if (!reset && next) p.set('after', next);
  p.set('limit', '50');
  const {status, data} = await api('GET', '/api/samples?' + p.toString());
  if (status !== 200) { msg((data && data.error) || 'could not load the queue', true); return; }
  if (reset) { queue = []; $('queue').replaceChildren(); cur = -1; }
  next = data.next;
  for (const it of data.items) { queue.push(it); $('queue').append(queueItem(it)); }
  $('more').hidden = !next;
  if (reset) {
    if (queue.length) await select(0);
    else { rec = null; $('sample').replaceChildren(el('p', 'hint', 'Nothing matches these filters.')); }
  }
}

function itemEl(id) {
  for (const li of $('queue').children) if (li.dataset.id === id) return li;
  return null;
}

function updateItem(r) {
  const s = r.sample;
  const it = queue.find((x) => x.id === s.id);
  if (it) { it.status = s.status; it.question = (s.turns[0] || {}).question || ''; }
  const li = itemEl(s.id);
  if (li && it) li.replaceWith(queueItem(it));
  markSelected();
}

function markSelected() {
  const selId = cur >= 0 ? queue[cur].id : null;
  for (const li of $('queue').children) li.classList.toggle('sel', li.dataset.id === selId);
  const li = cur >= 0 ? itemEl(queue[cur].id) : null;
  if (li) li.scrollIntoView({block: 'nearest'});
}

async function select(i) {
  if (i < 0 || i >= queue.length) return;
  cur = i;
  markSelected();
  $('conflict').hidden = true;
  hideReject();
  const mine = ++loadToken;
  const {status, data} = await api('GET', '/api/samples/' + encodeURIComponent(queue[i].id));
  if (mine !== loadToken) return;
  if (status !== 200) { msg((data && data.error) || 'could not load the sample', true); return; }
  render(data);
  if (i >= queue.length - 5 && next) loadQueue(false);
}

function zoom(src) {
  const z = $('zoom');
  const img = el('img');
  img.src = src;
  img.alt = 'zoomed image';
  z.replaceChildren(img);
  z.hidden = false;
}
$('zoom').addEventListener('click', () => { $('zoom').hidden = true; });

function section(title) { const h = el('h3', null, title); $('sample').append(h); }

function render(r) {
  rec = r;
  const s = r.sample;
  const root = $('sample');
  root.replaceChildren();
  root.dataset.id = s.id;
  $('view').dataset.id = s.id;
  const imgs = el('div');
  imgs.id = 'images';
  for (const im of r.images) {
    if (!HEX64.test(im.id)) continue;
    const img = el('img');
    img.src = BASE + '/images/' + im.id;
    img.alt = 'sample image';
    img.title = `${im.width || '?'}×${im.height || '?'} — click to zoom`;
    img.addEventListener('click', () => zoom(img.src));
    imgs.append(img);
  }
  root.append(imgs);
  const meta = el('div', 'meta');
  meta.append(el('span', 'badge ' + s.status, s.status));
  for (const [k, v] of [['id', s.id], ['domain', s.domain], ['type', s.type], ['language', s.language],
                        ['category', s.category], ['version', r.version], ['round', s.round]]) {
    meta.append(el('span', null, `${k}: ${v === null || v === undefined ? '—' : v}`));
  }
  root.append(meta);
  if (r.failed.length) {
    section('Failed checks');
    const ul = el('ul', 'failed');
    for (const f of r.failed) ul.append(el('li', null, f));
    root.append(ul);
  }
  const v = s.checks && s.checks.verify;
  if (v) {
    const d = el('div', 'verify');
    const verdict = v.pass ? 'verifier agrees' : 'verifier disagrees';
    let text = verdict;
    if (v.model_answer !== undefined) text += ` — model answer: ${v.model_answer}`;
    if (s.short_answer !== null && s.short_answer !== undefined) text += ` — expected: ${s.short_answer}`;
    if (s.answer_letter) text += ` — expected letter: ${s.answer_letter}`;
    if (v.reason) text += ` — ${v.reason}`;
    d.textContent = text;
    root.append(d);
  }
  section('Turns');
  s.turns.forEach((t, n) => {
    const q = el('textarea', 'q edit');
    q.value = t.question; q.dataset.turn = n; q.dataset.field = 'question';
    const a = el('textarea', 'a edit');
    a.value = t.answer; a.dataset.turn = n; a.dataset.field = 'answer';
    q.setAttribute('aria-label', `question ${n + 1}`);
    a.setAttribute('aria-label', `answer ${n + 1}`);
    const row = el('div', 'turn');
    row.append(el('b', null, 'Q' + (n + 1)), q, el('b', null, 'A' + (n + 1)), a);
    root.append(row);
  });
  if (s.options && s.options.length) {
    section('Options');
    s.options.forEach((o, n) => {
      const row = el('div', 'opt');
      const inp = el('input', 'option edit'); inp.value = o; inp.dataset.option = n;
      row.append(el('b', null, LETTERS[n]), inp);
      root.append(row);
    });
    const sel = el('select', 'letter edit');
    sel.id = 'answer-letter';
    for (let n = 0; n < s.options.length; n++) {
      const o = el('option', null, LETTERS[n]); o.value = LETTERS[n]; sel.append(o);
    }
    sel.value = s.answer_letter || 'A';
    const lab = el('label', null, 'answer letter ');
    lab.append(sel);
    root.append(lab);
  }
  if (s.short_answer !== null && s.short_answer !== undefined) {
    root.append(el('p', null, 'short answer: ' + s.short_answer));
  }
  for (const e of root.querySelectorAll('.edit')) {
    e.addEventListener('input', () => e.classList.add('dirty'));
    e.addEventListener('change', () => e.classList.add('dirty'));
  }
  section('Checks');
  const table = el('table', 'checks');
  const head = el('tr');
  for (const h of ['check', 'result', 'severity', 'reason', 'details']) head.append(el('th', null, h));
  table.append(head);
  for (const [name, c] of Object.entries(s.checks || {})) {
    const tr = el('tr', c && c.pass === false ? 'fail' : null);
    const extra = Object.assign({}, c);
    delete extra.pass; delete extra.reason; delete extra.severity;
    tr.append(el('td', null, name), el('td', null, c && c.pass === false ? 'failed' : 'passed'),
              el('td', null, (c && c.severity) || ''), el('td', null, (c && c.reason) || ''),
              el('td', null, Object.keys(extra).length ? JSON.stringify(extra) : ''));
    table.append(tr);
  }
  $('sample').append(table);
  section('Provenance');
  $('sample').append(el('pre', null, JSON.stringify(s.provenance, null, 2)));
  if (r.images.length) {
    const ip = r.images.map((i) => i.provenance || {});
    $('sample').append(el('pre', null, JSON.stringify(ip, null, 2)));
  }
  section('Context');
  $('sample').append(el('pre', null, JSON.stringify(s.context, null, 2)));
}

function collectEdit() {
  const root = $('sample');
  const turns = rec.sample.turns.map((t) => ({question: t.question, answer: t.answer}));
  for (const e of root.querySelectorAll('textarea.edit')) turns[+e.dataset.turn][e.dataset.field] = e.value;
  const body = {turns};
  const opts = root.querySelectorAll('input.option');
  if (opts.length) {
    body.options = [...opts].map((e) => e.value);
    body.answer_letter = $('answer-letter').value;
  }
  return body;
}

function applyEdit(body) {
  const root = $('sample');
  for (const e of root.querySelectorAll('textarea.edit')) {
    const t = body.turns && body.turns[+e.dataset.turn];
    if (t && t[e.dataset.field] !== e.value) { e.value = t[e.dataset.field]; e.classList.add('dirty'); }
  }
  if (body.options) {
    for (const e of root.querySelectorAll('input.option')) {
      const o = body.options[+e.dataset.option];
      if (o !== e.value) { e.value = o; e.classList.add('dirty'); }
    }
    $('answer-letter').value = body.answer_letter;
  }
}

function showConflict(current, body) {
  render(current);
  updateItem(current);
  const c = $('conflict');
  const s = current.sample;
  c.textContent = `Conflict: someone changed this sample (now ${s.status}, version ${current.version}). ` +
    (body.action === 'edit'
      ? 'The record below is the current one with your edits re-applied on top;' +
        ' press Ctrl+Enter to save them.'
      : `Press ${body.action[0]} again to ${body.action} the current version.`);
  c.hidden = false;
  if (body.action === 'edit') applyEdit(body);
  msg('conflict: the sample changed', true);
}

async function act(action, extra) {
  if (!rec || busy) return;
  const body = Object.assign({action, version: rec.version, reviewer: reviewer()}, extra || {});
  busy = true;
  msg('saving…');
  const {status, data} = await api('POST', '/api/samples/' + encodeURIComponent(rec.sample.id), body);
  busy = false;
  if (status === 200) {
    $('conflict').hidden = true;
    updateItem(data);
    msg(`${action}ed ${data.sample.id}`.replace('eed', 'ed').replace('acceptd', 'accepted'));
    if (document.activeElement && $('view').contains(document.activeElement)) document.activeElement.blur();
    refreshProgress();
    if (cur < queue.length - 1) await select(cur + 1);
    else render(data);
  } else if (status === 409 && data && data.current) {
    showConflict(data.current, body);
  } else {
    msg((data && data.error) || `failed (${status})`, true);
  }
}

function startReject() {
  if (!rec) return;
  $('reject-box').hidden = false;
  $('reason').value = '';
  $('reason').focus();
}
function hideReject() { $('reject-box').hidden = true; }
function confirmReject() {
  const reason = $('reason').value.trim();
  hideReject();
  act('reject', reason ? {reason} : {});
}
function startEdit() {
  const first = $('sample').querySelector('.edit');
  if (first) first.focus();
}
function saveEdit() { if (rec) act('edit', collectEdit()); }

async function undo() {
  if (busy) return;
  busy = true;
  const {status, data} = await api('POST', '/api/undo', {reviewer: reviewer()});
  busy = false;
  if (status === 200) {
    updateItem(data);
    const i = queue.findIndex((x) => x.id === data.sample.id);
    if (i >= 0) { cur = i; markSelected(); }
    render(data);
    $('conflict').hidden = true;
    msg('undone: ' + data.sample.id);
    refreshProgress();
  } else if (status === 409 && data && data.current) {
    render(data.current);
    msg('cannot undo: the sample changed after your action', true);
  } else {
    msg((data && data.error) || 'nothing to undo', true);
  }
}

function move(d) { if (queue.length) select(Math.max(0, Math.min(queue.length - 1, cur + d))); }

$('b-accept').addEventListener('click', () => act('accept'));
$('b-reject').addEventListener('click', startReject);
$('b-edit').addEventListener('click', startEdit);
$('b-save').addEventListener('click', saveEdit);
$('b-prev').addEventListener('click', () => move(-1));
$('b-next').addEventListener('click', () => move(1));
$('b-undo').addEventListener('click', undo);
$('more').addEventListener('click', () => loadQueue(false));
for (const id of ['f-status', 'f-domain', 'f-type', 'f-check']) {
  $(id).addEventListener('change', () => loadQueue(true));
}
let searchTimer = null;
$('f-q').addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => loadQueue(true), 250);
});

document.addEventListener('keydown', (ev) => {
  const t = ev.target;
  const typing = t && (t.tagName === 'TEXTAREA' || t.tagName === 'INPUT' || t.tagName === 'SELECT');
  if (t === $('reason')) {
    if (ev.key === 'Enter') { ev.preventDefault(); confirmReject(); }
    else if (ev.key === 'Escape') { ev.preventDefault(); hideReject(); t.blur(); }
    return;
  }
  if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
    if (rec && (!typing || $('sample').contains(t))) { ev.preventDefault(); saveEdit(); }
    return;
  }
  if (ev.key === 'Escape') {
    if (!$('zoom').hidden) $('zoom').hidden = true;
    else if (typing) t.blur();
    return;
  }
  if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  switch (ev.key) {
    case 'a': act('accept'); break;
    case 'r': startReject(); break;
    case 'e': startEdit(); break;
    case 'j': case 'ArrowDown': case 'ArrowRight': move(1); break;
    case 'k': case 'ArrowUp': case 'ArrowLeft': move(-1); break;
    case 'u': undo(); break;
    default: return;
  }
  ev.preventDefault();
});

loadFacets();
refreshProgress();
loadQueue(true);
})();
</script>
</body>
</html>
"""


def render_page(nonce: str, csrf: str, base: str, reviewer_default: str) -> str:
    """The page with its CSP nonce, CSRF value, URL prefix (`base`, which every request the page
    makes starts with) and default reviewer filled in (all already escaped)."""
    page = PAGE.replace("__NONCE__", nonce).replace("__CSRF__", csrf).replace("__BASE__", base)
    return page.replace("__REVIEWER__", reviewer_default)
