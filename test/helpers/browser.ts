/**
 * A real browser for the tests: Debian's chromium (installed by .ci/browser-deps.sh) driven by
 * playwright-core, never a downloaded browser. Every launch gets a fresh temporary profile.
 * Where chromium is missing, tests skip loudly; with NEMOTRON_LAB_REQUIRE_BROWSER=1 (CI) they fail.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Browser, BrowserContext, LaunchOptions, Page } from "playwright-core";

export const CHROMIUM = process.env.NEMOTRON_LAB_CHROMIUM ?? "/usr/bin/chromium";

/** The flags every test browser runs with: headless, no sandbox (CI runs as root), nothing phoning home. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function playwright(): typeof import("playwright-core") {
  return require("playwright-core");
}

/** Why browser tests cannot run here, or null when they can. */
export function browserMissingReason(): string | null {
  if (!fs.existsSync(CHROMIUM)) return `${CHROMIUM} not found; run \`sh .ci/browser-deps.sh\` (Debian's chromium)`;
  try {
    require.resolve("playwright-core");
  } catch {
    return "playwright-core is not installed; run `npm install`";
  }
  return null;
}

/**
 * Whether `what` can run (why === null); otherwise warns loudly, or throws where CI requires the
 * browser tests (NEMOTRON_LAB_REQUIRE_BROWSER), so they are never skipped silently.
 */
export function canRunOrSkip(what: string, why: string | null): boolean {
  if (why === null) return true;
  if (process.env.NEMOTRON_LAB_REQUIRE_BROWSER) throw new Error(`${what} required but cannot run: ${why}`);
  console.warn(`\n*** SKIPPED: ${what} — ${why} ***\n`);
  return false;
}

/** True when chromium and playwright-core are here (see canRunOrSkip). */
export function hasBrowser(): boolean {
  return canRunOrSkip("browser tests", browserMissingReason());
}

function launchOptions(extra: LaunchOptions = {}): LaunchOptions {
  return { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000, ...extra };
}

/**
 * One headless chromium. playwright gives each launch its own temporary user-data-dir and deletes it
 * on close, so no state leaks between test files.
 */
export async function launchBrowser(extra: LaunchOptions = {}): Promise<Browser> {
  return playwright().chromium.launch(launchOptions(extra));
}

/** A persistent context over a fresh temporary profile folder we own (for tests that need the profile on disk). */
export async function launchPersistentContext(
  extra: LaunchOptions = {},
): Promise<{ context: BrowserContext; userDataDir: string; close(): Promise<void> }> {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "nemotron-lab-chromium-"));
  const context = await playwright().chromium.launchPersistentContext(userDataDir, launchOptions(extra));
  return {
    context,
    userDataDir,
    async close() {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Collects a page's console errors and uncaught exceptions, so a test can assert there were none. */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    // Chrome names a failed resource in the message's location only: keep it in the text.
    const url = msg.location().url;
    errors.push(`console.error: ${msg.text()}${/^Failed to load resource/.test(msg.text()) && url ? ` (${url})` : ""}`);
  });
  page.on("pageerror", (err) => errors.push(`uncaught: ${err.message}`));
  return errors;
}
