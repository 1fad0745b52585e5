import { describe, it, expect } from "vitest";
import { hasBrowser, launchBrowser, launchPersistentContext, collectPageErrors } from "./helpers/browser";

const ok = hasBrowser();

describe.skipIf(!ok)("browser harness", () => {
  it("launches Debian's chromium headless and runs a page's script", async () => {
    const browser = await launchBrowser();
    try {
      expect(browser.version()).toMatch(/^\d+\./);
      const page = await browser.newPage();
      const errors = collectPageErrors(page);
      await page.setContent("<p id=x>1</p><script>document.getElementById('x').textContent = String(6 * 7)</script>");
      expect(await page.textContent("#x")).toBe("42");
      await page.evaluate(() => console.error("boom"));
      expect(errors).toEqual(["console.error: boom"]);
    } finally {
      await browser.close();
    }
  }, 90_000);

  it("a persistent context lives in its own fresh profile folder, removed on close", async () => {
    const fs = await import("fs");
    const { context, userDataDir, close } = await launchPersistentContext();
    expect(fs.existsSync(userDataDir)).toBe(true);
    const page = await context.newPage();
    await page.setContent("<b>hi</b>");
    expect(await page.textContent("b")).toBe("hi");
    await close();
    expect(fs.existsSync(userDataDir)).toBe(false);
  }, 90_000);
});
