"""The HTML report's inline style and script (no file, font or library is fetched: the report works from disk and
as an e-mail attachment, under a ``default-src 'none'`` policy).

The script only ever puts wire text into the page through ``textContent``: never ``innerHTML``.
"""

STYLE = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1240px;padding:12px;
color:#212121;background:#fafafa}
h1{font-size:22px;margin:4px 0}h2{font-size:18px;margin:22px 0 6px;border-bottom:1px solid #ccc}
.dim{color:#757575}.cards{display:flex;flex-wrap:wrap;gap:8px}.card{background:#fff;border:1px solid #ddd;
border-radius:4px;padding:6px 10px}.card b{font-size:18px;display:block}
.error{color:#c62828}.warning{color:#e65100}.info{color:#1565c0}.ok{color:#2e7d32}
table{border-collapse:collapse;background:#fff;width:100%}td,th{border:1px solid #ddd;padding:3px 6px;
text-align:left;vertical-align:top;overflow-wrap:anywhere}th{background:#eee}
.legend{display:flex;flex-wrap:wrap;gap:14px;margin:4px 0}.key svg{vertical-align:middle}
svg .axis,text.axis{font:11px sans-serif;fill:#424242}
details{background:#fff;border:1px solid #ddd;border-radius:3px;margin:3px 0;padding:2px 6px}
summary{cursor:pointer}pre{white-space:pre-wrap;word-break:break-all;background:#f5f5f5;padding:6px;margin:4px 0;
font-size:12px}.ex summary span{margin-right:10px}.pager{margin:8px 0;display:flex;gap:8px;align-items:center}
.jump{border:0;background:none;padding:0;color:#1565c0;text-decoration:underline;cursor:pointer;font:inherit}
.pass{color:#2e7d32}.fail{color:#c62828}.skip{color:#757575}.warn{color:#e65100}
"""

SCRIPT = r"""
(function () {
  'use strict';
  var meta = JSON.parse(document.getElementById('report-meta').textContent);
  var PAGE = 100;
  var caches = {x: {}, t: {}, f: {}};
  // A block: gzip-compressed JSON in base64, inflated by the browser itself; kept as a promise, a few at a time.
  function block(prefix, index) {
    var cache = caches[prefix];
    if (!(index in cache)) {
      var keys = Object.keys(cache);
      if (keys.length > 3) { delete cache[keys[0]]; }
      var text = document.getElementById(prefix + index).textContent.trim();
      var binary = atob(text);
      var bytes = new Uint8Array(binary.length);
      for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
      var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
      cache[index] = new Response(stream).text().then(JSON.parse).then(prefix === 'x' ? wholeRows : null);
    }
    return cache[index];
  }
  // An exchange block is {"parts": [...], "rows": [...]}: what repeats from row to row (an exchange's tail, the
  // response's header list, each finding) is stored once in the block's parts, and a row names it by its place
  // there: "tail": 3, "response_headers": 5, "findings": [4]. Each row is made whole again, every member in its
  // place and order (the tail's members where the tail is named), as if it had been written out in full.
  function wholeRows(stored) {
    var parts = stored.parts;
    function part(value) { return typeof value === 'number' ? parts[value] : value; }
    return stored.rows.map(function (row) {
      var whole = {};
      Object.keys(row).forEach(function (key) {
        var value = row[key];
        if (key === 'tail') {
          value = part(value);
          Object.keys(value).forEach(function (name) { whole[name] = value[name]; });
        } else if (key === 'findings') {
          whole[key] = value.map(part);
        } else if (key === 'response_headers' || key === 'request_headers') {
          whole[key] = part(value);
        } else {
          whole[key] = value;
        }
      });
      return whole;
    });
  }
  function tokenOf(row) {
    if (row.token_inline) { return Promise.resolve(row.token_inline); }
    if (row.token_index === null || row.token_index === undefined) { return Promise.resolve(null); }
    return block('t', Math.floor(row.token_index / meta.token_block)).then(function (tokens) {
      return tokens[row.token_index % meta.token_block];
    });
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  var CHECKS = meta.checks;
  function checkRows(row, token) {
    var table = el('table');
    var head = el('tr');
    ['check', 'result', 'detail'].forEach(function (h) { head.appendChild(el('th', null, h)); });
    table.appendChild(head);
    var byRule = {};
    row.findings.forEach(function (f) { (byRule[f.rule] = byRule[f.rule] || []).push(f); });
    CHECKS.forEach(function (check) {
      var failed = [];
      check.rules.forEach(function (r) { (byRule[r] || []).forEach(function (f) { failed.push(f); }); });
      var result, cls, detail = '';
      if (failed.length) {
        var worst = failed.some(function (f) { return f.severity === 'error'; });
        result = worst ? 'failed' : 'warning'; cls = worst ? 'fail' : 'warn';
        detail = failed.map(function (f) { return f.rule + ': ' + f.message; }).join('\n');
      } else if (check.token && (!token || token.problem || token.kind === 'empty' || token.kind === 'opaque')) {
        result = 'not run'; cls = 'skip';
        detail = token ? 'nothing to check in a ' + token.kind + ' token' : 'no token';
      } else if (check.name === 'signature' && token && token.signature !== 'valid') {
        result = token.signature || 'not run'; cls = 'skip';
      } else {
        result = 'passed'; cls = 'pass';
        if (check.name === 'signature' && token) { detail = token.key || ''; }
      }
      var tr = el('tr');
      tr.appendChild(el('td', null, check.name));
      tr.appendChild(el('td', cls, result));
      tr.appendChild(el('td', null, detail));
      table.appendChild(tr);
    });
    var listed = {};
    CHECKS.forEach(function (check) { check.rules.forEach(function (r) { listed[r] = 1; }); });
    row.findings.filter(function (f) { return !listed[f.rule]; }).forEach(function (f) {
      var tr = el('tr');
      tr.appendChild(el('td', null, 'other'));
      tr.appendChild(el('td', f.severity === 'error' ? 'fail' : 'warn', f.severity));
      tr.appendChild(el('td', null, f.rule + ': ' + f.message));
      table.appendChild(tr);
    });
    return table;
  }
  function body(row, token) {
    var box = el('div');
    box.appendChild(el('h4', null, 'Checks'));
    box.appendChild(checkRows(row, token));
    if (token) {
      box.appendChild(el('h4', null, 'Token (' + token.kind + ', signature ' + (token.signature || 'none') + ')'));
      if (token.outer) { box.appendChild(el('pre', null, 'outer ' + JSON.stringify(token.outer, null, 2))); }
      if (token.actor) { box.appendChild(el('pre', null, 'actor ' + JSON.stringify(token.actor, null, 2))); }
      if (token.problem) { box.appendChild(el('p', 'fail', token.problem)); }
    }
    var rest = {};
    Object.keys(row).forEach(function (k) {
      if (['findings', 'token_index', 'token_inline', 'request_headers', 'response_headers'].indexOf(k) < 0) {
        rest[k] = row[k];
      }
    });
    [['Request headers', row.request_headers], ['Response headers', row.response_headers]].forEach(function (h) {
      if (!h[1]) { return; }
      box.appendChild(el('h4', null, h[0]));
      box.appendChild(el('pre', null, h[1].map(function (pair) { return pair[0] + ': ' + pair[1]; }).join('\n')));
    });
    box.appendChild(el('h4', null, 'Exchange'));
    box.appendChild(el('pre', null, JSON.stringify(rest, null, 2)));
    return box;
  }
  function summaryLine(row) {
    var summary = el('summary');
    summary.appendChild(el('span', null, row.id));
    summary.appendChild(el('span', 'dim', (row.time || '').replace('T', ' ').replace('Z', '')));
    summary.appendChild(el('span', null, (row.client || '?') + ' \u2192 ' + (row.host || '?')));
    summary.appendChild(el('span', null, row.method + ' ' + row.target));
    summary.appendChild(el('span', row.status === 401 ? 'error' : null, row.status === null ? '-' : row.status));
    var token = row.auth.token_summary;
    summary.appendChild(el('span', null, (row.auth.scheme || '-') + (token ? ' ' + token : '') +
      (row.auth.user ? ' ' + row.auth.user : '')));
    var seen = {};
    row.findings.forEach(function (f) {
      if (!seen[f.rule]) { seen[f.rule] = 1; summary.appendChild(el('span', f.severity, f.rule)); }
    });
    if (!row.findings.length) { summary.appendChild(el('span', 'ok', 'ok')); }
    return summary;
  }
  var list = document.getElementById('exchange-list');
  var label = document.getElementById('page-label');
  var input = document.getElementById('page-input');
  var onlyFlagged = document.getElementById('only-flagged');
  var current = 0;
  var shown = 0;
  function count() { return onlyFlagged.checked ? meta.flagged : meta.total; }
  function pages() { return Math.max(1, Math.ceil(count() / PAGE)); }
  // The positions (in capture order) a page lists: a range, or a slice of the list of flagged exchanges.
  function positions(page) {
    var start = page * PAGE, end = Math.min(count(), start + PAGE), out = [];
    if (!onlyFlagged.checked) {
      for (var i = start; i < end; i++) { out.push(i); }
      return Promise.resolve(out);
    }
    if (start >= end) { return Promise.resolve(out); }
    // PAGE divides the flagged block size: a page never spans two of them.
    return block('f', Math.floor(start / meta.flagged_block)).then(function (flagged) {
      var offset = Math.floor(start / meta.flagged_block) * meta.flagged_block;
      return flagged.slice(start - offset, end - offset);
    });
  }
  // The rows at these positions, one exchange block at a time (so a page never holds more than a few blocks).
  function rowsAt(wanted) {
    var rows = new Array(wanted.length);
    var blocks = [];
    wanted.forEach(function (pos) {
      var b = Math.floor(pos / meta.block);
      if (blocks.indexOf(b) < 0) { blocks.push(b); }
    });
    return blocks.reduce(function (done, b) {
      return done.then(function () {
        return block('x', b).then(function (parsed) {
          wanted.forEach(function (pos, i) {
            if (Math.floor(pos / meta.block) === b) { rows[i] = parsed[pos % meta.block]; }
          });
        });
      });
    }, Promise.resolve()).then(function () { return rows; });
  }
  function render(page, wanted, rows) {
    var items = rows.map(function (row, i) {
      var details = el('details', 'ex');
      details.setAttribute('data-row', String(wanted[i]));
      details.appendChild(summaryLine(row));
      details.addEventListener('toggle', function () {
        if (details.open && details.childNodes.length === 1) {
          details.appendChild(el('p', 'dim', 'decoding…'));
          tokenOf(row).then(function (token) { details.replaceChild(body(row, token), details.lastChild); });
        }
      });
      return details;
    });
    list.replaceChildren.apply(list, items);
    label.textContent = 'page ' + (page + 1) + ' of ' + pages() + ' (' + count() + ' exchanges' +
      (onlyFlagged.checked ? ' with findings, of ' + meta.total : '') + ')';
    input.value = String(page + 1);
  }
  function show(page) {
    current = Math.min(Math.max(0, page), pages() - 1);
    var wanted = ++shown;
    var at = current;
    return positions(at).then(function (pos) {
      return rowsAt(pos).then(function (rows) {
        if (wanted === shown) { render(at, pos, rows); }
      });
    });
  }
  document.getElementById('page-prev').addEventListener('click', function () { show(current - 1); });
  document.getElementById('page-next').addEventListener('click', function () { show(current + 1); });
  input.addEventListener('change', function () { show(parseInt(input.value, 10) - 1 || 0); });
  onlyFlagged.addEventListener('change', function () { show(0); });
  function jump(row) {
    onlyFlagged.checked = false;
    return show(Math.floor(row / PAGE)).then(function () {
      var found = list.querySelector('details[data-row="' + row + '"]');
      if (found) { found.open = true; found.scrollIntoView(); }
    });
  }
  // A finding's exchange id jumps to that exchange, opened.
  document.addEventListener('click', function (event) {
    var target = event.target.closest ? event.target.closest('button.jump') : null;
    if (target) { jump(parseInt(target.getAttribute('data-row'), 10)); }
  });
  function expandPage() {
    Array.prototype.forEach.call(list.querySelectorAll('details.ex'), function (d) { d.open = true; });
  }
  document.getElementById('page-expand').addEventListener('click', expandPage);
  // The address can ask for a view: #flagged (only exchanges with findings), #row=N (exchange N opened), #expand
  // (every exchange of the first page opened: for printing, and for the browser test).
  var asked = window.location.hash.replace(/^#/, '').split('&');
  onlyFlagged.checked = asked.indexOf('flagged') >= 0;
  var rowAsked = asked.filter(function (a) { return /^row=\d+$/.test(a); })[0];
  (rowAsked ? jump(parseInt(rowAsked.slice(4), 10)) : show(0)).then(function () {
    if (asked.indexOf('expand') >= 0) { expandPage(); }
    // When the page became usable, measured by the browser from navigation start (bench/bench_html.py reads it).
    document.body.setAttribute('data-ready-ms', String(Math.round(performance.now())));
    document.body.setAttribute('data-ready', 'yes');
  }, function (error) { console.error('oauth-inspector report: ' + error); });
})();
"""
