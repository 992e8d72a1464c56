import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  accountRule,
  domainRule,
  ipRule,
  limits,
  passwordRule,
  passwordStrengthAdvice,
  portRule,
} from '../../../src/domain/rules.js';

const none = new Set<string>();
const bytes = (text: string) => Buffer.from(text, 'utf8');

describe('domainRule', () => {
  it('takes names of 3 and 63 characters and refuses 2 and 64', () => {
    assert.equal(domainRule('abc'), undefined);
    assert.equal(domainRule(`${'a'.repeat(59)}.com`), undefined);
    assert.match(domainRule('ab')!, /3 to 63 characters/);
    assert.match(domainRule(`${'a'.repeat(60)}.com`)!, /3 to 63 characters/);
  });

  it('takes ordinary registry names', () => {
    for (const name of [
      'registry.example.com',
      'harbor-1.corp.local',
      'reg',
      'notlocalhost.example.com',
      '1registry.example.com',
    ]) {
      assert.equal(domainRule(name), undefined, name);
    }
  });

  it('refuses names that do not start and end with a letter or digit', () => {
    assert.match(domainRule('-registry.example.com')!, /start and end/);
    assert.match(domainRule('registry.example.com.')!, /start and end/);
    assert.match(domainRule('.registry.example.com')!, /start and end/);
  });

  it('refuses characters outside letters, digits, dot and hyphen', () => {
    assert.match(domainRule('reg_istry.example.com')!, /only letters, digits/);
    assert.match(domainRule('régistry.example.com')!, /only letters, digits/);
    assert.match(domainRule('registry example')!, /only letters, digits/);
  });

  it('refuses empty labels and labels with a hyphen at either end', () => {
    assert.match(domainRule('a..b.example')!, /empty label/);
    assert.match(domainRule('registry.-example.com')!, /starts or ends with "-"/);
    assert.match(domainRule('registry-.example.com')!, /starts or ends with "-"/);
  });

  it('refuses all-digit names and IPv4 literals', () => {
    assert.match(domainRule('12345')!, /digits only/);
    assert.match(domainRule('10.10.10.10')!, /IPv4 address/);
    assert.match(domainRule('1.2.3')!, /digits only/);
  });

  it('refuses names that inet_aton reads as an IPv4 address, in hex or octal', () => {
    for (const name of [
      '0x7f000001',
      '0x7f.1',
      '0X7F.0x0.0x0.0x1',
      '0177.0.0.1',
      '0x7f.0.1',
      '0xa.0xb.0xc.0xd',
      '0x.1',
    ]) {
      assert.equal(domainRule(name), 'must not be an IPv4 address; put addresses in ip', name);
    }
  });

  it('takes hex-looking names that inet_aton would not read as an address', () => {
    for (const name of ['0x7f.example.com', 'deadbeef', '0x1.0x2.0x3.0x4.0x5', '0xgg.1']) {
      assert.equal(domainRule(name), undefined, name);
    }
  });

  it('refuses localhost and its equivalents, case-insensitively', () => {
    for (const name of [
      'localhost',
      'LocalHost',
      'localhost.localdomain',
      'api.localhost',
      'ip6-localhost',
    ]) {
      assert.match(domainRule(name)!, /localhost/, name);
    }
  });

  it('refuses a scheme, a port or a path instead of normalising them', () => {
    assert.match(domainRule('https://registry.example.com')!, /scheme/);
    assert.match(domainRule('registry.example.com:5000')!, /port/);
    assert.match(domainRule('registry.example.com/v2')!, /path/);
  });
});

describe('ipRule', () => {
  it('takes an ordinary address', () => {
    assert.equal(ipRule('10.10.10.10', none), undefined);
    assert.equal(ipRule('1.0.0.0', none), undefined);
    assert.equal(ipRule('223.255.255.255', none), undefined);
    assert.equal(ipRule('169.253.1.1', none), undefined);
    assert.equal(ipRule('255.255.255.254', none), undefined);
  });

  it('refuses what is not a plain dotted quad', () => {
    for (const value of [
      '10.10.10',
      '10.10.10.010',
      '256.1.1.1',
      '::1',
      '::ffff:10.1.1.1',
      ' 10.1.1.1',
      '10.1.1.1.',
      'a.b.c.d',
    ]) {
      assert.match(ipRule(value, none)!, /dotted-quad/, value);
    }
  });

  it('refuses each forbidden address class', () => {
    assert.match(ipRule('0.1.2.3', none)!, /0\.0\.0\.0\/8/);
    assert.match(ipRule('255.255.255.255', none)!, /broadcast/);
    assert.match(ipRule('127.0.0.1', none)!, /loopback/);
    assert.match(ipRule('127.255.255.254', none)!, /loopback/);
    assert.match(ipRule('224.0.0.1', none)!, /multicast/);
    assert.match(ipRule('239.255.255.255', none)!, /multicast/);
    assert.match(ipRule('169.254.10.1', none)!, /link-local/);
  });

  it('refuses this host and edge hosts by exact match, never by substring', () => {
    const forbidden = new Set(['10.1.1.1']);
    assert.match(ipRule('10.1.1.1', forbidden)!, /this host or of an edge host/);
    assert.equal(ipRule('10.1.1.10', forbidden), undefined);
    assert.equal(ipRule('110.1.1.1', forbidden), undefined);
  });
});

