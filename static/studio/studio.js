/* Small page helpers for the Studio: confirm-before-submit and copy-to-clipboard.
   Everything else is plain HTML forms and htmx attributes. */
(function () {
  "use strict";

  // <form data-confirm="Delete …?"> asks before submitting (htmx requests use hx-confirm instead).
  document.addEventListener("submit", function (event) {
    const form = event.target;
    const question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // <button data-copy="#element-id"> copies that element's text and says so.
  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
    // http://127.0.0.1 is a secure context; anything else falls back to a hidden textarea.
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }

  document.addEventListener("click", async function (event) {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    const label = button.textContent;
    try {
      await copyText(source.value !== undefined && source.tagName !== "CODE" ? source.value : source.textContent);
      button.textContent = "Copied";
    } catch (err) {
      button.textContent = "Copy failed: select and copy by hand";
    }
    setTimeout(function () { button.textContent = label; }, 1800);
  });
})();

/* Fields that only matter for one engine or mode: `data-show-if="tts_vendor=xtts"` on an input hides
   its .field wrapper unless the named select has that value. Runs on load and after htmx swaps. */
(function () {
  "use strict";
  function sync(root) {
    (root || document).querySelectorAll("[data-show-if]").forEach(function (input) {
      const rule = input.getAttribute("data-show-if").split("=");
      const form = input.form || document;
      const control = form.querySelector('[name="' + rule[0] + '"]');
      const wrapper = input.closest(".field") || input;
      if (!control) return;
      const wanted = rule[1].split("|");
      const value = control.type === "checkbox" ? (control.checked ? "on" : "") : control.value;
      wrapper.classList.toggle("hidden", wanted.indexOf(value) === -1);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { sync(); });
  document.addEventListener("change", function () { sync(); });
  document.addEventListener("htmx:afterSettle", function () { sync(); });
})();

/* Model fields take any name; their suggestions (a datalist) follow the selected provider key:
   `models-<key id>` when the page has that key's model list, else `models-default`. */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    const select = event.target;
    if (!select.matches || !select.matches('select[name="openai_key"]')) return;
    const own = document.getElementById("models-" + select.value);
    const list = select.value && own ? "models-" + select.value : "models-default";
    (select.form || document).querySelectorAll("[data-model-suggestions]").forEach(function (input) {
      input.setAttribute("list", list);
    });
  });
})();
