/**
 * The search page's DOM helpers that need no document (web/static/lib/dom.js), run by Node's own
 * test runner: `node --test` from the repository root. The element builders are exercised by
 * the browser tests.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { debounce, fieldLabel, formatBytes, linkParts, safeUrl } from '../../web/static/lib/dom.js';

const PAGE = 'http://127.0.0.1:8000/medsearch/';

describe('safeUrl', () => {
  test('resolves paths against the page', () => {
    const origin = 'http://127.0.0.1:8000';
    assert.equal(safeUrl('/api/images/3/thumbnail', PAGE), `${origin}/api/images/3/thumbnail`);
    assert.equal(safeUrl('api/images/3/file', PAGE), `${origin}/medsearch/api/images/3/file`);
    assert.equal(safeUrl('https://example.org/a b', PAGE), 'https://example.org/a%20b');
  });

  test('keeps blob URLs (query image previews)', () => {
    const blob = 'blob:http://127.0.0.1:8000/0b7f4c1e-6a8e-4f43-9f5e-3c8d2a1b9e00';
    assert.equal(safeUrl(blob, PAGE), blob);
  });

  test('refuses script, data and other schemes, in any spelling', () => {
    for (const bad of [
      'javascript:alert(1)',
      ' JavaScript:alert(1)',
      'java\tscript:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      'vbscript:msgbox(1)',
      'file:///etc/passwd',
      'ftp://example.org/x',
    ]) {
      assert.equal(safeUrl(bad, PAGE), null, bad);
    }
  });

  test('refuses what is not a URL string', () => {
    for (const bad of ['', 'http://[::1', null, undefined, 42, {}]) {
      assert.equal(safeUrl(bad, PAGE), null, String(bad));
    }
  });
});

describe('linkParts', () => {
  const join = (parts) => parts.map((p) => p.text ?? p.href).join('');

  test('plain text is one part, and nothing gives nothing', () => {
    assert.deepEqual(linkParts('CC BY 4.0, Jane Doe'), [{ text: 'CC BY 4.0, Jane Doe' }]);
    assert.deepEqual(linkParts(''), []);
  });

  test('links bare http(s) URLs, leaving the sentence around them', () => {
    const text = 'From https://openi.nlm.nih.gov/detail?img=1&x=2, see http://a.org/b.';
    const parts = linkParts(text);
    assert.deepEqual(parts, [
      { text: 'From ' },
      { href: 'https://openi.nlm.nih.gov/detail?img=1&x=2' },
      { text: ', see ' },
      { href: 'http://a.org/b' },
      { text: '.' },
    ]);
    assert.equal(join(parts), text);
  });

  test('closing brackets and punctuation end a URL', () => {
    assert.deepEqual(linkParts('(source: https://x.org/a).'), [
      { text: '(source: ' },
      { href: 'https://x.org/a' },
      { text: ').' },
    ]);
    assert.deepEqual(linkParts('[https://x.org/a];'), [
      { text: '[' },
      { href: 'https://x.org/a' },
      { text: '];' },
    ]);
  });

  test('markup after a URL stays text and never enters the link', () => {
    const text = `https://x.org/a"><img src=x onerror=alert(1)>'b`;
    const parts = linkParts(text);
    assert.deepEqual(parts[0], { href: 'https://x.org/a' });
    assert.equal(join(parts), text);
    for (const part of parts) {
      if ('href' in part) assert.doesNotMatch(part.href, /["'<>\s]/);
    }
  });

  test('only http and https become links', () => {
    for (const text of ['javascript:alert(1)', 'ftp://x.org/a', 'www.x.org', 'mailto:a@b.org']) {
      assert.deepEqual(linkParts(text), [{ text }], text);
    }
  });
});

describe('fieldLabel', () => {
  test('makes field names readable', () => {
    assert.equal(fieldLabel('body_part'), 'Body part');
    assert.equal(fieldLabel('study-date'), 'Study date');
    assert.equal(fieldLabel('__license__'), 'License');
    assert.equal(fieldLabel('modality'), 'Modality');
    assert.equal(fieldLabel('SNOMED_code'), 'SNOMED code');
    assert.equal(fieldLabel(''), '');
  });
});

describe('formatBytes', () => {
  test('picks the unit, whole bytes without decimals', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(1024), '1.0 KB');
    assert.equal(formatBytes(1536), '1.5 KB');
    assert.equal(formatBytes(3.2 * 1024 ** 2), '3.2 MB');
    assert.equal(formatBytes(5 * 1024 ** 3), '5.0 GB');
    assert.equal(formatBytes(2 * 1024 ** 4), '2048.0 GB');
  });

  test('gives nothing for what is not a size', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, '1024', null, undefined]) {
      assert.equal(formatBytes(bad), '', String(bad));
    }
  });
});

describe('debounce', () => {
  test('runs once, with the latest arguments, after the calls pause', async () => {
    const calls = [];
    const typed = debounce((...args) => calls.push(args), 30);
    typed('b');
    typed('br');
    typed('brain', 1);
    assert.deepEqual(calls, []);
    await sleep(80);
    assert.deepEqual(calls, [['brain', 1]]);
    typed('brain MRI');
    await sleep(80);
    assert.deepEqual(calls, [['brain', 1], ['brain MRI']]);
  });

  test('a call restarts the wait', async () => {
    const calls = [];
    const typed = debounce((value) => calls.push(value), 60);
    typed('a');
    await sleep(30);
    typed('ab');
    await sleep(40);
    assert.deepEqual(calls, []);
    await sleep(60);
    assert.deepEqual(calls, ['ab']);
  });

  test('cancel drops the pending run', async () => {
    const calls = [];
    const typed = debounce((value) => calls.push(value), 20);
    typed('x');
    typed.cancel();
    await sleep(60);
    assert.deepEqual(calls, []);
  });
});
