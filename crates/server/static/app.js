// Comptoir back office: small unobtrusive helpers; every page works without them.
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// The query builder regenerates its samples as its fields change.
var live = document.querySelector("form[data-live]");
if (live && live.requestSubmit) {
  live.addEventListener("change", function () {
    live.requestSubmit();
  });
}
