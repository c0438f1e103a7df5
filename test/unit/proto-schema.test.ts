// Our proto/ must say exactly what Envoy's published protos say, field for
// field, so the sidecar stays wire-compatible with Envoy.
import { join } from 'node:path';
import t from 'tap';
import protobuf from 'protobufjs';
import { PROTO_DIR } from '../../src/extproc/proto';

const ENVOY_DEPS = join(__dirname, '..', '..', 'node_modules', '@grpc', 'grpc-js-xds', 'deps');
const ENVOY_INCLUDES = ['envoy-api', 'googleapis', 'protoc-gen-validate', 'xds'].map((dir) => join(ENVOY_DEPS, dir));

// Newer than the copy of Envoy's API in @grpc/grpc-js-xds: checked by hand
// against envoyproxy/envoy api/ at the release named.
const NEWER_THAN_PUBLISHED: Record<string, string> = {
  'envoy.service.ext_proc.v3.ProcessingRequest.protocol_config': 'Envoy v1.34 (field 11)',
  'envoy.service.ext_proc.v3.ProtocolConfiguration': 'Envoy v1.34',
  'envoy.extensions.filters.http.ext_proc.v3.ProcessingMode.BodySendMode.FULL_DUPLEX_STREAMED': 'Envoy v1.32 (value 4)',
  'envoy.service.ext_proc.v3.ProcessingResponse.streamed_immediate_response': 'Envoy v1.37 (field 11)',
  'envoy.service.ext_proc.v3.StreamedImmediateResponse': 'Envoy v1.37',
  'envoy.service.ext_proc.v3.StreamedBodyResponse': 'Envoy v1.32 (FULL_DUPLEX_STREAMED)',
};

function loadRoot(files: string[], includes: string[]): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    for (const dir of includes) {
      const candidate = join(dir, target);
      if (require('node:fs').existsSync(candidate)) return candidate;
    }
    return target;
  };
  root.loadSync(files, { keepCase: true });
  root.resolveAll();
  return root;
}

const ours = loadRoot(['envoy/service/ext_proc/v3/external_processor.proto', 'grpc/health/v1/health.proto'], [PROTO_DIR]);
const envoy = loadRoot(['envoy/service/ext_proc/v3/external_processor.proto', 'envoy/type/v3/http_status.proto'], ENVOY_INCLUDES);

function walk(ns: protobuf.NamespaceBase, out: protobuf.ReflectionObject[] = []): protobuf.ReflectionObject[] {
  for (const child of ns.nestedArray) {
    out.push(child);
    if (child instanceof protobuf.Namespace) walk(child, out);
  }
  return out;
}

const ourTypes = walk(ours).filter((o) => o.fullName.startsWith('.envoy.'));

t.test('every message, field and enum value we define matches Envoy', async (t) => {
  let checked = 0;
  for (const object of ourTypes) {
    const name = object.fullName.slice(1);
    if (NEWER_THAN_PUBLISHED[name] !== undefined) continue;
    const theirs = envoy.lookup(object.fullName);
    t.ok(theirs, `${name} exists in Envoy's protos`);
    if (object instanceof protobuf.Type && theirs instanceof protobuf.Type) {
      for (const field of object.fieldsArray) {
        const fieldName = `${name}.${field.name}`;
        if (NEWER_THAN_PUBLISHED[fieldName] !== undefined) continue;
        const other = theirs.fields[field.name];
        t.ok(other, `${fieldName} exists in Envoy`);
        if (other === undefined) continue;
        t.equal(field.id, other.id, `${fieldName} number`);
        t.equal(field.resolvedType?.fullName ?? field.type, other.resolvedType?.fullName ?? other.type, `${fieldName} type`);
        t.equal(field.repeated, other.repeated, `${fieldName} repeated`);
        t.equal(field instanceof protobuf.MapField ? field.keyType : '', other instanceof protobuf.MapField ? other.keyType : '', `${fieldName} map key`);
        t.equal(field.partOf?.name, other.partOf?.name, `${fieldName} oneof`);
        checked++;
      }
    }
    if (object instanceof protobuf.Enum && theirs instanceof protobuf.Enum) {
      for (const [valueName, id] of Object.entries(object.values)) {
        if (NEWER_THAN_PUBLISHED[`${name}.${valueName}`] !== undefined) continue;
        t.equal(theirs.values[valueName], id, `${name}.${valueName}`);
        checked++;
      }
    }
  }
  t.ok(checked > 60, `checked ${checked} fields and enum values`);
});

t.test('the fields newer than the published copy are in our schema with their numbers', async (t) => {
  const request = ours.lookupType('envoy.service.ext_proc.v3.ProcessingRequest');
  t.equal(request.fields.protocol_config?.id, 11);
  const config = ours.lookupType('envoy.service.ext_proc.v3.ProtocolConfiguration');
  t.same(
    config.fieldsArray.map((f) => [f.name, f.id]),
    [
      ['request_body_mode', 1],
      ['response_body_mode', 2],
      ['send_body_without_waiting_for_header_response', 3],
    ],
  );
  t.equal(ours.lookupEnum('envoy.extensions.filters.http.ext_proc.v3.ProcessingMode.BodySendMode').values.FULL_DUPLEX_STREAMED, 4);
  t.equal(ours.lookupType('envoy.service.ext_proc.v3.ProcessingResponse').fields.override_message_timeout?.id, 10);
});

t.test('the streamed local response has Envoy 1.37\'s names, numbers, types and oneofs', async (t) => {
  const response = ours.lookupType('envoy.service.ext_proc.v3.ProcessingResponse');
  const streamed = response.fields.streamed_immediate_response;
  t.equal(streamed?.id, 11);
  t.equal(streamed?.partOf?.name, 'response', 'in the same oneof as immediate_response');
  t.equal(streamed?.resolvedType?.fullName, '.envoy.service.ext_proc.v3.StreamedImmediateResponse');
  const shape = (name: string) =>
    ours.lookupType(name).fieldsArray.map((f) => [f.name, f.id, f.resolvedType?.fullName ?? f.type, f.partOf?.name ?? null]);
  t.same(shape('envoy.service.ext_proc.v3.StreamedImmediateResponse'), [
    ['headers_response', 1, '.envoy.service.ext_proc.v3.HttpHeaders', 'response'],
    ['body_response', 2, '.envoy.service.ext_proc.v3.StreamedBodyResponse', 'response'],
    ['trailers_response', 3, '.envoy.config.core.v3.HeaderMap', 'response'],
  ]);
  t.same(shape('envoy.service.ext_proc.v3.StreamedBodyResponse'), [
    ['body', 1, 'bytes', null],
    ['end_of_stream', 2, 'bool', null],
  ]);
});

t.test('a status outside Envoy\'s enum (418) still travels as a number', async (t) => {
  const Response = ours.lookupType('envoy.service.ext_proc.v3.ProcessingResponse');
  const bytes = Response.encode(Response.fromObject({ immediate_response: { status: { code: 418 } } })).finish();
  const decoded = envoy.lookupType('envoy.service.ext_proc.v3.ProcessingResponse').decode(bytes) as unknown as { immediate_response: { status: { code: number } } };
  t.equal(decoded.immediate_response.status.code, 418);
});
