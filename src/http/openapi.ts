// The OpenAPI 3.1 document of both listeners, built from the same constants the code enforces
// (field limits, status codes, paths, settings), and the ops route that serves it.

import type { FastifyInstance } from 'fastify';
import { settingDefaults } from '../config/settings.js';
import { caCertificateLimits } from '../domain/ca-certificate.js';
import { certificateNames } from '../domain/certificate-import.js';
import { limits } from '../domain/rules.js';
import { StatusCode } from '../domain/status.js';
import { verificationModes, verificationModeRule } from '../domain/verification-mode.js';
import { verificationSteps } from '../verify/verification-result.js';
import { maxBodyBytes } from './envelope.js';
import { metricsPath } from './metrics.js';
import { certificateMessages, certificatePaths } from './routes/certificates.js';
import { imageConfigPath } from './routes/image-config.js';

/** Where the ops listener serves this document. */
export const openApiPath = '/openapi.json';

/** Where the committed copy lives, relative to the repository root. */
export const openApiFile = 'openapi/openapi.json';

/** What each status code means; typed so that a new code cannot go undocumented. */
const statusMeanings: Record<keyof typeof StatusCode, string> = {
  success: 'success',
  badBody: 'the body is empty, not JSON, too large, or not sent as application/json',
  notFound: 'no such path, or a method the path does not allow',
  ruleBroken: 'a field rule is broken; `msg` names the field and the rule',
  wrongShape: 'JSON of the wrong shape: not an object, or a field of the wrong JSON type',
  rateLimited: 'too many requests; retry after the `Retry-After` seconds',
  internal: 'an unexpected error; the service log has the details',
  invalidCertificate: 'the certificate cannot be imported; `msg` gives the reason',
  applyFailed:
    'the configuration was not applied: the registry refused the credentials (HTTP 400, ' +
    '`verify=enforce`) or the store could not save it (HTTP 503)',
};

function statusList(...names: (keyof typeof StatusCode)[]): string {
  return names.map((name) => `\`${StatusCode[name]}\`: ${statusMeanings[name]}`).join('; ');
}

const envelopeRef = { $ref: '#/components/schemas/Envelope' };

function envelopeResponse(description: string, data?: object, msg?: string) {
  const schema =
    data === undefined && msg === undefined
      ? envelopeRef
      : {
          allOf: [
            envelopeRef,
            {
              type: 'object',
              properties: {
                ...(msg === undefined ? {} : { msg: { const: msg } }),
                ...(data === undefined ? {} : { data }),
              },
            },
          ],
        };
  return { description, content: { 'application/json': { schema } } };
}

/** The failures every API route shares. */
const commonFailures = {
  '413': envelopeResponse(`body over ${maxBodyBytes / 1024 / 1024} MiB; ${statusList('badBody')}`),
  '415': envelopeResponse(`Content-Type is not application/json; ${statusList('badBody')}`),
  '429': {
    ...envelopeResponse(statusList('rateLimited')),
    headers: { 'Retry-After': { schema: { type: 'integer' } } },
  },
  '500': envelopeResponse(statusList('internal')),
  '503': envelopeResponse(
    `the store could not be reached or written; \`${StatusCode.applyFailed}\``,
  ),
};

const readFailures = {
  '429': commonFailures['429'],
  '500': commonFailures['500'],
  '503': commonFailures['503'],
};

function jsonBody(ref: string) {
  return {
    required: true,
    content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } },
  };
}

const passwordDescription =
  `${limits.passwordMinBytes} to ${limits.passwordMaxBytes} bytes, as an array of integers ` +
  '0..255 or a base64 string (as Go sends `[]byte`); valid UTF-8, no `:`, no control ' +
  'characters (bytes 0 to 31 and 127). Never returned, logged or stored in clear.';

