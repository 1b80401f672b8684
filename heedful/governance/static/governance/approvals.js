/* "Tick every proposal on this page": progressive; without it each box is ticked by hand. */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var all = event.target;
    if (!all.matches || !all.matches("[data-tick-all]")) { return; }
    var boxes = document.querySelectorAll('input[type="checkbox"][name="' + all.getAttribute("data-tick-all") + '"]');
    Array.prototype.forEach.call(boxes, function (box) { box.checked = all.checked; });
  });
})();