describe('portRule', () => {
  it('takes 1 and 65535 and refuses 0 and 65536', () => {
    assert.equal(portRule(1), undefined);
    assert.equal(portRule(65535), undefined);
    assert.match(portRule(0)!, /from 1 to 65535/);
    assert.match(portRule(65536)!, /from 1 to 65535/);
  });
});

describe('accountRule', () => {
  it('takes 1 and 256 characters and refuses 0 and 257', () => {
    assert.equal(accountRule('a'), undefined);
    assert.equal(accountRule('a'.repeat(limits.accountMaxLength)), undefined);
    assert.match(accountRule('')!, /1 to 256/);
    assert.match(accountRule('a'.repeat(limits.accountMaxLength + 1))!, /1 to 256/);
  });

  it('allows "_" and "-" inside but not at either end', () => {
    assert.equal(accountRule('image_repo-1'), undefined);
    assert.match(accountRule('_repo')!, /start or end/);
    assert.match(accountRule('repo-')!, /start or end/);
    assert.match(accountRule('repo.name')!, /only letters/);
  });
});

describe('passwordRule', () => {
  it('takes 8 and 20 bytes and refuses 7 and 21', () => {
    assert.equal(passwordRule(bytes('Abcdef1#')), undefined);
    assert.equal(passwordRule(bytes('Abcdef1#Abcdef1#Abcd')), undefined);
    assert.match(passwordRule(bytes('Abcde1#'))!, /8 to 20 bytes/);
    assert.match(passwordRule(bytes('Abcdef1#Abcdef1#Abcde'))!, /8 to 20 bytes/);
  });

  it('counts bytes, not characters, so UTF-8 passwords work', () => {
    assert.equal(passwordRule(bytes('pässwörd')), undefined); // 8 characters, 10 bytes
    assert.match(passwordRule(bytes('密码密码密码密'))!, /8 to 20 bytes/); // 7 characters, 21 bytes
  });

  it('refuses ":", control characters and invalid UTF-8', () => {
    assert.match(passwordRule(bytes('Abc:def1#'))!, /":"/);
    assert.match(passwordRule(bytes('Abcdef1#\n'))!, /control characters/);
    assert.match(passwordRule(bytes('Abc\tdef1#'))!, /control characters/);
    assert.match(passwordRule(Buffer.from([65, 66, 67, 68, 69, 70, 71, 127]))!, /control/);
    assert.match(passwordRule(Buffer.from([65, 66, 67, 68, 69, 70, 71, 0xc3]))!, /UTF-8/);
  });

  it('never shows the password in its message', () => {
    const message = passwordRule(bytes('Secret:Value1'))!;
    assert.doesNotMatch(message, /Secret|Value1/);
  });
});

describe('passwordStrengthAdvice', () => {
  const kinds = /should mix at least 2 of lowercase letters, uppercase letters, digits and special/;

  it('is satisfied by two kinds of characters and a password unlike the account', () => {
    for (const password of [
      'Huawei12#$',
      'abcdefgH',
      'abcdefg1',
      'abcdefg#',
      '12345678#',
      'ÄÖÜäöüßa',
    ]) {
      assert.equal(passwordStrengthAdvice(bytes(password), 'ImageRepository'), undefined, password);
    }
  });

  it('advises mixing kinds when a password holds only one', () => {
    for (const password of ['abcdefgh', 'ABCDEFGH', '12345678', '#$%&!?*+']) {
      assert.match(passwordStrengthAdvice(bytes(password), 'account')!, kinds, password);
    }
  });

  it('advises a password different from the account, byte for byte', () => {
    assert.equal(
      passwordStrengthAdvice(bytes('Robot_puller1'), 'Robot_puller1'),
      'should differ from the account',
    );
    assert.equal(passwordStrengthAdvice(bytes('robot_puller1'), 'Robot_puller1'), undefined);
    assert.equal(passwordStrengthAdvice(bytes('Robot_puller12'), 'Robot_puller1'), undefined);
    const both = passwordStrengthAdvice(bytes('imagerepo'), 'imagerepo')!;
    assert.match(both, kinds);
    assert.match(both, /should differ from the account/);
  });

  it('never shows the password in its advice', () => {
    const advice = passwordStrengthAdvice(bytes('secretvalue'), 'secretvalue')!;
    assert.doesNotMatch(advice, /secretvalue/);
  });
});
