// tokenledger web console. It holds no data of its own: every figure on the
// page comes from the node's /v1 API, called with the key the user pasted,
// so the console can show nothing that key could not read with curl.
//
// Rules this file keeps, because the page's Content-Security-Policy and the
// data it shows demand them:
// - API data reaches the page only as text (textContent, Text nodes), never
//   as HTML, so an instrument name or a rejection message cannot run.
// - Every API call goes through call() or request() with its method and its
//   path as literal strings, the path written as the OpenAPI document writes
//   it, with {id} and {symbol} for parameters; a test reads those calls from
//   this file and fails if one is not a route of the API.
'use strict';

// KEY_STORAGE names the key in sessionStorage: it lives as long as the tab.
const KEY_STORAGE = 'tokenledger.key';

const state = {
  key: sessionStorage.getItem(KEY_STORAGE) || '',
  // me is the key's own party when the parties it sees make that certain
  // (see whoAmI); it only prefills templates and labels the session.
  me: null,
  loaded: new Set(),
  journalNext: null,
  instrument: null,
  // holders is the cap table being paged: the seq its first page was read
  // at (later pages pass it as at, so they agree with the first) and the
  // next page's after, null on the last page.
  holders: { seq: null, next: null },
};

// ---------------------------------------------------------------------------
// DOM helpers: the only ways this file puts anything on the page.

function $(id) {
  return document.getElementById(id);
}

// el builds an element. props: class, text, on {event: fn}, anything else an
// attribute; children are nodes or strings (strings become Text nodes).
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name === 'text') node.textContent = value;
    else if (name === 'on') for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
}

// put replaces what target shows.
function put(target, ...children) {
  target.replaceChildren();
  append(target, children);
}

// text renders a value read from the API; absent values show as a dash.
function text(value) {
  if (value === undefined || value === null || value === '') return '—';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (Array.isArray(value)) return value.length ? value.join(', ') : '—';
  return String(value);
}

// details is a definition list of [label, value] pairs; a value may be a node.
function details(pairs) {
  const list = el('dl', { class: 'details' });
  for (const [label, value] of pairs) {
    list.append(el('dt', { text: label }), el('dd', {}, value instanceof Node ? value : text(value)));
  }
  return list;
}

// table renders rows under columns [{label, value: row => ..., num}]. With
// onPick, a row is a control: click or Enter picks it.
function table(columns, rows, onPick) {
  const head = el('tr', {}, columns.map((c) => el('th', { class: c.num ? 'num' : null, text: c.label })));
  const body = el('tbody');
  if (!rows.length) body.append(el('tr', {}, el('td', { class: 'muted', colspan: columns.length, text: 'none' })));
  for (const row of rows) {
    const tr = el('tr', {}, columns.map((c) => {
      const v = c.value(row);
      return el('td', { class: c.num ? 'num' : null }, v instanceof Node ? v : text(v));
    }));
    if (onPick) {
      tr.className = 'pick';
      tr.tabIndex = 0;
      tr.addEventListener('click', () => onPick(row, tr));
      tr.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter') onPick(row, tr);
      });
    }
    body.append(tr);
  }
  return el('div', { class: 'scroll' }, el('table', {}, el('thead', {}, head), body));
}

// mark highlights the picked row of a table.
function mark(tr) {
  for (const other of tr.parentNode.querySelectorAll('tr.picked')) other.classList.remove('picked');
  tr.classList.add('picked');
}

function badge(status) {
  const cls = status === 'accepted' ? 'badge ok' : status === 'rejected' ? 'badge bad' : 'badge';
  return el('span', { class: cls, text: status });
}

function loading(target) {
  put(target, el('p', { class: 'muted', text: 'Loading…' }));
}

// ---------------------------------------------------------------------------
// The API.

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// HINTS say what a user can do about an error status.
const HINTS = {
  0: 'Check that the node is running and reachable.',
  401: 'This node does not know the key: sign out and sign in with a valid key.',
  403: 'The key\'s party may not see or do this; the API decides who sees what.',
  404: 'Nothing by that name, or nothing this key may see.',
  409: 'The id was used before with another body: use New id.',
  503: 'The node cannot answer now (no leader, catching up, or timed out). Retry; a write with the same id is safe to retry.',
};

