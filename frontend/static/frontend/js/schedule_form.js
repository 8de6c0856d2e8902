/* The schedule form: the items box follows the job type (shown for a type that runs item by item, its example items typed in). */
"use strict";

(function () {
  var form = document.getElementById("schedule-form");
  if (!form) return;
  var type = document.getElementById("s-type");
  var box = document.getElementById("s-items-box");
  var items = document.getElementById("s-items");
  var hint = document.getElementById("s-payload-hint");
  var chunk = document.getElementById("s-chunk-size");
  var lastExample = items.dataset.prefill === "true" ? items.value : null;

  function follow() {
    var option = type.options[type.selectedIndex];
    var itemType = Boolean(option && option.dataset.items);
    /* A hidden box is also disabled: its inputs are not sent with a type that takes no items. */
    box.hidden = !itemType;
    box.disabled = !itemType;
    hint.textContent = itemType ? hint.dataset.itemsText : hint.dataset.payloadText;
    if (!itemType) return;
    if (lastExample === null) return;  /* an edit: the placeholders show the current items' options */
    if (!chunk.value) chunk.placeholder = option.dataset.chunkSize || "";
    /* A new schedule: the type's example items, unless the user typed their own. */
    if (!items.value.trim() || items.value === lastExample) {
      items.value = option.dataset.exampleItems || "";
      lastExample = items.value;
    }
  }

  type.addEventListener("change", follow);
  follow();
})();
