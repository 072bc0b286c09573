// Lists the files chosen for upload with their sizes, and marks those over the size limit
// before the coordinator sends them (the server checks again; this only saves a wasted upload).
(function () {
  "use strict";
  var list = document.getElementById("document-upload-selection");
  var form = document.getElementById("document-upload-form");
  if (!list || !form) {
    return;
  }
  var input = form.querySelector("input[type=file]");
  var maxBytes = parseInt(list.dataset.maxBytes, 10) || 0;

  function readableSize(bytes) {
    if (bytes < 1024 * 1024) {
      return Math.max(1, Math.round(bytes / 1024)) + " KB";
    }
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  function show() {
    list.replaceChildren();
    Array.prototype.forEach.call(input.files, function (file) {
      var item = document.createElement("li");
      var tooLarge = maxBytes && file.size > maxBytes;
      item.textContent = file.name + " · " + readableSize(file.size) + (tooLarge ? " · over the limit, will be refused" : "");
      item.className = tooLarge ? "text-danger" : "text-body-secondary";
      list.appendChild(item);
    });
  }

  input.addEventListener("change", show);
  // Files chosen before this deferred script ran (a quick hand, or the browser restoring the form) show too.
  show();
})();