// fill writes params into an OpenAPI-style path template, each encoded.
function fill(template, params) {
  return template.replace(/\{([a-z_]+)\}/g, (_, name) => {
    const v = params[name];
    if (v === undefined || v === null || v === '') throw new Error(`${name} is required`);
    return encodeURIComponent(String(v));
  });
}

// request sends one API call and answers {status, data, body} whatever the
// status; data is the parsed JSON body, or null.
async function request(method, template, opts = {}) {
  const { params = {}, query = {}, body } = opts;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && String(v).trim() !== '') q.set(k, String(v).trim());
  }
  if (method === 'GET' && $('strong').checked) q.set('consistency', 'strong');
  const qs = q.toString();
  const url = fill(template, params) + (qs ? '?' + qs : '');
  const headers = { Authorization: 'Bearer ' + state.key };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(url, { method, headers, body, cache: 'no-store', credentials: 'omit' });
  } catch (err) {
    throw new ApiError(0, 'NETWORK', `the node did not answer: ${err.message}`);
  }
  const raw = await res.text();
  let data = null;
  try {
    data = raw ? JSON.parse(raw) : null;
  } catch {
    data = null;
  }
  return { status: res.status, data, body: raw };
}

// errorOf turns a non-2xx answer into an ApiError from the API's error body,
// {"error": {"code", "message"}}.
function errorOf(r) {
  const e = r.data && r.data.error;
  if (e && e.code) return new ApiError(r.status, e.code, e.message || '');
  return new ApiError(r.status, 'HTTP ' + r.status, r.body.slice(0, 200) || 'no body');
}

// call is request for answers where anything but 2xx is an error.
async function call(method, template, opts) {
  const r = await request(method, template, opts);
  if (r.status >= 200 && r.status < 300) return r.data;
  throw errorOf(r);
}

// failure shows an error readably in target.
function failure(target, err) {
  if (!(err instanceof ApiError)) {
    put(target, el('div', { class: 'error', role: 'alert', text: String((err && err.message) || err) }));
    return;
  }
  const title = err.status ? `${err.status} ${err.code}` : err.code;
  put(target, el('div', { class: 'error', role: 'alert' },
    el('strong', { text: title }), ': ', err.message,
    HINTS[err.status] ? el('div', { class: 'hint', text: HINTS[err.status] }) : null));
}

// ---------------------------------------------------------------------------
// Session.

// whoAmI names the key's party from the parties it may see, by API.md's "who
// sees what": a key that does not see everything sees its own party and, for
// a custodian, its investors. So one party, or one that is not an investor,
// is the key's own. Operator and auditor see every party, and the operator
// is one of them; with a second non-investor there, the two cannot be told
// apart, and the answer is null.
function whoAmI(parties) {
  if (parties.length === 1) return parties[0];
  const others = parties.filter((p) => p.role !== 'investor');
  return others.length === 1 ? others[0] : null;
}

async function startSession() {
  // GET /v1/cluster takes any valid key and answers even while the node
  // catches up, so it tells a bad key (401) from a busy node.
  await call('GET', '/v1/cluster');
  $('signin').hidden = true;
  $('console').hidden = false;
  $('session').hidden = false;
  put($('whoami'), 'Signed in');
  showTab('cluster');
  try {
    const { parties } = await call('GET', '/v1/parties');
    state.me = whoAmI(parties);
    put($('whoami'), state.me
      ? ['Signed in as ', el('strong', { text: state.me.id }), ` (${state.me.role})`]
      : 'Signed in; this key sees every party (operator or auditor)');
  } catch {
    // Who we are is a label only; the tabs show any error in full.
  }
}

async function signIn(ev) {
  ev.preventDefault();
  const key = $('key').value.trim();
  if (!key) return;
  loading($('signin-out'));
  state.key = key;
  try {
    await startSession();
    sessionStorage.setItem(KEY_STORAGE, key);
    $('key').value = '';
    put($('signin-out'));
  } catch (err) {
    state.key = '';
    failure($('signin-out'), err);
  }
}

