import { useRef, type KeyboardEvent, type ReactNode } from "react";

export type TabDefinition<Id extends string> = {
  id: Id;
  label: string;
  panel: ReactNode;
};

type TabsProps<Id extends string> = {
  /** Names the tab list for assistive technology. */
  label: string;
  tabs: readonly TabDefinition<Id>[];
  selected: Id;
  onSelect: (id: Id) => void;
  /** Prefix for the element ids (`<prefix>tab-<id>`, `<prefix>panel-<id>`); set it when a page has two tab sets. */
  idPrefix?: string;
};

/**
 * WAI-ARIA tabs with automatic activation: arrow keys move focus and select,
 * Home and End jump to the ends, and only the selected tab is in the tab order
 * (roving tabindex). Inactive panels stay in the DOM, hidden, so every tab's
 * aria-controls points at a real element.
 */
export function Tabs<Id extends string>({
  label,
  tabs,
  selected,
  onSelect,
  idPrefix = "",
}: TabsProps<Id>) {
  const tabRefs = useRef(new Map<Id, HTMLButtonElement>());
  // Stable ids rather than useId(), so end-to-end tests can address tabs and panels.
  const tabId = (id: Id) => `${idPrefix}tab-${id}`;
  const panelId = (id: Id) => `${idPrefix}panel-${id}`;

  const moveTo = (index: number) => {
    const count = tabs.length;
    const target = tabs[((index % count) + count) % count];
    if (!target) return;
    onSelect(target.id);
    tabRefs.current.get(target.id)?.focus();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const current = tabs.findIndex((tab) => tab.id === selected);
    switch (event.key) {
      case "ArrowRight":
        moveTo(current + 1);
        break;
      case "ArrowLeft":
        moveTo(current - 1);
        break;
      case "Home":
        moveTo(0);
        break;
      case "End":
        moveTo(tabs.length - 1);
        break;
      default:
        return;
    }
    event.preventDefault();
  };

  return (
    <div className="tabs">
      <div role="tablist" aria-label={label} className="tabs__list" onKeyDown={onKeyDown}>
        {tabs.map((tab) => {
          const isSelected = tab.id === selected;
          return (
            <button
              key={tab.id}
              ref={(element) => {
                if (element) tabRefs.current.set(tab.id, element);
                else tabRefs.current.delete(tab.id);
              }}
              type="button"
              role="tab"
              id={tabId(tab.id)}
              data-tab={tab.id}
              aria-selected={isSelected}
              aria-controls={panelId(tab.id)}
              tabIndex={isSelected ? 0 : -1}
              className="tabs__tab"
              onClick={() => onSelect(tab.id)}
            >
              {tab.label}
            </button>
          );
        })}
      </div>
      {tabs.map((tab) => (
        <div
          key={tab.id}
          role="tabpanel"
          id={panelId(tab.id)}
          data-panel={tab.id}
          aria-labelledby={tabId(tab.id)}
          hidden={tab.id !== selected}
          tabIndex={0}
          className="tabs__panel"
        >
          {tab.panel}
        </div>
      ))}
    </div>
  );
}
