import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// WCAG 2.x contrast, checked on the colour variables in styles.css for both themes.
const css = readFileSync(join(import.meta.dirname, "styles.css"), "utf8");

function variables(block: string): Map<string, string> {
  return new Map(
    [...block.matchAll(/(--[\w-]+)\s*:\s*(#[0-9a-fA-F]{6})\s*;/g)].map(([, name, value]) => [
      name!,
      value!,
    ]),
  );
}

function themeBlocks(): { light: Map<string, string>; dark: Map<string, string> } {
  const lightBlock = /^:root\s*\{([\s\S]*?)^\}/m.exec(css)?.[1];
  const darkBlock = /prefers-color-scheme:\s*dark\)\s*\{\s*:root:not\(\[data-theme="light"\]\)\s*\{([\s\S]*?)\}/.exec(
    css,
  )?.[1];
  if (!lightBlock || !darkBlock) throw new Error("styles.css lost its light or dark :root block");
  return { light: variables(lightBlock), dark: variables(darkBlock) };
}

/** The colours of the dark theme chosen in Settings (data-theme="dark" on <html>). */
function chosenDarkBlock(): Map<string, string> {
  const block = /^:root\[data-theme="dark"\]\s*\{([\s\S]*?)^\}/m.exec(css)?.[1];
  if (!block) throw new Error('styles.css lost its :root[data-theme="dark"] block');
  return variables(block);
}

function luminance(hex: string): number {
  const channels = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
  const [r, g, b] = channels.map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

export function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

// [foreground, background, minimum]: 4.5 for text, 3 for focus rings and status dots.
const PAIRS: [string, string, number][] = [
  ["--text", "--bg", 4.5],
  ["--text", "--surface", 4.5],
  ["--text", "--code-bg", 4.5],
  ["--text-muted", "--bg", 4.5],
  ["--text-muted", "--surface", 4.5],
  ["--error", "--surface", 4.5],
  ["--error", "--bg", 4.5],
  ["--on-accent", "--accent", 4.5],
  ["--focus", "--bg", 3],
  ["--focus", "--surface", 3],
  ["--accent", "--bg", 3],
  ["--ok", "--surface", 3],
  ["--pending", "--surface", 3],
  ["--border", "--bg", 3],
  // Token-health and status badges: tone colour as text on the page background.
  ["--ok", "--bg", 4.5],
  ["--pending", "--bg", 4.5],
  ["--accent", "--surface", 4.5],
  // Links inside cards, and the unverified-name shield.
  ["--accent", "--bg", 4.5],
  // "What this grants" callout.
  ["--text", "--callout-bg", 4.5],
  ["--text-muted", "--callout-bg", 4.5],
  ["--accent", "--callout-bg", 3],
  // Destructive buttons: filled, and outlined on cards.
  ["--on-error", "--error", 4.5],
  // Tooltips invert text and background.
  ["--bg", "--text", 4.5],
  ["--text", "--code-bg", 4.5],
  ["--text-muted", "--code-bg", 4.5],
];

describe("theme contrast", () => {
  it("uses the same dark colours whether dark comes from the system or from Settings", () => {
    expect(Object.fromEntries(chosenDarkBlock())).toEqual(Object.fromEntries(themeBlocks().dark));
  });

  it("defines every colour in both themes", () => {
    const { light, dark } = themeBlocks();
    expect([...dark.keys()].sort()).toEqual([...light.keys()].sort());
  });

  it("computes the WCAG ratio (black on white is 21:1)", () => {
    expect(contrast("#000000", "#ffffff")).toBeCloseTo(21, 5);
    expect(contrast("#777777", "#ffffff")).toBeLessThan(4.5);
  });

  for (const [name, theme] of Object.entries(themeBlocks())) {
    for (const [fg, bg, minimum] of PAIRS) {
      it(`${name}: ${fg} on ${bg} is at least ${minimum}:1`, () => {
        const a = theme.get(fg);
        const b = theme.get(bg);
        expect(a, `${fg} is defined in the ${name} theme`).toBeDefined();
        expect(b, `${bg} is defined in the ${name} theme`).toBeDefined();
        expect(contrast(a!, b!)).toBeGreaterThanOrEqual(minimum);
      });
    }
  }
});
