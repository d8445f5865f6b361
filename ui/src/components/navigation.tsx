import { createContext, useContext } from "react";

/** How one view sends the person to another (the grant card's connection link). */
export type Navigation = {
  /** Switches to the Connections tab and highlights the connection with this id. */
  showConnection: (connectionId: string) => void;
  /** The connection the Connections tab should highlight, if any. */
  highlightedConnection: string | null;
};

const NavigationContext = createContext<Navigation>({
  showConnection: () => {},
  highlightedConnection: null,
});

export const NavigationProvider = NavigationContext.Provider;

export function useNavigation(): Navigation {
  return useContext(NavigationContext);
}
