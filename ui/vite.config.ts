/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// Tauri loads ui/dist from its own origin, so asset URLs must be relative.
// The dev server port is fixed so tauri.conf.json's devUrl can point at it.
export default defineConfig({
  base: "./",
  plugins: [react()],
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // Strict CSP: no inline module-preload polyfill script.
    modulePreload: { polyfill: false },
    // No data: URLs, so the CSP need not allow them.
    assetsInlineLimit: 0,
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/test/setup.ts"],
    restoreMocks: true,
    // e2e/ runs in Chromium through `npm run test:e2e` (node --test), not in jsdom.
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
