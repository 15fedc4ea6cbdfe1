// The arena's keyboard shortcuts: each vote button names its key in data-key (A, B, T, X).
// Typing in a field, or with Ctrl, Alt or Meta held, is left alone.
"use strict";
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.altKey || event.metaKey || event.repeat) return;
  const target = event.target;
  if (target instanceof Element && target.closest("input, textarea, select, [contenteditable]")) return;
  const key = event.key.length === 1 ? event.key.toLowerCase() : "";
  if (!key) return;
  const button = document.querySelector(`#battle button[data-key="${key}"]`);
  if (!button || button.disabled) return;
  event.preventDefault();
  button.click();
});
