import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RegistryCredentials } from '../../../src/domain/registry-credentials.js';

describe('RegistryCredentials', () => {
  it('renders username, password and auth consistently', () => {
    const credentials = new RegistryCredentials(
      'reg.example.com',
      5000,
      'robot',
      Buffer.from('Pa"ss\\w0rd'),
    );
    const config = JSON.parse(credentials.toDockerConfigJson().toString('utf8'));
    assert.deepEqual(Object.keys(config.auths), ['reg.example.com:5000']);
    const entry = config.auths['reg.example.com:5000'];
    assert.equal(entry.username, 'robot');
    assert.equal(entry.password, 'Pa"ss\\w0rd');
    assert.equal(Buffer.from(entry.auth, 'base64').toString('utf8'), 'robot:Pa"ss\\w0rd');
  });

  it('uses standard padded base64 over the exact password bytes', () => {
    const password = Buffer.from('pässwörd?>', 'utf8');
    const credentials = new RegistryCredentials('reg.example.com', 5000, 'ab', password);
    const token = credentials.basicAuthToken();
    assert.equal(token, Buffer.concat([Buffer.from('ab:'), password]).toString('base64'));
    assert.match(token, /^[A-Za-z0-9+/]+={0,2}$/);
    assert.equal(token.length % 4, 0);
  });

  it('writes both host:443 and host for the default port', () => {
    const credentials = new RegistryCredentials(
      'reg.example.com',
      443,
      'robot',
      Buffer.from('Abcdef1#'),
    );
    const config = JSON.parse(credentials.toDockerConfigJson().toString('utf8'));
    assert.deepEqual(Object.keys(config.auths).sort(), ['reg.example.com', 'reg.example.com:443']);
  });

  it('zeroes the password on wipe', () => {
    const password = Buffer.from('Abcdef1#');
    new RegistryCredentials('reg.example.com', 443, 'robot', password).wipe();
    assert.ok(password.every((byte) => byte === 0));
  });
});
