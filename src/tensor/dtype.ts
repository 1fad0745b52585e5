/** Element types of safetensors files; codes are the wire contract with native/src/common.h. */
export type DType =
  | "F64" | "F32" | "F16" | "BF16" | "F8_E4M3" | "F8_E5M2"
  | "I8" | "I16" | "I32" | "I64" | "U8" | "BOOL";

export const DTYPES: readonly DType[] = [
  "F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2", "I8", "I16", "I32", "I64", "U8", "BOOL",
];

export const DTYPE_SIZE: Readonly<Record<DType, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, F8_E5M2: 1,
  I8: 1, I16: 2, I32: 4, I64: 8, U8: 1, BOOL: 1,
};

export function dtypeCode(d: DType): number {
  return DTYPES.indexOf(d);
}

export function isDType(s: string): s is DType {
  return (DTYPES as readonly string[]).includes(s);
}

export function isFloat8(d: DType): boolean {
  return d === "F8_E4M3" || d === "F8_E5M2";
}
