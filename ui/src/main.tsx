import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { detectBackend } from "./api";
import { Root } from "./Root";
import "./styles.css";

const container = document.getElementById("root");
if (!container) throw new Error("index.html has no #root element");

createRoot(container).render(
  <StrictMode>
    <Root backend={detectBackend()} />
  </StrictMode>,
);
