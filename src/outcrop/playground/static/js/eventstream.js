// A decoder for application/vnd.amazon.eventstream, the binary framing of ConverseStream and
// InvokeModelWithResponseStream. Hand-written: the AWS SDK's codec (@smithy/eventstream-codec) ships
// as CommonJS/ES builds that import other packages, so it cannot be loaded by a browser without a
// bundler. Frame: total length (4) · headers length (4) · prelude CRC32 (4) · headers · payload · CRC32 (4).

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(bytes) {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const utf8 = new TextDecoder();

function readHeaders(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headers = {};
  let at = 0;
  while (at < bytes.length) {
    const nameLength = bytes[at]; at += 1;
    const name = utf8.decode(bytes.subarray(at, at + nameLength)); at += nameLength;
    const type = bytes[at]; at += 1;
    let value;
    switch (type) {
      case 0: value = true; break;
      case 1: value = false; break;
      case 2: value = view.getInt8(at); at += 1; break;
      case 3: value = view.getInt16(at); at += 2; break;
      case 4: value = view.getInt32(at); at += 4; break;
      case 5: case 8: value = view.getBigInt64(at); at += 8; break;
      case 6: case 7: {
        const length = view.getUint16(at); at += 2;
        const raw = bytes.subarray(at, at + length); at += length;
        value = type === 7 ? utf8.decode(raw) : raw;
        break;
      }
      case 9: value = bytes.subarray(at, at + 16); at += 16; break;
      default: throw new Error(`eventstream: unknown header type ${type}`);
    }
    headers[name] = value;
  }
  return headers;
}

/** Yields {headers, payload} for each frame read from a fetch Response body. */
export async function* decodeEventStream(body) {
  const reader = body.getReader();
  let buffer = new Uint8Array(0);
  try {
    while (true) {
      while (buffer.length >= 12) {
        const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
        const total = view.getUint32(0);
        const headersLength = view.getUint32(4);
        if (crc32(buffer.subarray(0, 8)) !== view.getUint32(8)) throw new Error("eventstream: prelude checksum mismatch");
        if (buffer.length < total) break;
        const frame = buffer.subarray(0, total);
        if (crc32(frame.subarray(0, total - 4)) !== view.getUint32(total - 4)) throw new Error("eventstream: message checksum mismatch");
        const headers = readHeaders(frame.subarray(12, 12 + headersLength));
        const payload = frame.slice(12 + headersLength, total - 4);
        buffer = buffer.slice(total);
        yield { headers, payload };
      }
      const { value, done } = await reader.read();
      if (done) {
        if (buffer.length) throw new Error("eventstream: the stream ended inside a frame");
        return;
      }
      const joined = new Uint8Array(buffer.length + value.length);
      joined.set(buffer); joined.set(value, buffer.length);
      buffer = joined;
    }
  } finally {
    reader.releaseLock();
  }
}

/** ConverseStream events as {type, data}; an exception frame throws with Bedrock's type and message. */
export async function* converseEvents(body) {
  for await (const { headers, payload } of decodeEventStream(body)) {
    const data = payload.length ? JSON.parse(utf8.decode(payload)) : {};
    if (headers[":message-type"] === "exception" || headers[":message-type"] === "error") {
      const error = new Error(data.message || headers[":error-message"] || "stream error");
      error.type = headers[":exception-type"] || headers[":error-code"] || "ModelStreamErrorException";
      throw error;
    }
    yield { type: headers[":event-type"], data };
  }
}
