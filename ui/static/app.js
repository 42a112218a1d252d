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
// With opts.stream the answer's body is left unread: {status, response} for
// a 200, which the caller reads as a stream (opts.signal ends it, and
// opts.lastEventID resumes a Server-Sent Events stream after that id).
async function request(method, template, opts = {}) {
  const { params = {}, query = {}, body, stream, signal, lastEventID } = opts;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && String(v).trim() !== '') q.set(k, String(v).trim());
  }
  if (method === 'GET' && $('strong').checked) q.set('consistency', 'strong');
  const qs = q.toString();
  const url = fill(template, params) + (qs ? '?' + qs : '');
  const headers = { Authorization: 'Bearer ' + state.key };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (lastEventID) headers['Last-Event-ID'] = String(lastEventID);
  let res;
  try {
    res = await fetch(url, { method, headers, body, signal, cache: 'no-store', credentials: 'omit' });
  } catch (err) {
    if (signal && signal.aborted) throw err;
    throw new ApiError(0, 'NETWORK', `the node did not answer: ${err.message}`);
  }
  if (stream && res.status === 200) return { status: res.status, response: res };
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
  live: () => startLive(),
  margin: loadMarginCalls,
  tools: () => {},
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
  loadCharts(i.symbol);
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
// Live journal: GET /v1/journal/stream, read with fetch so the key travels
// in the Authorization header (EventSource cannot send one).

const LIVE_ROWS = 200; // the most entries the live table keeps
const live = { ctrl: null, last: 0, rows: [] };

function stopLive() {
  if (live.ctrl) live.ctrl.abort();
  live.ctrl = null;
  $('live-toggle').textContent = 'Start';
  put($('live-status'), 'Stopped.');
}

