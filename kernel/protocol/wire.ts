/**
 * The wire format: [identities..., "<IDS|MSG>", hmac, header, parent_header, metadata, content,
 * buffers...]. Signatures are HMAC-SHA256 over the four JSON frames exactly as received, compared
 * in constant time. An empty key means "unsigned": the signature frame is empty and not checked.
 */
import { createHmac, timingSafeEqual } from "crypto";
import type { Message } from "./messages";

const DELIMITER = Buffer.from("<IDS|MSG>");

export class WireError extends Error {
  constructor(readonly kind: "no-delimiter" | "too-few-frames" | "bad-signature" | "bad-json" | "bad-header", message: string) {
    super(message);
    this.name = "WireError";
  }
}

export interface Decoded {
  identities: Buffer[];
  msg: Message;
}

export class Signer {
  private readonly key: Buffer;
  constructor(key: string) {
    this.key = Buffer.from(key, "utf8");
  }

  get enabled(): boolean {
    return this.key.length > 0;
  }

  sign(frames: Buffer[]): string {
    if (!this.enabled) return "";
    const h = createHmac("sha256", this.key);
    for (const f of frames) h.update(f);
    return h.digest("hex");
  }

  verify(signature: Buffer, frames: Buffer[]): boolean {
    if (!this.enabled) return true;
    const expected = Buffer.from(this.sign(frames), "utf8");
    return signature.length === expected.length && timingSafeEqual(signature, expected);
  }
}

function parseJson(frame: Buffer, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(frame.toString("utf8"));
  } catch {
    throw new WireError("bad-json", `${what} frame is not JSON`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new WireError("bad-json", `${what} frame is not an object`);
  return v as Record<string, unknown>;
}

/** Splits and checks a multipart message. Throws WireError; the caller drops and logs it. */
export function decode(frames: Buffer[], signer: Signer): Decoded {
  const at = frames.findIndex((f) => f.equals(DELIMITER));
  if (at < 0) throw new WireError("no-delimiter", "no <IDS|MSG> delimiter");
  if (frames.length < at + 6) throw new WireError("too-few-frames", `expected 5 frames after the delimiter, got ${frames.length - at - 1}`);
  const [signature, header, parent, metadata, content] = frames.slice(at + 1, at + 6);
  // The signature is checked before any JSON is parsed: unsigned input is never interpreted.
  if (!signer.verify(signature, [header, parent, metadata, content])) throw new WireError("bad-signature", "signature mismatch");
  const h = parseJson(header, "header");
  if (typeof h.msg_type !== "string" || typeof h.msg_id !== "string") throw new WireError("bad-header", "header lacks msg_type or msg_id");
  const msg = {
    header: h,
    parent_header: parseJson(parent, "parent_header"),
    metadata: parseJson(metadata, "metadata"),
    content: parseJson(content, "content"),
    buffers: frames.slice(at + 6).map((b) => new Uint8Array(b)),
  } as unknown as Message;
  return { identities: frames.slice(0, at), msg };
}

export function encode(msg: Message, signer: Signer, identities: Buffer[] = []): Buffer[] {
  const json = [msg.header, msg.parent_header, msg.metadata, msg.content].map((p) => Buffer.from(JSON.stringify(p), "utf8"));
  return [
    ...identities,
    DELIMITER,
    Buffer.from(signer.sign(json), "utf8"),
    ...json,
    ...msg.buffers.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)),
  ];
}
