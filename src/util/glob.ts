/**
 * Globs as tensor selectors and the kernel's history search use them (sqlite GLOB
 * semantics, as ipykernel's search does): * matches any run of characters (newlines
 * included), ? one character, and the pattern covers the whole string.
 */
export function globToRegExp(pattern: string): RegExp {
  const re = [...pattern].map((c) => (c === "*" ? "[\\s\\S]*" : c === "?" ? "[\\s\\S]" : c.replace(/[.+^${}()|[\]\\]/g, "\\$&"))).join("");
  return new RegExp(`^${re}$`);
}
