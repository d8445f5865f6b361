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

describe("the window's capability", () => {
  // What each @tauri-apps/api function the UI imports needs from the core (Tauri 2 ACL). `invoke` of
  // the app's own commands needs nothing: they are allowed unless an app manifest restricts them.
  const NEEDS: Record<string, string[]> = {
    "core.invoke": [],
    "event.listen": ["core:event:allow-listen", "core:event:allow-unlisten"],
    "event.once": ["core:event:allow-listen", "core:event:allow-unlisten"],
    "event.emit": ["core:event:allow-emit"],
    "event.emitTo": ["core:event:allow-emit-to"],
  };
  const NAMED_IMPORT = /import\s*\{([^}]*)\}\s*from\s*["']@tauri-apps\/api\/([\w-]+)["']/g;
  const CAPABILITY = join(UI, "..", "src-tauri", "app", "capabilities", "default.json");

  // Namespace, default and dynamic imports would hide which functions are used.
  const OTHER_IMPORT =
    /import\s+(?:\*\s*as\s+\w+|\w+)\s*(?:,|from)\s*["']@tauri-apps\/api|import\s*\(\s*["']@tauri-apps\/api/;

  it("grants exactly what src/api uses, and no catch-all default", () => {
    const sources = sourceFiles(join(SRC, "api"))
      .filter((file) => !/\.test\.tsx?$/.test(file))
      .map((file) => readFileSync(file, "utf8"));
    expect(
      sources.filter((text) => OTHER_IMPORT.test(text)),
      "import @tauri-apps/api functions by name, so this test sees them",
    ).toEqual([]);
    const used = sources.flatMap((text) =>
      [...text.matchAll(NAMED_IMPORT)].flatMap(([, names, module]) =>
        (names ?? "")
          .split(",")
          .map((name) => name.trim())
          .filter((name) => name !== "" && !name.startsWith("type "))
          .map((name) => `${module}.${name.split(/\s+as\s+/)[0]}`),
      ),
    );
    expect(used, "the scan sees tauri.ts's imports").toEqual(
      expect.arrayContaining(["core.invoke", "event.listen"]),
    );
    const unknown = used.filter((name) => !(name in NEEDS));
    expect(unknown, "name the permissions a new @tauri-apps/api function needs in NEEDS").toEqual(
      [],
    );
    const needed = [...new Set(used.flatMap((name) => NEEDS[name] ?? []))].sort();
    const capability = JSON.parse(readFileSync(CAPABILITY, "utf8")) as {
      windows: string[];
      permissions: unknown[];
    };
    expect(capability.windows).toEqual(["main"]);
    expect(
      [...capability.permissions].sort(),
      "least privilege: no core:default, nothing the UI does not call",
    ).toEqual(needed);
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
