// The one entry to @peculiar/x509: it needs the reflect polyfill and a WebCrypto provider.

import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as Crypto);

export { x509 };
