// Copy buttons: <button data-copy="ID"> copies the text of the element with that id.
// The text is also selected, so that Ctrl+C works where the clipboard is refused.
"use strict";
document.addEventListener("click", async (event) => {
  const button = event.target instanceof Element ? event.target.closest("button[data-copy]") : null;
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const range = document.createRange();
  range.selectNodeContents(source);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  let copied = false;
  try {
    await navigator.clipboard.writeText(source.textContent);
    copied = true;
  } catch (error) {
    copied = false;
  }
  const label = copied ? button.dataset.done : button.dataset.failed;
  button.textContent = label;
  const status = document.getElementById("copy-status");
  if (status) status.textContent = label;
});
