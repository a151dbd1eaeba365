// What the type check of the page modules (tsconfig.json) must know beyond
// the DOM library: old engines' document mode, and the handles the pages put
// on window for the browser tests.
interface Document {
  /** IE's document mode: set only by IE and the IE modes of 360/QQ (rule A6). */
  documentMode?: number;
}

interface Window {
  examHub?: unknown;
  examCamera?: unknown;
  examDevices?: unknown;
  examPage?: unknown;
  phoneHub?: unknown;
  phoneClient?: unknown;
}

interface DisplayMediaStreamOptions {
  /** Chromium: whether this tab may be offered (rule J1 asks for the monitor). */
  selfBrowserSurface?: 'include' | 'exclude';
  surfaceSwitching?: 'include' | 'exclude';
  monitorTypeSurfaces?: 'include' | 'exclude';
}
