// lib.js is the one place the vendored UI library is imported from:
// Preact with its hooks, and htm for templates without a build step.
import { h, render, Fragment, createContext, createRef } from './vendor/preact.mjs';
import htm from './vendor/htm.mjs';

export { useState, useEffect, useRef, useMemo, useCallback, useContext, useReducer, useLayoutEffect, useId } from './vendor/hooks.mjs';
export { h, render, Fragment, createContext, createRef };
export const html = htm.bind(h);
