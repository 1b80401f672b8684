/* Inbox keyboard shortcuts and "use this answer"; progressive: every action also works without it. */
(function () {
  "use strict";
  var current = -1;
  function rows() { return Array.prototype.slice.call(document.querySelectorAll(".inbox-row")); }
  function typing(target) {
    if (target.type === "checkbox") { return false; }
    return /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) || target.isContentEditable;
  }
  function mark(index) {
    var all = rows();
    if (!all.length) { return; }
    current = Math.max(0, Math.min(index, all.length - 1));
    all.forEach(function (row, i) { row.classList.toggle("is-current", i === current); });
    var link = all[current].querySelector("a");
    if (link) { link.focus(); }
  }
  document.addEventListener("keydown", function (event) {
    if (typing(event.target) || event.metaKey || event.ctrlKey || event.altKey) { return; }
    if (event.key === "j") { mark(current + 1); event.preventDefault(); }
    else if (event.key === "k") { mark(current - 1); event.preventDefault(); }
    else if (event.key === "x" && current >= 0) {
      var box = rows()[current] && rows()[current].querySelector('input[name="ids"]');
      if (box) { box.checked = !box.checked; event.preventDefault(); }
    }
    else if (event.key === "r") {
      var reply = document.getElementById("id_body");
      if (reply) { reply.focus(); event.preventDefault(); }
    }
  });
  // Ticking: "tick all" ticks the page; while anything is ticked the live refresh waits, so
  // the rows (and the ticks) are not replaced under the agent's hand.
  document.addEventListener("change", function (event) {
    var all = event.target;
    if (!all.matches || !all.matches("[data-tick-all]")) { return; }
    var boxes = document.querySelectorAll('input[type="checkbox"][name="' + all.getAttribute("data-tick-all") + '"]');
    Array.prototype.forEach.call(boxes, function (box) { box.checked = all.checked; });
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    var source = event.detail && event.detail.elt;
    if (source && source.id === "inbox-rows" && source.querySelector('input[name="ids"]:checked')) {
      event.preventDefault();
    }
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-insert]") : null;
    if (!button) { return; }
    var reply = document.getElementById("id_body");
    if (!reply) { return; }
    reply.value = button.getAttribute("data-insert");
    var entry = document.getElementById("id_faq_entry");
    if (entry) { entry.value = button.getAttribute("data-entry") || ""; }
    reply.focus();
  });
})();
