#!/usr/bin/env node
// Container health check for lambda-extproc: calls grpc.health.v1.Health/Check
// on the sidecar's own gRPC port and exits 0 or 1. Used by the Dockerfile's
// HEALTHCHECK and by the Kubernetes exec probes (the sidecar listens on
// 127.0.0.1, which the kubelet's native gRPC probe cannot reach).
//
//   node scripts/healthcheck.js [--live] [ADDRESS] [SERVICE]
//
// ADDRESS  host:port, default $LAMBDA_EXTPROC_HEALTH_ADDRESS or 127.0.0.1:50051
//          (a 0.0.0.0 or [::] listen address is checked on loopback).
// SERVICE  health service name, default '' (the whole server).
// --live   liveness: any answer counts, NOT_SERVING included, so a sidecar
//          draining on SIGTERM is not restarted; only no answer fails.
// Without --live (readiness): exit 0 only for SERVING.
// $LAMBDA_EXTPROC_HEALTH_TIMEOUT_MS bounds the whole check (default 2000).
// When the sidecar serves TLS (config `tls`), $LAMBDA_EXTPROC_HEALTH_TLS_CA
// names the CA file to trust, $LAMBDA_EXTPROC_HEALTH_TLS_CERT and _TLS_KEY a
// client certificate for mTLS, and $LAMBDA_EXTPROC_HEALTH_TLS_SERVER_NAME the
// name to verify (default localhost).
'use strict';

const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const STATUS_NAMES = { 0: 'UNKNOWN', 1: 'SERVING', 2: 'NOT_SERVING', 3: 'SERVICE_UNKNOWN' };

function parseArgs(argv, env) {
  const positionals = argv.filter((arg) => arg !== '--live');
  const live = positionals.length !== argv.length;
  const address = loopbackFor(positionals[0] || env.LAMBDA_EXTPROC_HEALTH_ADDRESS || '127.0.0.1:50051');
  const service = positionals[1] || '';
  const timeoutMs = Number(env.LAMBDA_EXTPROC_HEALTH_TIMEOUT_MS || 2000);
  const tls = env.LAMBDA_EXTPROC_HEALTH_TLS_CA
    ? { ca: env.LAMBDA_EXTPROC_HEALTH_TLS_CA, cert: env.LAMBDA_EXTPROC_HEALTH_TLS_CERT, key: env.LAMBDA_EXTPROC_HEALTH_TLS_KEY, serverName: env.LAMBDA_EXTPROC_HEALTH_TLS_SERVER_NAME || 'localhost' }
    : undefined;
  return { live, address, service, tls, timeoutMs: Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : 2000 };
}

function channelFor(tls) {
  if (tls === undefined) return { credentials: grpc.credentials.createInsecure(), options: {} };
  const read = (file) => (file ? readFileSync(file) : null);
  return {
    credentials: grpc.credentials.createSsl(read(tls.ca), read(tls.key), read(tls.cert)),
    options: { 'grpc.ssl_target_name_override': tls.serverName },
  };
}

// A wildcard listen address is not something to connect to.
function loopbackFor(address) {
  return address.replace(/^0\.0\.0\.0:/, '127.0.0.1:').replace(/^\[::\]:/, '[::1]:');
}

function check({ live, address, service, tls, timeoutMs }) {
  const definition = protoLoader.loadSync('grpc/health/v1/health.proto', {
    keepCase: true,
    enums: Number,
    defaults: true,
    includeDirs: [join(__dirname, '..', 'proto')],
  });
  const Health = grpc.loadPackageDefinition(definition).grpc.health.v1.Health;
  const channel = channelFor(tls);
  const client = new Health(address, channel.credentials, channel.options);
  return new Promise((resolve) => {
    client.Check({ service }, { deadline: Date.now() + timeoutMs }, (error, response) => {
      client.close();
      if (error) {
        process.stderr.write(`lambda-extproc health ${address}: ${error.message}\n`);
        return resolve(1);
      }
      const name = STATUS_NAMES[response.status] || String(response.status);
      process.stdout.write(`lambda-extproc health ${address}: ${name}\n`);
      resolve(name === 'SERVING' || (live && name === 'NOT_SERVING') ? 0 : 1);
    });
  });
}

if (require.main === module) {
  check(parseArgs(process.argv.slice(2), process.env)).then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`lambda-extproc health: ${error && error.stack ? error.stack : String(error)}\n`);
      process.exit(1);
    },
  );
}

module.exports = { parseArgs, check };
