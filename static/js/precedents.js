// The precedent search page: its share-overturned card is counted by a second request (htmx), which
// htmx leaves unswapped when it fails; say so instead of "Counting…" for ever.
(function () {
  "use strict";
  function failed(evt) {
    var card = evt.detail.elt;
    if (!card.classList || !card.classList.contains("imr-precedent-stats")) return;
    var body = card.querySelector(".card-body");
    if (body) {
      body.textContent = "The share overturned could not be counted just now. Reload the page to try again.";
      body.setAttribute("role", "status");
    }
  }
  document.body.addEventListener("htmx:responseError", failed);
  document.body.addEventListener("htmx:sendError", failed);
  document.body.addEventListener("htmx:timeout", failed);
})();
