export type ThemeChoice = "system" | "light" | "dark";

/**
 * Applies the theme to the document: data-theme="light" or "dark" forces it; "system" removes the
 * attribute so styles.css follows prefers-color-scheme.
 */
export function applyTheme(theme: ThemeChoice, root: HTMLElement = document.documentElement): void {
  if (theme === "system") root.removeAttribute("data-theme");
  else root.setAttribute("data-theme", theme);
}