const schemas = {
  StatusCode: {
    type: 'string',
    enum: Object.values(StatusCode),
    description: (Object.keys(StatusCode) as (keyof typeof StatusCode)[])
      .map((name) => `\`${StatusCode[name]}\`: ${statusMeanings[name]}`)
      .join('\n'),
  },
  Envelope: {
    type: 'object',
    required: ['status', 'msg'],
    properties: {
      status: { $ref: '#/components/schemas/StatusCode' },
      msg: { type: 'string', description: 'on failure, names the field or cause and the rule' },
      warnings: {
        type: 'array',
        items: { type: 'string' },
        description: 'present on a success when there is something to say',
      },
      data: { description: 'the result of a read, when the operation has one' },
    },
  },
  ImageConfigRequest: {
    type: 'object',
    description:
      'Keys are matched case-insensitively, as MEF Center\'s Go decoder does (`"Port"` sets ' +
      '`port`); an exact-case key wins; unknown keys are ignored; `null` means absent. ' +
      '`domain` or `ip` is required.',
    required: ['port', 'account', 'password'],
    properties: {
      domain: {
        type: 'string',
        minLength: limits.domainMinLength,
        maxLength: limits.domainMaxLength,
        pattern: '^[A-Za-z0-9.-]+$',
        description:
          'registry host name: letters, digits, `.` and `-`; starts and ends with a letter or ' +
          'digit; not all digits; no empty label, no label starting or ending with `-`; not ' +
          'localhost or an equivalent; not an IPv4 literal; no scheme, port or path',
      },
      ip: {
        type: 'string',
        format: 'ipv4',
        description:
          'dotted-quad IPv4 without leading zeros; not in 0.0.0.0/8, not 255.255.255.255, not ' +
          'loopback, multicast or link-local; not an address of this host or of an edge host. ' +
          'With `domain`, the address the domain maps to on the edge devices.',
      },
      port: { type: 'integer', minimum: limits.portMin, maximum: limits.portMax },
      account: {
        type: 'string',
        minLength: limits.accountMinLength,
        maxLength: limits.accountMaxLength,
        pattern: '^[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?$',
      },
      password: {
        description: passwordDescription,
        writeOnly: true,
        oneOf: [
          {
            type: 'array',
            items: { type: 'integer', minimum: 0, maximum: 255 },
            minItems: limits.passwordMinBytes,
            maxItems: limits.passwordMaxBytes,
          },
          { type: 'string', contentEncoding: 'base64' },
        ],
      },
    },
  },
  ImageConfiguration: {
    type: 'object',
    description: 'The saved configuration: never the password nor anything derived from it.',
    required: [
      'domain',
      'ip',
      'port',
      'account',
      'registryAddress',
      'updatedAt',
      'updatedBy',
      'verified',
    ],
    properties: {
      domain: { type: ['string', 'null'] },
      ip: { type: ['string', 'null'] },
      port: { type: 'integer' },
      account: { type: 'string' },
      registryAddress: {
        type: 'string',
        description: '`domain:port` when a domain is set, else `ip:port`',
      },
      updatedAt: { type: 'string', format: 'date-time' },
      updatedBy: {
        type: 'string',
        description: "the subject of the caller's client certificate",
      },
      verified: {
        type: ['boolean', 'null'],
        description:
          'whether the registry accepted the credentials when they were saved; null when ' +
          'they were saved with `verify=off`',
      },
    },
  },
  CertificateImportRequest: {
    type: 'object',
    description: 'Keys are matched case-insensitively, as for the image configuration.',
    required: ['certName', 'cert'],
    properties: {
      certName: { type: 'string', enum: [...certificateNames] },
      cert: {
        type: 'string',
        contentEncoding: 'base64',
        description:
          'base64 of one PEM root CA certificate: X.509 v3, CA basic constraint, ' +
          `certificate-signing key usage, RSA of at least ${caCertificateLimits.rsaMinBits} ` +
          `bits or ECDSA of at least ${caCertificateLimits.ecMinBits} bits, signed with ` +
          `${caCertificateLimits.signatureHashes.join(', ')}, a valid self-signature, within ` +
          'its validity period. The `image` certificate is trusted when registry credentials ' +
          'are verified.',
      },
    },
  },
  CertificateDeleteRequest: {
    type: 'object',
    required: ['type'],
    properties: { type: { type: 'string', enum: [...certificateNames] } },
  },
  ImportedCertificate: {
    type: 'object',
    required: ['certName', 'subject', 'key', 'notAfter', 'sha256Fingerprint', 'replaced'],
    properties: {
      certName: { type: 'string', enum: [...certificateNames] },
      subject: { type: 'string' },
      key: { type: 'string', description: 'e.g. `RSA 3072` or `ECDSA P-256`' },
      notAfter: { type: 'string', format: 'date-time' },
      sha256Fingerprint: { type: 'string', description: 'colon-separated hex, as openssl shows' },
      replaced: {
        type: 'boolean',
        description: 'true when a previous certificate was replaced and kept as the backup',
      },
    },
  },
};

const verifyParameter = {
  name: 'verify',
  in: 'query',
  required: false,
  description:
    'Check the credentials against the registry (`GET /v2/`, Basic or Bearer) before saving: ' +
    '`off` skips it, `warn` saves anyway with a warning, `enforce` refuses a failure with ' +
    `HTTP 400 and \`${StatusCode.applyFailed}\`, naming the step ` +
    `(${verificationSteps.join(', ')}) and the host. Default: MEF_VERIFY_REGISTRY ` +
    `(\`${settingDefaults.MEF_VERIFY_REGISTRY}\`). Any other value: ${verificationModeRule}.`,
  schema: { type: 'string', enum: [...verificationModes] },
};