function signOut() {
  sessionStorage.removeItem(KEY_STORAGE);
  state.key = '';
  // A fresh page is the surest way to leave nothing the key read on screen.
  location.reload();
}

// ---------------------------------------------------------------------------
// Tabs.

const LOADERS = {
  cluster: loadCluster,
  parties: loadParties,
  instruments: loadInstruments,
  journal: () => loadJournal(),
  submit: () => {},
  rulebook: loadRulebook,
};

// showTab shows one tab and loads it the first time it is shown.
function showTab(name) {
  for (const button of $('tabs').querySelectorAll('button')) {
    const on = button.dataset.tab === name;
    button.classList.toggle('active', on);
    button.setAttribute('aria-selected', String(on));
    $('tab-' + button.dataset.tab).hidden = !on;
  }
  if (!state.loaded.has(name)) {
    state.loaded.add(name);
    LOADERS[name]();
  }
}

// ---------------------------------------------------------------------------
// Cluster.

async function loadCluster() {
  const out = $('cluster-out');
  loading(out);
  try {
    const c = await call('GET', '/v1/cluster');
    put(out,
      details([
        ['This node', c.id ? `${c.id} (${text(c.state)})` : null],
        ['Leader', c.leader || el('span', { class: 'bad', text: 'none: the cluster has no leader' })],
        ['Term', c.term],
        ['Commit index', c.commit_index],
        ['Applied index', c.applied_index],
      ]),
      el('h3', { text: 'Nodes' }),
      table([
        { label: 'Id', value: (n) => n.id },
        { label: 'Raft address', value: (n) => n.raft_addr },
        { label: 'API address', value: (n) => n.api_addr },
        { label: 'State', value: (n) => n.state },
        { label: 'Voter', value: (n) => n.voter },
      ], c.nodes || []));
  } catch (err) {
    failure(out, err);
  }
}

// ---------------------------------------------------------------------------
// Parties.

async function loadParties() {
  const out = $('parties-out');
  loading(out);
  try {
    const { parties } = await call('GET', '/v1/parties');
    put(out, table([
      { label: 'Id', value: (p) => p.id },
      { label: 'Role', value: (p) => p.role },
      { label: 'Status', value: (p) => p.status },
      { label: 'Jurisdiction', value: (p) => p.jurisdiction },
      { label: 'KYC expires', value: (p) => p.kyc_expires_at },
      { label: 'Custodian', value: (p) => p.custodian },
      { label: 'Frozen', value: (p) => p.frozen },
    ], parties, (p, tr) => {
      mark(tr);
      loadParty(p.id);
    }));
  } catch (err) {
    failure(out, err);
  }
}

// leverage shows a null (equity not positive; older nodes sent "-1") in words.
function leverage(v) {
  return v === '-1' || v == null ? el('span', { class: 'bad', text: 'n/a: equity is not positive' }) : v;
}

async function loadParty(id) {
  const out = $('party-out');
  loading(out);
  try {
    const [p, h] = await Promise.all([
      call('GET', '/v1/parties/{id}', { params: { id } }),
      call('GET', '/v1/parties/{id}/holdings', { params: { id } }),
    ]);
    put(out,
      el('h3', { text: 'Party ' + p.id }),
      details([
        ['Role', p.role],
        ['Status', p.status],
        ['Jurisdiction', p.jurisdiction],
        ['KYC expires', p.kyc_expires_at],
        ['Custodian', p.custodian],
        ['Frozen', p.frozen ? el('span', { class: 'bad', text: 'yes: the whole party is frozen' }) : 'no'],
        ['Registered', p.created_at],
      ]),
      el('h4', { text: 'Holdings' }),
      table([
        { label: 'Symbol', value: (l) => l.symbol },
        { label: 'Balance', value: (l) => l.balance, num: true },
        { label: 'Frozen', value: (l) => l.frozen, num: true },
        { label: 'Locked (holding period)', value: (l) => l.locked, num: true },
      ], h.holdings || []),
      el('h4', { text: 'Margin' }),
      details([
        ['Loan', h.loan],
        ['Equity', h.equity],
        ['Requirement', h.requirement],
        ['Leverage', leverage(h.leverage)],
        ['Unpriced', h.unpriced],
      ]),
      el('button', { type: 'button', text: 'Its journal', on: { click: () => journalFor({ party: p.id }) } }));
  } catch (err) {
    failure(out, err);
  }
}

