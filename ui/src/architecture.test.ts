import { readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = import.meta.dirname;
const UI = join(SRC, "..");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|tsx|js|jsx|mjs|cjs)$/.test(entry.name) ? [path] : [];
  });
}

// Static imports, side-effect imports, re-exports, dynamic imports and require().
const TAURI_IMPORT =
  /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)["']@tauri-apps\/api(?:\/[^"']*)?["']/;

describe("one door to the backend", () => {
  const files = sourceFiles(SRC);
  const insideApi = (file: string) => relative(SRC, file).split(sep)[0] === "api";

  it("finds the source tree and sees the Tauri import in src/api (the scan works)", () => {
    expect(files.length).toBeGreaterThan(10);
    const importers = files.filter((file) => TAURI_IMPORT.test(readFileSync(file, "utf8")));
    expect(importers.map((file) => relative(SRC, file))).toContain(join("api", "tauri.ts"));
  });

  it("has no file outside src/api importing @tauri-apps/api", () => {
    const offenders = files
      .filter((file) => !insideApi(file))
      .filter((file) => TAURI_IMPORT.test(readFileSync(file, "utf8")))
      .map((file) => relative(SRC, file));
    expect(offenders, "only src/api/ may talk to Tauri").toEqual([]);
  });
});

describe("strict CSP", () => {
  it("index.html has no inline script or style and loads nothing from another origin", () => {
    const html = readFileSync(join(UI, "index.html"), "utf8");
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(attributes, "scripts must be files").toMatch(/\bsrc=/);
      expect(body?.trim()).toBe("");
    }
    expect(html).not.toMatch(/<style\b|\sstyle=/);
    expect(html).not.toMatch(/(?:src|href)=["'](?:https?:)?\/\//);
  });

  it("the stylesheet pulls in no external fonts or resources", () => {
    const css = readFileSync(join(SRC, "styles.css"), "utf8");
    expect(css).not.toMatch(/@import|url\(/);
  });
});
