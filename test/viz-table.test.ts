/** SortableTable: how numbers are shown in the text and HTML renderings. */
import { describe, expect, it } from "vitest";
import { SortableTable } from "../src/index";

describe("SortableTable number display", () => {
  it("shows integer counts exactly and other numbers to 4 significant digits", () => {
    const t = new SortableTable([{ header: "context" }, { header: "ratio" }], [[16384, 13.7923], [131072, 1 / 3], [-1234567, 2.5e-7]]);
    const text = t.toString();
    expect(text).toContain("16384");
    expect(text).toContain("131072");
    expect(text).toContain("-1234567");
    expect(text).not.toContain("16380");
    expect(text).toContain("13.79");
    expect(text).toContain("0.3333");
    expect(text).toContain("2.500e-7");
    const html = t.toHtml();
    expect(html).toContain('data-v="16384"');
    expect(html).toContain(">16384<");
  });
});