const apiPaths = {
  [imageConfigPath]: {
    post: {
      operationId: 'configureImageRegistry',
      summary: 'Set the registry that edge devices pull images from, with its credentials',
      description:
        'Each call replaces the whole configuration. A refused or failed call leaves the ' +
        'previous configuration and its effect as they were.',
      parameters: [verifyParameter],
      requestBody: jsonBody('ImageConfigRequest'),
      responses: {
        '200': envelopeResponse('saved and applied; `warnings` may say more'),
        '400': envelopeResponse(statusList('badBody', 'wrongShape', 'ruleBroken', 'applyFailed')),
        ...commonFailures,
      },
    },
    get: {
      operationId: 'readImageRegistryConfiguration',
      summary: 'Read back the saved configuration, without the password',
      responses: {
        '200': envelopeResponse(
          '`data` is the saved configuration, or null when none has been saved',
          {
            oneOf: [{ $ref: '#/components/schemas/ImageConfiguration' }, { type: 'null' }],
          },
        ),
        ...readFailures,
      },
    },
  },
  [certificatePaths.import]: {
    post: {
      operationId: 'importCertificate',
      summary: 'Import a root CA certificate for the image registry or the software repository',
      description: 'A re-import keeps the certificate it replaces as the one backup.',
      requestBody: jsonBody('CertificateImportRequest'),
      responses: {
        '200': envelopeResponse(
          'imported',
          { $ref: '#/components/schemas/ImportedCertificate' },
          certificateMessages.imported,
        ),
        '400': envelopeResponse(
          statusList('badBody', 'wrongShape', 'ruleBroken', 'invalidCertificate'),
        ),
        ...commonFailures,
      },
    },
  },
  [certificatePaths.delete]: {
    post: {
      operationId: 'deleteCertificate',
      summary: 'Delete an imported certificate, keeping it as the backup',
      description: 'Deleting a certificate that was never imported succeeds with a warning.',
      requestBody: jsonBody('CertificateDeleteRequest'),
      responses: {
        '200': envelopeResponse('deleted', undefined, certificateMessages.deleted),
        '400': envelopeResponse(statusList('badBody', 'wrongShape', 'ruleBroken')),
        ...commonFailures,
      },
    },
  },
};

const readiness = {
  type: 'object',
  required: ['status', 'store', 'api'],
  properties: {
    status: { enum: ['ready', 'not ready'] },
    store: { enum: ['ready', 'unavailable'] },
    api: { enum: ['listening', 'not listening'] },
  },
};

/** Ops paths override the server: plain HTTP on the operations listener. */
const opsServers = [
  {
    url: `http://${settingDefaults.MEF_OPS_LISTEN}`,
    description: 'the operations listener (MEF_OPS_LISTEN), plain HTTP',
  },
];

const opsPaths = {
  '/healthz': {
    servers: opsServers,
    get: {
      operationId: 'liveness',
      summary: 'Liveness: the process answers',
      security: [],
      responses: {
        '200': {
          description: 'alive',
          content: {
            'application/json': {
              schema: { type: 'object', properties: { status: { const: 'ok' } } },
            },
          },
        },
      },
    },
  },
  '/readyz': {
    servers: opsServers,
    get: {
      operationId: 'readiness',
      summary: 'Readiness: the store can be reached and the API listener accepts connections',
      security: [],
      responses: {
        '200': { description: 'ready', content: { 'application/json': { schema: readiness } } },
        '503': {
          description: 'not ready; the fields say which part is not',
          content: { 'application/json': { schema: readiness } },
        },
      },
    },
  },
  [metricsPath]: {
    servers: opsServers,
    get: {
      operationId: 'metrics',
      summary: 'Prometheus metrics of this instance',
      security: [],
      responses: {
        '200': { description: 'the exposition format', content: { 'text/plain': {} } },
      },
    },
  },
  [openApiPath]: {
    servers: opsServers,
    get: {
      operationId: 'openApiDocument',
      summary: 'This document',
      security: [],
      responses: {
        '200': { description: 'OpenAPI 3.1', content: { 'application/json': {} } },
      },
    },
  },
};

/**
 * The OpenAPI document of the API and the ops listener. `openapi/openapi.json` is this,
 * committed; `npm run openapi` rewrites it.
 *
 * @example const document = openApiDocument(); document.paths['/healthz'];
 */
export function openApiDocument() {
  const [, apiPort] = settingDefaults.MEF_LISTEN.split(':');
  return {
    openapi: '3.1.0',
    info: {
      title: 'mef-image-config',
      version: '1',
      description:
        "Image download configuration for edge fleets, over MEF Center's HTTPS contract. " +
        'Every API answer is a JSON envelope with an eight-digit status code.',
    },
    servers: [
      {
        url: `https://{host}:${apiPort}`,
        description: 'the API listener (MEF_LISTEN): HTTPS with mutual TLS',
        variables: { host: { default: 'localhost' } },
      },
    ],
    security: [{ clientCertificate: [] }],
    paths: { ...apiPaths, ...opsPaths },
    components: {
      securitySchemes: {
        clientCertificate: {
          type: 'mutualTLS',
          description: 'a client certificate signed by MEF_TLS_CLIENT_CA',
        },
      },
      schemas,
    },
  };
}

/** Serves {@link openApiDocument} at {@link openApiPath}; registered on the ops listener. */
export async function openApiRoute(app: FastifyInstance): Promise<void> {
  const document = JSON.stringify(openApiDocument());
  app.get(openApiPath, async (_request, reply) => reply.type('application/json').send(document));
}
