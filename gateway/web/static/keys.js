// Keyboard shortcuts of a held message's page: j next, k previous, r release, x reject.
// Keys typed into a form field stay text; a key with Ctrl, Alt or Meta is the browser's.
"use strict";
document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (event.ctrlKey || event.altKey || event.metaKey || event.isComposing) return;
  if (target instanceof Element && target.closest("input, textarea, select, [contenteditable]")) return;
  const act = {
    j: () => document.querySelector("a[rel=next]")?.click(),
    k: () => document.querySelector("a[rel=prev]")?.click(),
    r: () => document.querySelector("form.release button.release:not([disabled])")?.click(),
    x: () => document.querySelector("form.reject textarea")?.focus(),
  }[event.key];
  if (act) {
    event.preventDefault();
    act();
  }
});