// ---------------------------------------------------------------------------
// Instruments.

async function loadInstruments() {
  const out = $('instruments-out');
  loading(out);
  try {
    const { instruments } = await call('GET', '/v1/instruments');
    put(out, table([
      { label: 'Symbol', value: (i) => i.symbol },
      { label: 'Name', value: (i) => i.name },
      { label: 'Issuer', value: (i) => i.issuer },
      { label: 'Class', value: (i) => i.class },
      { label: 'Regulator', value: (i) => i.regulator },
      { label: 'Supply', value: (i) => i.supply, num: true },
      { label: 'Holders', value: (i) => i.holder_count, num: true },
      { label: 'Paused', value: (i) => i.paused },
    ], instruments, (i, tr) => {
      mark(tr);
      showInstrument(i);
    }));
  } catch (err) {
    failure(out, err);
  }
}

function showInstrument(i) {
  state.instrument = i.symbol;
  $('instrument-out').hidden = false;
  put($('instrument-title'), `${i.symbol}: ${i.name}`);
  put($('instrument-detail'), details([
    ['Issuer', i.issuer],
    ['Decimals', i.decimals],
    ['Regime', i.regime],
    ['Offering date', i.offering_date],
    ['Max supply', i.max_supply],
    ['Class', i.class],
    ['Regulator', i.regulator],
    ['Category', i.category],
    ['Classified because', i.classification_reasons],
    ['Paused', i.paused],
    ['Supply', i.supply],
    ['Holders', i.holder_count],
    ['Non-accredited holders', i.non_accredited_holders],
    ['Attributes', el('code', { text: JSON.stringify(i.attributes || {}) })],
  ]));
  $('holders-at').value = '';
  loadHolders();
}

// loadHolders reads the first page of the cap table (from the form), or with
// next the page after state.holders.next at the first page's seq.
async function loadHolders(ev, next) {
  if (ev) ev.preventDefault();
  const out = $('holders-out');
  loading(out);
  $('holders-next').disabled = true;
  const query = next
    ? { at: String(state.holders.seq), after: state.holders.next }
    : { at: $('holders-at').value };
  try {
    const t = await call('GET', '/v1/instruments/{symbol}/holders', {
      params: { symbol: state.instrument },
      query,
    });
    state.holders = { seq: t.seq, next: t.next === undefined ? null : t.next };
    $('holders-next').disabled = state.holders.next === null;
    put(out,
      el('h4', { text: `Cap table at journal seq ${t.seq}` + (next ? `, after ${query.after}` : '') }),
      details([['Supply', t.supply]]),
      table([
        { label: 'Party', value: (h) => h.party },
        { label: 'Balance', value: (h) => h.balance, num: true },
      ], t.holders || []));
  } catch (err) {
    failure(out, err);
  }
}

// ---------------------------------------------------------------------------
// Journal.

// journalFor opens the journal tab filtered by party or symbol.
function journalFor(filter) {
  $('journal-after').value = '';
  $('journal-party').value = filter.party || '';
  $('journal-symbol').value = filter.symbol || '';
  state.loaded.add('journal');
  showTab('journal');
  loadJournal();
}

