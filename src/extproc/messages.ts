// TypeScript shapes of the ext_proc messages as @grpc/proto-loader decodes
// them (keepCase, oneofs, bytes as Buffer, no defaults filled in).
import type { EncodedProcessingResponse } from './encode-immediate';

export interface HeaderValue {
  key: string;
  value?: string;
  raw_value?: Buffer;
}

export interface HeaderMap {
  headers?: HeaderValue[];
}

export interface HttpHeaders {
  headers?: HeaderMap;
  end_of_stream?: boolean;
}

export interface HttpBody {
  body?: Buffer;
  end_of_stream?: boolean;
}

export interface HttpTrailers {
  trailers?: HeaderMap;
}

// google.protobuf types come from protobufjs's built-in descriptors, whose
// field names are camelCase whatever keepCase says.
export interface StructValue {
  kind?: string;
  stringValue?: string;
  numberValue?: number;
  boolValue?: boolean;
}

export interface Struct {
  fields?: Record<string, StructValue>;
}

/** Envoy's ProcessingMode.BodySendMode. */
export const BodySendMode = { NONE: 0, STREAMED: 1, BUFFERED: 2, BUFFERED_PARTIAL: 3, FULL_DUPLEX_STREAMED: 4 } as const;

export interface ProtocolConfiguration {
  request_body_mode?: number;
  response_body_mode?: number;
  send_body_without_waiting_for_header_response?: boolean;
}

export type RequestCase = 'request_headers' | 'response_headers' | 'request_body' | 'response_body' | 'request_trailers' | 'response_trailers';

export interface ProcessingRequest {
  request?: RequestCase;
  request_headers?: HttpHeaders;
  response_headers?: HttpHeaders;
  request_body?: HttpBody;
  response_body?: HttpBody;
  request_trailers?: HttpTrailers;
  response_trailers?: HttpTrailers;
  attributes?: Record<string, Struct>;
  observability_mode?: boolean;
  protocol_config?: ProtocolConfiguration;
}

export interface HeaderValueOption {
  header: { key: string; raw_value: Buffer };
  append: { value: boolean };
}

export interface HeaderMutation {
  set_headers?: HeaderValueOption[];
  remove_headers?: string[];
}

export interface CommonResponse {
  status?: number;
  header_mutation?: HeaderMutation;
}

export interface ImmediateResponse {
  status: { code: number };
  headers?: HeaderMutation;
  body?: Buffer;
  details?: string;
}

export interface Duration {
  seconds: number;
  nanos: number;
}

export interface ProcessingMode {
  request_header_mode?: number;
  response_header_mode?: number;
  request_body_mode?: number;
  response_body_mode?: number;
  request_trailer_mode?: number;
  response_trailer_mode?: number;
}

/** What the server writes on a Process stream: a response object, or one encoded ahead. */
export type OutgoingResponse = ProcessingResponse | EncodedProcessingResponse;

export interface ProcessingResponse {
  request_headers?: { response?: CommonResponse };
  response_headers?: { response?: CommonResponse };
  request_body?: { response?: CommonResponse };
  response_body?: { response?: CommonResponse };
  request_trailers?: { header_mutation?: HeaderMutation };
  response_trailers?: { header_mutation?: HeaderMutation };
  immediate_response?: ImmediateResponse;
  mode_override?: ProcessingMode;
  override_message_timeout?: Duration;
}
