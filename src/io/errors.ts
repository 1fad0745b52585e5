/**
 * One error type for everything that can be wrong with a checkpoint on disk, with a kind
 * per failure (after the safetensors crate's SafeTensorError) and the file, tensor or
 * config field it concerns, so a notebook user sees exactly what to fix.
 */
import { UserError } from "../util/errors";

export type CheckpointErrorKind =
  | "not-found"             // no checkpoint at the path / repo id
  | "io"                    // the OS refused a read
  | "header-too-small"      // file shorter than the 8-byte length prefix
  | "header-too-large"      // declared header length past the end of the file or over the limit
  | "invalid-json"          // header or config is not valid JSON
  | "invalid-header"        // JSON of the wrong shape (missing dtype/shape/data_offsets ...)
  | "invalid-metadata"      // __metadata__ is not an object of string values
  | "unknown-dtype"
  | "offset-out-of-bounds"  // data_offsets past the end of the data section, or begin > end
  | "overlapping-data"      // two tensors share bytes
  | "size-mismatch"         // byte length != shape x dtype size
  | "duplicate-tensor"      // a name twice in one header or in two shards
  | "missing-shard"         // the index names a file that is not there
  | "tensor-not-found"
  | "invalid-config"        // config.json field missing or of the wrong type/value
  | "config-mismatch"       // tensors do not fit the config (missing, wrong shape)
  | "invalid-scale";        // an FP8 scale tensor whose shape fits no granularity

export class CheckpointError extends UserError {
  override name = "CheckpointError";
  constructor(
    readonly kind: CheckpointErrorKind,
    message: string,
    readonly where: { file?: string; tensor?: string; field?: string } = {},
  ) {
    super(message);
  }
}