async function loadJournal(after) {
  const out = $('journal-out');
  loading(out);
  put($('entry-out'));
  $('journal-next').disabled = true;
  if (after !== undefined) $('journal-after').value = String(after);
  try {
    const page = await call('GET', '/v1/journal', {
      query: {
        after: $('journal-after').value,
        limit: $('journal-limit').value,
        party: $('journal-party').value,
        symbol: $('journal-symbol').value,
      },
    });
    state.journalNext = page.next === undefined ? null : page.next;
    $('journal-next').disabled = state.journalNext === null;
    put(out, table([
      { label: 'Seq', value: (e) => e.seq, num: true },
      { label: 'Time', value: (e) => e.time },
      { label: 'Actor', value: (e) => e.actor },
      { label: 'Id', value: (e) => e.instruction && e.instruction.id },
      { label: 'Type', value: (e) => e.instruction && e.instruction.type },
      { label: 'Status', value: (e) => badge(e.status) },
      { label: 'Reason', value: (e) => e.reason && e.reason.code },
    ], page.entries || [], (e, tr) => {
      mark(tr);
      showEntry(e);
    }), state.journalNext === null ? el('p', { class: 'muted', text: 'Last page.' }) : null);
  } catch (err) {
    failure(out, err);
  }
}

function showEntry(e) {
  put($('entry-out'),
    el('h3', {}, `Entry ${e.seq} `, badge(e.status)),
    details([
      ['Raft index', e.index],
      ['Time', e.time],
      ['Actor', e.actor],
      ['Parties', e.parties],
      ['Symbols', e.symbols],
      ['Previous hash', el('code', { text: text(e.prev_hash) })],
      ['Hash', el('code', { text: text(e.hash) })],
    ]),
    e.reasons && e.reasons.length ? [el('h4', { text: 'Reasons' }), reasonsTable(e.reasons)] : null,
    el('h4', { text: 'Instruction' }),
    el('pre', { text: JSON.stringify(e.instruction, null, 2) }));
}

async function verifyJournal() {
  const out = $('verify-out');
  loading(out);
  try {
    const v = await call('GET', '/v1/journal/verify');
    put(out, v.ok
      ? el('div', { class: 'notice ok' }, el('strong', { text: 'Chain verified. ' }),
        `${v.length} entries; head `, el('code', { text: text(v.head) }))
      : el('div', { class: 'notice bad' }, el('strong', { text: 'Chain broken. ' }),
        `First bad entry: seq ${text(v.first_bad)}. ${text(v.message)} `,
        `(${v.length} entries; head `, el('code', { text: text(v.head) }), ')'));
  } catch (err) {
    failure(out, err);
  }
}

// ---------------------------------------------------------------------------
// Submit.

// newID makes an instruction id: readable, and random enough never to repeat.
function newID() {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  const rnd = Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(16).padStart(2, '0')).join('');
  return `ui-${stamp}-${rnd}`;
}