// startLive follows the stream until stopped; a broken connection is
// opened again after the last entry shown, so none is missed or repeated.
async function startLive() {
  if (live.ctrl) return;
  const ctrl = new AbortController();
  live.ctrl = ctrl;
  $('live-toggle').textContent = 'Stop';
  while (live.ctrl === ctrl) {
    try {
      put($('live-status'), 'Connecting…');
      await followOnce(ctrl.signal);
      put($('live-status'), 'The stream ended; reconnecting…');
    } catch (err) {
      if (ctrl.signal.aborted) return;
      failure($('live-status'), err);
      if (err instanceof ApiError && err.status >= 400 && err.status < 500) {
        live.ctrl = null;
        $('live-toggle').textContent = 'Start';
        return;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

// followOnce reads one connection's events.
async function followOnce(signal) {
  const r = await request('GET', '/v1/journal/stream', {
    query: { party: $('live-party').value, symbol: $('live-symbol').value },
    stream: true, signal, lastEventID: live.last,
  });
  if (!r.response) throw errorOf(r);
  put($('live-status'), live.last ? `Following, after seq ${live.last}.` : 'Following.');
  const reader = r.response.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      const data = event.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('');
      if (!data) continue; // a keep-alive comment
      const entry = JSON.parse(data);
      if (entry.seq <= live.last) continue;
      live.last = entry.seq;
      showLive(entry);
    }
  }
}

function showLive(e) {
  live.rows.unshift(e);
  live.rows.length = Math.min(live.rows.length, LIVE_ROWS);
  const view = table([
    { label: 'Seq', value: (x) => x.seq, num: true },
    { label: 'Time', value: (x) => x.time },
    { label: 'Actor', value: (x) => x.actor },
    { label: 'Type', value: (x) => (x.instruction || {}).type },
    { label: 'Id', value: (x) => (x.instruction || {}).id },
    { label: 'Status', value: (x) => badge(x.status) },
    { label: 'Reason', value: (x) => (x.reason ? x.reason.code : '') },
  ], live.rows);
  const first = view.querySelector('tbody tr');
  if (first) first.classList.add('fresh');
  put($('live-out'), view);
}

// ---------------------------------------------------------------------------
// Charts of an instrument (uPlot, served by the node).

const CHART_TOP = 8; // holders drawn one by one; the rest are "others"
const SUPPLY_POINTS = 40; // journal entries sampled for the supply history
const COLORS = ['#2563eb', '#16a34a', '#d97706', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#9ca3af'];
const charts = { owners: null, supply: null };

// amount is a decimal string as a number, for drawing only: every figure
// shown as text stays the API's exact string.
function amount(s) {
  return Number(s);
}

function chartWidth(id) {
  return Math.max(300, Math.min(640, $(id).clientWidth || 480));
}

async function loadCharts(symbol) {
  for (const c of Object.values(charts)) if (c) c.destroy();
  charts.owners = charts.supply = null;
  loading($('chart-owners-legend'));
  loading($('chart-supply-legend'));
  if (typeof uPlot === 'undefined') {
    put($('chart-owners-legend'), 'The charting library did not load.');
    return;
  }
  await Promise.all([ownersChart(symbol), supplyChart(symbol)]);
}

async function ownersChart(symbol) {
  const legend = $('chart-owners-legend');
  try {
    const t = await call('GET', '/v1/instruments/{symbol}/holders', { params: { symbol }, query: { limit: '10000' } });
    const holders = (t.holders || []).filter((h) => amount(h.balance) > 0)
      .sort((a, b) => amount(b.balance) - amount(a.balance));
    const top = holders.slice(0, CHART_TOP).map((h) => ({ label: h.party, balance: h.balance }));
    if (holders.length > CHART_TOP) {
      const rest = holders.slice(CHART_TOP).reduce((sum, h) => sum + amount(h.balance), 0);
      top.push({ label: `others (${holders.length - CHART_TOP})`, balance: String(rest) });
    }
    if (!top.length) {
      put(legend, el('p', { class: 'muted', text: 'No holders.' }));
      return;
    }
    const xs = top.map((_, i) => i);
    const ys = top.map((h) => amount(h.balance));
    charts.owners = new uPlot({
      width: chartWidth('chart-owners'), height: 240, legend: { show: false },
      scales: { x: { time: false, range: [-0.5, top.length - 0.5] }, y: { range: (u, min, max) => [0, max * 1.1 || 1] } },
      axes: [{ values: (u, splits) => splits.map((i) => (Number.isInteger(i) && top[i] ? top[i].label : '')), rotate: 0 }, {}],
      series: [{}, { label: 'balance', stroke: COLORS[0], fill: COLORS[0] + '99', paths: uPlot.paths.bars({ size: [0.7, 80] }), points: { show: false } }],
    }, [xs, ys], $('chart-owners'));
    const supply = amount(t.supply) || 1;
    put(legend, el('ul', { class: 'legend-list' }, top.map((h, i) => el('li', {},
      el('span', { class: `swatch c${Math.min(i, 8)}` }),
      `${h.label}: ${h.balance} (${(100 * amount(h.balance) / supply).toFixed(1)}%)`))),
    el('p', { class: 'muted', text: `At journal seq ${t.seq}; supply ${t.supply}.` }));
  } catch (err) {
    failure(legend, err);
  }
}

async function supplyChart(symbol) {
  const legend = $('chart-supply-legend');
  try {
    const page = await call('GET', '/v1/journal', { query: { symbol, limit: '1000' } });
    const seqs = (page.entries || []).filter((e) => e.status === 'accepted').map((e) => ({ seq: e.seq, time: e.time }));
    if (!seqs.length) {
      put(legend, el('p', { class: 'muted', text: 'No accepted entries yet.' }));
      return;
    }
    const step = Math.max(1, Math.ceil(seqs.length / SUPPLY_POINTS));
    const picked = seqs.filter((_, i) => i % step === 0 || i === seqs.length - 1);
    const points = [];
    for (const p of picked) {
      const t = await call('GET', '/v1/instruments/{symbol}/holders', { params: { symbol }, query: { at: String(p.seq), limit: '1' } });
      points.push({ seq: p.seq, time: p.time, supply: t.supply });
    }
    charts.supply = new uPlot({
      width: chartWidth('chart-supply'), height: 240, legend: { show: false },
      scales: { x: { time: false }, y: { range: (u, min, max) => [0, max * 1.1 || 1] } },
      // Seqs are whole numbers: ticks only at whole steps.
      axes: [{ label: 'journal seq', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 1e5, 1e6, 1e7] }, {}],
      series: [{}, { label: 'supply', stroke: COLORS[1], width: 2, fill: COLORS[1] + '33', paths: uPlot.paths.stepped({ align: 1 }) }],
    }, [points.map((p) => p.seq), points.map((p) => amount(p.supply))], $('chart-supply'));
    const last = points[points.length - 1];
    put(legend, el('p', { class: 'muted', text: `Supply ${last.supply} at seq ${last.seq} (${last.time}); ${points.length} points from ${seqs.length} entries.` }));
  } catch (err) {
    failure(legend, err);
  }
}

// ---------------------------------------------------------------------------
// Margin calls: a node of a release without the route answers 404.

async function loadMarginCalls() {
  const out = $('margin-out');
  loading(out);
  const r = await request('GET', '/v1/margin-calls').catch((err) => err);
  if (r instanceof Error) {
    failure(out, r);
    return;
  }
  if (r.status === 404 || r.status === 405) {
    put(out, el('p', { class: 'muted', text: 'Margin calls are not available on this node.' }));
    return;
  }
  if (r.status !== 200) {
    failure(out, errorOf(r));
    return;
  }
  put(out, table([
    { label: 'Party', value: (a) => a.party },
    { label: 'Custodian', value: (a) => a.custodian },
    { label: 'Equity', value: (a) => a.equity, num: true },
    { label: 'Maintenance', value: (a) => a.maintenance_requirement, num: true },
    { label: 'Deficit', value: (a) => a.deficit, num: true },
    { label: 'Loans', value: (a) => (a.loans || []).map((l) => `${l.amount} ${l.cash_symbol} from ${l.lender}`) },
  ], (r.data && r.data.accounts) || []));
}

// ---------------------------------------------------------------------------
// Tools: classify, lint, import.

async function classify(ev) {
  ev.preventDefault();
  const out = $('classify-out');
  loading(out);
  const attributes = {
    underlying: $('cl-underlying').value.trim(),
    payoff: $('cl-payoff').value.trim(),
    embedded_leverage: $('cl-leverage').value.trim(),
    expiry_days: Number($('cl-expiry').value || 0),
    economic_purpose: $('cl-purpose').value.trim(),
  };
  try {
    const c = await call('POST', '/v1/classify', { body: JSON.stringify({ attributes }) });
    put(out, details([['Class', c.class], ['Regulator', c.regulator], ['Category', c.category], ['Allowed', c.allowed],
      ['Because', (c.reasons || []).map((x) => (typeof x === 'string' ? x : x.message || x.code))]]));
  } catch (err) {
    failure(out, err);
  }
}

async function lintCurrent() {
  try {
    const rb = await call('GET', '/v1/rulebook');
    $('lint-yaml').value = rb.yaml;
  } catch (err) {
    failure($('lint-out'), err);
  }
}

async function lint(ev) {
  ev.preventDefault();
  const out = $('lint-out');
  loading(out);
  try {
    const r = await call('POST', '/v1/rulebook/lint', { body: JSON.stringify({ rulebook: $('lint-yaml').value }) });
    const findings = r.findings || [];
    const impact = r.impact || [];
    put(out,
      el('h4', { text: `${findings.length} findings` }),
      table([
        { label: 'Kind', value: (f) => f.kind },
        { label: 'Case', value: (f) => f.subject },
        { label: 'Rules', value: (f) => f.rules },
        { label: 'Resolution', value: (f) => f.resolution },
      ], findings),
      el('h4', { text: `${impact.length} out of compliance today` }),
      table([
        { label: 'Party', value: (x) => x.party },
        { label: 'Symbol', value: (x) => x.symbol },
        { label: 'Rule', value: (x) => x.rule },
        { label: 'Message', value: (x) => x.message },
      ], impact));
  } catch (err) {
    failure(out, err);
  }
}

// The import's CSV header and grammars, as `node import` checks them.
const IMPORT_HEADER = 'holder_id,role,status,jurisdiction,kyc_expires_at,custodian,symbol,amount,acquired_at';
const IMPORT_BATCH = 10000;
const ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;
const SYMBOL_RE = /^[A-Z0-9][A-Z0-9.-]{0,31}$/;
const AMOUNT_RE = /^(0|[1-9][0-9]{0,30})(\.[0-9]{1,18})?$/;
const ROLES = ['investor', 'issuer', 'custodian', 'operator', 'auditor', 'oracle'];
const STATUSES = ['retail', 'accredited', 'qualified_purchaser', 'institutional'];

// csvRows splits CSV text into records with their line numbers (quoted
// fields may hold commas, quotes as "" and newlines).
function csvRows(textIn) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  for (let i = 0; i < textIn.length; i++) {
    const c = textIn[i];
    if (quoted) {
      if (c === '"' && textIn[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else { if (c === '\n') line++; field += c; }
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && textIn[i + 1] === '\n') i++;
      row.push(field);
      if (row.length > 1 || row[0] !== '') rows.push({ line: start, fields: row });
      row = []; field = ''; line++; start = line;
    } else field += c;
  }
  if (field !== '' || row.length) { row.push(field); rows.push({ line: start, fields: row }); }
  return rows;
}

function isoTime(s) {
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) s += 'T00:00:00Z';
  const t = new Date(s);
  return Number.isNaN(t.getTime()) ? null : t.toISOString().replace('.000Z', 'Z');
}

// checkImport returns the plan's rows and every bad row's problems.
function checkImport(rows) {
  const bad = [];
  const good = [];
  const seen = new Map();
  for (const { line, fields } of rows) {
    const problems = [];
    if (fields.length !== 9) {
      bad.push({ line, msg: `${fields.length} fields, want 9` });
      continue;
    }
    const [holder, role, status, jurisdiction, kyc, custodian, symbol, amt, acquired] = fields;
    if (!ID_RE.test(holder)) problems.push(`holder_id "${holder}" is not an id`);
    if (!ROLES.includes(role)) problems.push(`role "${role}" is not a role`);
    if (role === 'investor') {
      if (!STATUSES.includes(status)) problems.push(`status "${status}" is not an investor status`);
      if (!jurisdiction) problems.push('jurisdiction is required for an investor');
      if (!kyc) problems.push('kyc_expires_at is required for an investor');
      if (!custodian) problems.push('custodian is required for an investor');
    }
    if (kyc && !isoTime(kyc)) problems.push(`kyc_expires_at "${kyc}" is not a time`);
    if (!SYMBOL_RE.test(symbol)) problems.push(`symbol "${symbol}" is not a symbol`);
    if (!AMOUNT_RE.test(amt) || Number(amt) === 0) problems.push(`amount "${amt}" must be a positive plain decimal`);
    const at = isoTime(acquired);
    if (!at) problems.push('acquired_at is required, RFC 3339 or YYYY-MM-DD');
    else if (new Date(at) > new Date()) problems.push('acquired_at is in the future');
    const who = [role, status, jurisdiction, kyc, custodian].join('|');
    if (seen.has(holder) && seen.get(holder).who !== who) problems.push(`holder ${holder} is described differently on line ${seen.get(holder).line}`);
    if (!seen.has(holder)) seen.set(holder, { who, line });
    for (const msg of problems) bad.push({ line, msg });
    if (!problems.length) good.push({ line, holder, role, status, jurisdiction, kyc: kyc ? isoTime(kyc) : undefined, custodian, symbol, amount: amt, acquired: at });
  }
  return { good, bad };
}

async function sha256Hex(buffer) {
  const digest = await crypto.subtle.digest('SHA-256', buffer);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function importPlan(rows, hash) {
  const prefix = `imp-${hash.slice(0, 16)}-`;
  const registered = new Set();
  const plan = [];
  for (const r of rows) {
    if (!registered.has(r.holder)) {
      registered.add(r.holder);
      const party = { id: r.holder, role: r.role };
      if (r.status) party.status = r.status;
      if (r.jurisdiction) party.jurisdiction = r.jurisdiction;
      if (r.kyc) party.kyc_expires_at = r.kyc;
      if (r.custodian) party.custodian = r.custodian;
      plan.push({ id: `${prefix}${r.line}-p`, type: 'register_party', party });
    }
    plan.push({ id: `${prefix}${r.line}`, type: 'mint', symbol: r.symbol, to: r.holder, amount: r.amount, acquired_at: r.acquired, import: true });
  }
  return plan;
}

async function importRegister(ev) {
  ev.preventDefault();
  const out = $('import-out');
  const status = $('import-status');
  const bar = $('import-progress');
  const file = $('import-file').files[0];
  if (!file) {
    put(status, 'Choose a CSV file first.');
    return;
  }
  bar.value = 0;
  put(out);
  put(status, `Checking ${file.name}…`);
  const buffer = await file.arrayBuffer();
  const textIn = new TextDecoder().decode(buffer).replace(/^\uFEFF/, '');
  const rows = csvRows(textIn);
  if (!rows.length || rows[0].fields.join(',') !== IMPORT_HEADER) {
    put(status);
    put(out, el('div', { class: 'error', role: 'alert', text: `line 1: the header must be ${IMPORT_HEADER}` }));
    return;
  }
  const { good, bad } = checkImport(rows.slice(1));
  if (bad.length) {
    put(status);
    put(out, el('div', { class: 'error', role: 'alert', text: `${bad.length} bad rows; nothing was sent.` }),
      table([{ label: 'Line', value: (b) => b.line, num: true }, { label: 'Problem', value: (b) => b.msg }], bad.slice(0, 1000)));
    return;
  }
  if ($('import-dry').checked) {
    put(status, `${good.length} rows valid; dry run, nothing sent.`);
    return;
  }
  const plan = importPlan(good, await sha256Hex(buffer));
  const counts = { accepted: 0, existing: 0, rejected: 0, errors: 0 };
  const problems = [];
  const started = performance.now();
  for (let i = 0; i < plan.length; i += IMPORT_BATCH) {
    const batch = plan.slice(i, i + IMPORT_BATCH);
    try {
      const r = await call('POST', '/v1/instructions/batch', { body: JSON.stringify({ instructions: batch }) });
      r.results.forEach((o, j) => {
        const code = o.reason ? o.reason.code : o.error ? o.error.code : '';
        if (o.status === 'accepted') counts.accepted++;
        else if (batch[j].type === 'register_party' && code === 'ALREADY_EXISTS') counts.existing++;
        else {
          if (o.status === 'rejected') counts.rejected++; else counts.errors++;
          problems.push({ id: o.id, status: o.status, code, message: (o.reason || o.error || {}).message });
        }
      });
    } catch (err) {
      failure(out, err);
      put(status, 'Stopped; importing the same file again resumes where it stopped.');
      return;
    }
    const done = Math.min(i + IMPORT_BATCH, plan.length);
    const secs = (performance.now() - started) / 1000;
    const rate = done / Math.max(secs, 0.001);
    bar.value = done / plan.length;
    put(status, `${done}/${plan.length} instructions, ${Math.round(rate)}/s, ETA ${Math.round((plan.length - done) / rate)}s`);
  }
  put(out,
    details([['Rows', good.length], ['Accepted', counts.accepted], ['Holders already registered', counts.existing],
      ['Rejected', counts.rejected], ['Errors', counts.errors]]),
    problems.length ? table([
      { label: 'Id', value: (p) => p.id },
      { label: 'Status', value: (p) => badge(p.status) },
      { label: 'Code', value: (p) => p.code },
      { label: 'Message', value: (p) => p.message },
    ], problems) : null);
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
  $('live-toggle').addEventListener('click', () => (live.ctrl ? stopLive() : startLive()));
  $('live-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    stopLive();
    put($('live-out'));
    live.last = 0;
    startLive();
  });
  $('margin-refresh').addEventListener('click', loadMarginCalls);
  $('classify-form').addEventListener('submit', classify);
  $('lint-form').addEventListener('submit', lint);
  $('lint-current').addEventListener('click', lintCurrent);
  $('import-form').addEventListener('submit', importRegister);

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
