// Comptoir back office: small unobtrusive helpers; every page works without them.
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// The query builder regenerates its samples when a choice changes (a list, a radio
// button); text fields are taken when the user presses Generate or Enter.
var live = document.querySelector("form[data-live]");
if (live && live.requestSubmit) {
  live.addEventListener("change", function (event) {
    var t = event.target;
    if (t.tagName === "SELECT" || t.type === "radio" || t.type === "checkbox") {
      live.requestSubmit();
    }
  });
}