function inAYear() {
  return new Date(Date.now() + 365 * 24 * 3600 * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
}

// TEMPLATES are starting points; the names in them (the quickstart's) are
// placeholders to edit.
const TEMPLATES = {
  transfer: () => ({
    id: newID(), type: 'transfer',
    legs: [{ symbol: 'ACME', from: state.me && state.me.role === 'investor' ? state.me.id : 'alice', to: 'bob', amount: '10' }],
  }),
  mint: () => ({ id: newID(), type: 'mint', symbol: 'ACME', to: 'alice', amount: '1000' }),
  register_investor: () => ({
    id: newID(), type: 'register_party',
    party: {
      id: 'carol', role: 'investor', status: 'accredited', jurisdiction: 'US', kyc_expires_at: inAYear(),
      custodian: state.me && state.me.role === 'custodian' ? state.me.id : 'cus-bank',
    },
  }),
};

function useTemplate() {
  const make = TEMPLATES[$('template').value];
  if (!make) return;
  $('instruction').value = JSON.stringify(make(), null, 2);
  put($('outcome-out'));
}

// freshID gives the instruction in the text area a new id.
function freshID() {
  try {
    const ins = JSON.parse($('instruction').value || '{}');
    if (typeof ins !== 'object' || ins === null || Array.isArray(ins)) throw new Error('not a JSON object');
    $('instruction').value = JSON.stringify({ ...ins, id: newID() }, null, 2);
  } catch (err) {
    failure($('outcome-out'), new Error(`The instruction is not a JSON object: ${err.message}`));
  }
}

function reasonsTable(reasons) {
  return table([
    { label: 'Code', value: (r) => r.code },
    { label: 'Rule', value: (r) => r.rule },
    { label: 'Message', value: (r) => r.message },
    { label: 'ERC-1066', value: (r) => r.erc1066 },
  ], reasons);
}

function showOutcome(o, dryRun) {
  const accepted = o.status === 'accepted';
  const verdict = dryRun
    ? (accepted ? 'Would be accepted' : 'Would be rejected')
    : (accepted ? 'Accepted' : o.status === 'rejected' ? 'Rejected' : o.status);
  put($('outcome-out'),
    el('div', { class: 'notice ' + (accepted ? 'ok' : 'bad') },
      el('strong', { text: verdict }), dryRun ? ' (dry run: nothing was applied)' : null),
    details([
      ['Id', o.id],
      ['Status', badge(o.status)],
      dryRun ? null : ['Raft index', o.index],
      dryRun ? null : ['Journal seq', o.seq],
      o.reason ? ['Reason code', o.reason.code] : null,
      o.reason ? ['Rule', o.reason.rule] : null,
      o.reason ? ['Message', o.reason.message] : null,
      o.reason ? ['ERC-1066', o.reason.erc1066] : null,
    ].filter(Boolean)),
    o.reasons && o.reasons.length
      ? [el('h4', { text: 'Every rule that refused' }), reasonsTable(o.reasons)]
      : null);
}

async function send(dryRun) {
  const out = $('outcome-out');
  const body = $('instruction').value;
  try {
    JSON.parse(body);
  } catch (err) {
    failure(out, new Error(`The instruction is not JSON: ${err.message}`));
    return;
  }
  const buttons = [$('check'), $('submit')];
  for (const b of buttons) b.disabled = true;
  loading(out);
  try {
    // 200 is an outcome; so is 422 from a write, a rejection that was journaled.
    const r = dryRun
      ? await request('POST', '/v1/check', { body })
      : await request('POST', '/v1/instructions', { body });
    if ((r.status === 200 || r.status === 422) && r.data && r.data.status) showOutcome(r.data, dryRun);
    else failure(out, errorOf(r));
  } catch (err) {
    failure(out, err);
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

// ---------------------------------------------------------------------------
// Rulebook.

async function loadRulebook() {
  const out = $('rulebook-out');
  loading(out);
  try {
    const rb = await call('GET', '/v1/rulebook');
    put(out, details([['Version', rb.version]]), el('pre', { class: 'yaml', text: rb.yaml }));
  } catch (err) {
    failure(out, err);
  }
}

// ---------------------------------------------------------------------------
// Wiring.

function init() {
  $('signin-form').addEventListener('submit', signIn);
  $('signout').addEventListener('click', signOut);
  $('tabs').addEventListener('click', (ev) => {
    const tab = ev.target.closest('button[data-tab]');
    if (tab) showTab(tab.dataset.tab);
  });
  $('cluster-refresh').addEventListener('click', loadCluster);
  $('parties-refresh').addEventListener('click', () => {
    put($('party-out'));
    loadParties();
  });
  $('instruments-refresh').addEventListener('click', () => {
    $('instrument-out').hidden = true;
    loadInstruments();
  });
  $('holders-form').addEventListener('submit', loadHolders);
  $('holders-next').addEventListener('click', () => {
    if (state.holders.next !== null) loadHolders(null, true);
  });
  $('instrument-journal').addEventListener('click', () => journalFor({ symbol: state.instrument }));
  $('journal-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    loadJournal();
  });
  $('journal-next').addEventListener('click', () => {
    if (state.journalNext !== null) loadJournal(state.journalNext);
  });
  $('journal-verify').addEventListener('click', verifyJournal);
  $('template').addEventListener('change', useTemplate);
  $('new-id').addEventListener('click', freshID);
  $('check').addEventListener('click', () => send(true));
  $('submit-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    send(false);
  });
  $('rulebook-refresh').addEventListener('click', loadRulebook);

  if (state.key) {
    // A key kept from earlier in this tab: check it is still good.
    startSession().catch((err) => {
      sessionStorage.removeItem(KEY_STORAGE);
      state.key = '';
      failure($('signin-out'), err);
    });
  }
}

init();
