import { describe, expect, it } from 'vitest';
import { escapeName, unescapeName, validateUsername, validateServerName, validateJobId } from '../../../contract/names.js';

describe('user names', () => {
  it.each(['alice', 'alice@uni.example', 'a.b+c-d_e', 'Jürgen', '学生1', 'x'.repeat(128)])('accepts %s', (n) => {
    expect(validateUsername(n)).toBe(n.normalize('NFC'));
  });
  it.each(['', '../x', 'a;rm -rf /', '$(id)', 'a b', '.hidden', '-rf', 'a/b', 'x'.repeat(129), 'a\nb', 'a\0b'])('refuses %j with what is allowed', (n) => {
    expect(() => validateUsername(n)).toThrow(/user name|missing/);
  });
  it('escapes reversibly into a safe directory name', () => {
    for (const n of ['alice', 'Alice', 'a.b', 'a_b', 'alice@uni.example', 'Jürgen', '学生1', '..', 'a_2e']) {
      const e = escapeName(n);
      expect(e).toMatch(/^[a-z0-9_-]+$/);
      expect(e.startsWith('.')).toBe(false);
      expect(unescapeName(e)).toBe(n);
    }
    expect(escapeName('a_b')).not.toBe(escapeName('a.b'));
    expect(escapeName('Alice')).not.toBe(escapeName('alice'));
  });
});

describe('other names', () => {
  it('server names', () => {
    expect(validateServerName(undefined)).toBe('');
    expect(validateServerName('gpu-1')).toBe('gpu-1');
    expect(() => validateServerName('../x')).toThrow(/server name/);
  });
  it('job ids', () => {
    expect(validateJobId('123')).toBe('123');
    expect(validateJobId('123;cluster')).toBe('123;cluster');
    expect(() => validateJobId('1 2')).toThrow();
    expect(() => validateJobId('-1')).toThrow();
  });
});
