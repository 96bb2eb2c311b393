// onett portal: upload progress, file-state refresh, print button. Our own code only; no libraries.
"use strict";

(function () {
  function fill(template, name) {
    return template.split("{name}").join(name);
  }

  function allowed(name, suffixes) {
    var lower = name.toLowerCase();
    return suffixes.some(function (s) { return lower.endsWith(s); });
  }

  // ---- file states: refresh the table while anything is waiting or processing ----
  var table = document.getElementById("files-table");
  var polling = null;

  function refreshFiles() {
    if (!table) return;
    if (table.querySelector("details[open]")) return;  // an erase form being filled in stays as it is
    var xhr = new XMLHttpRequest();
    xhr.open("GET", table.dataset.src);
    xhr.onload = function () {
      if (xhr.status !== 200) return;
      table.innerHTML = xhr.responseText;  // server-rendered, escaped HTML of our own origin
      var inner = table.querySelector("[data-pending]");
      var pending = inner && inner.dataset.pending === "1";
      if (!pending && polling) { clearInterval(polling); polling = null; }
    };
    xhr.send();
  }

  function startPolling() {
    if (table && !polling) polling = setInterval(refreshFiles, 4000);
  }

  if (table && table.dataset.pending === "1") startPolling();

  // ---- uploads: one request per file, with progress ----
  var form = document.getElementById("upload-form");
  if (form) {
    var list = document.getElementById("upload-progress");
    var input = document.getElementById("files");
    var maxBytes = parseInt(form.dataset.maxBytes, 10);
    var suffixes = form.dataset.suffixes.split(",").map(function (s) { return s.trim().toLowerCase(); });
    var csrf = form.querySelector("input[name=csrf]").value;

    function row(name) {
      var li = document.createElement("li");
      li.className = "upload-row";
      var label = document.createElement("span");
      label.className = "upload-name";
      label.textContent = name;
      var bar = document.createElement("progress");
      bar.max = 100; bar.value = 0;
      var status = document.createElement("span");
      status.className = "upload-status";
      li.appendChild(label); li.appendChild(bar); li.appendChild(status);
      list.appendChild(li);
      return { li: li, bar: bar, status: status };
    }

    function finish(r, ok, message) {
      r.li.classList.add(ok ? "ok" : "error");
      r.bar.value = ok ? 100 : r.bar.value;
      r.status.textContent = message;
    }

    function send(file, r) {
      return new Promise(function (resolve) {
        var data = new FormData();
        data.append("csrf", csrf);
        // The terms go before the file: the server checks them before it saves anything.
        ["usage", "evaluation_allowed", "expires", "rights_attested"].forEach(function (name) {
          var field = form.elements[name];
          if (!field) return;
          if (field.type === "checkbox") { if (field.checked) data.append(name, field.value); }
          else if (field.value) data.append(name, field.value);
        });
        data.append("files", file, file.name);
        var xhr = new XMLHttpRequest();
        xhr.open("POST", form.action);
        xhr.setRequestHeader("Accept", "application/json");
        xhr.setRequestHeader("X-CSRF-Token", csrf);
        xhr.upload.onprogress = function (e) {
          if (e.lengthComputable) {
            var pct = Math.floor(100 * e.loaded / e.total);
            r.bar.value = pct;
            r.status.textContent = form.dataset.msgUploading + " " + pct + "%";
          }
        };
        xhr.onload = function () {
          var body = null;
          try { body = JSON.parse(xhr.responseText); } catch (err) { body = null; }
          finish(r, xhr.status === 200, body && body.message ? body.message : form.dataset.msgFailed + " (" + xhr.status + ")");
          resolve();
        };
        xhr.onerror = function () { finish(r, false, form.dataset.msgFailed); resolve(); };
        xhr.send(data);
      });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var files = Array.prototype.slice.call(input.files);
      list.innerHTML = "";
      if (!files.length) {
        var li = document.createElement("li");
        li.className = "note error";
        li.textContent = form.dataset.msgNone;
        list.appendChild(li);
        return;
      }
      var queue = [];
      files.forEach(function (file) {
        var r = row(file.name);
        if (!allowed(file.name, suffixes)) finish(r, false, fill(form.dataset.msgType, file.name));
        else if (file.size > maxBytes) finish(r, false, fill(form.dataset.msgSize, file.name));
        else if (file.size === 0) finish(r, false, fill(form.dataset.msgEmpty, file.name));
        else queue.push([file, r]);
      });
      var button = document.getElementById("upload-button");
      button.disabled = true;
      // Two at a time: progress stays readable and the server is not flooded.
      var next = 0;
      function worker() {
        if (next >= queue.length) return Promise.resolve();
        var item = queue[next++];
        return send(item[0], item[1]).then(worker);
      }
      Promise.all([worker(), worker()]).then(function () {
        button.disabled = false;
        input.value = "";
        refreshFiles();
        startPolling();
      });
    });
  }

  // ---- printable statement ----
  Array.prototype.forEach.call(document.querySelectorAll("[data-print]"), function (b) {
    b.addEventListener("click", function () { window.print(); });
  });

  // ---- month picker: show on change ----
  Array.prototype.forEach.call(document.querySelectorAll(".month-picker select"), function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });
})();
