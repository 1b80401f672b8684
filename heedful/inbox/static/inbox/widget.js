/* heedful chat widget. Embed with one tag on any page:
 *   <script src="https://YOUR-HEEDFUL/static/inbox/widget.js" defer></script>
 * Everything the visitor or the bot writes is put into the page with textContent (never
 * innerHTML), so no message can run script. The visitor's token stays in localStorage. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__heedfulWidget) { return; }
  window.__heedfulWidget = true;
  var base = script.getAttribute("data-heedful-url") || new URL(script.src).origin;
  var api = base.replace(/\/$/, "") + "/inbox/widget/api/";
  var storageKey = "heedful-visitor:" + base;
  var token = null;
  var lastId = 0;
  var timer = null;
  var POLL_MS = 2000;

  try { token = window.localStorage.getItem(storageKey); } catch (e) { token = null; }

  var css = document.createElement("link");
  css.rel = "stylesheet";
  // Beside the script, also when it was served under a hashed name (widget.<hash>.js): the
  // stylesheet's hash differs, so take its plain name, which is always served too.
  css.href = script.src.replace(/widget(\.[0-9a-f]{12})?\.js(\?.*)?$/, "widget.css");
  document.head.appendChild(css);

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  var root = el("div", "hfw");
  var launcher = el("button", "hfw-launcher", "Chat with us");
  launcher.type = "button";
  launcher.setAttribute("aria-expanded", "false");
  var panel = el("section", "hfw-panel");
  panel.hidden = true;
  panel.setAttribute("aria-label", "Chat");
  var header = el("div", "hfw-header", "Questions? We're here.");
  var log = el("div", "hfw-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  var form = el("form", "hfw-form");
  var input = el("input", "hfw-input");
  input.type = "text";
  input.maxLength = 2000;
  input.setAttribute("aria-label", "Your message");
  input.placeholder = "Type your question…";
  var send = el("button", "hfw-send", "Send");
  send.type = "submit";
  var status = el("div", "hfw-status");
  status.setAttribute("role", "status");
  form.appendChild(input);
  form.appendChild(send);
  panel.appendChild(header);
  panel.appendChild(log);
  panel.appendChild(status);
  panel.appendChild(form);
  root.appendChild(panel);
  root.appendChild(launcher);
  document.body.appendChild(root);

  function call(method, path, body) {
    var headers = { "Content-Type": "application/json" };
    if (token) { headers["X-Heedful-Visitor"] = token; }
    return fetch(api + path, {
      method: method, headers: headers, credentials: "omit", mode: "cors",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      // A proxy in front of heedful may answer with an HTML page: say so plainly, not as a
      // JSON parse error.
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          throw new Error(data.error || ("The chat could not be reached (HTTP " + response.status +
            "). Please try again in a moment."));
        }
        return data;
      });
    });
  }

  var URL_RE = /(https?:\/\/[^\s<>"]+)/g;

  function appendText(node, text) {
    // Links become <a> with an http(s) href; everything else stays text.
    var parts = String(text).split(URL_RE);
    for (var i = 0; i < parts.length; i++) {
      if (i % 2 === 1) {
        var a = el("a", null, parts[i]);
        a.href = parts[i];
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        node.appendChild(a);
      } else if (parts[i]) {
        node.appendChild(document.createTextNode(parts[i]));
      }
    }
  }

  function render(messages) {
    messages.forEach(function (m) {
      if (m.id <= lastId) { return; }
      lastId = m.id;
      var item = el("div", "hfw-msg hfw-" + String(m.author).replace(/[^a-z]/g, ""));
      item.setAttribute("data-message-id", String(m.id));
      item.appendChild(el("span", "hfw-name", m.name));
      var body = el("p", "hfw-text");
      appendText(body, m.text);
      item.appendChild(body);
      if (m.actions && m.actions.length) {
        var row = el("div", "hfw-actions");
        m.actions.forEach(function (action) {
          var button = el("button", "hfw-action", action.label);
          button.type = "button";
          button.addEventListener("click", function () {
            row.remove();
            call("POST", "feedback", { message_id: m.id, choice: action.id }).then(poll, showError);
          });
          row.appendChild(button);
        });
        item.appendChild(row);
      }
      log.appendChild(item);
      log.scrollTop = log.scrollHeight;
    });
  }

  function showError(error) { status.textContent = error.message || "Something went wrong."; }

  function poll() {
    if (!token) { return Promise.resolve(); }
    return call("GET", "messages?after=" + lastId).then(function (data) {
      status.textContent = "";
      render(data.messages);
    }, showError);
  }

  // The timer's poll: none while the tab is hidden (nobody reads it) or while the previous one
  // is still on its way (a slow server must not get a pile of them); the server's cost is per poll.
  var polling = false;
  function tick() {
    if (polling || document.hidden) { return; }
    polling = true;
    poll().then(function () { polling = false; });
  }
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && !panel.hidden) { tick(); }
  });

  function start() {
    return call("POST", "session").then(function (data) {
      if (data.token) {
        token = data.token;
        try { window.localStorage.setItem(storageKey, token); } catch (e) { /* private mode */ }
      }
      render(data.messages);
    }, function (error) {
      ready = null;  // a failed start is tried again on the next send, not remembered for good
      throw error;
    });
  }

  var ready = null;
  launcher.addEventListener("click", function () {
    panel.hidden = !panel.hidden;
    launcher.setAttribute("aria-expanded", String(!panel.hidden));
    if (panel.hidden) { clearInterval(timer); return; }
    ready = ready || start();
    ready.then(function () { input.focus(); }, showError);
    clearInterval(timer);
    timer = setInterval(tick, POLL_MS);
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    input.value = "";
    send.disabled = true;
    (ready || (ready = start())).then(function () {
      return call("POST", "messages?after=" + lastId, { text: text });
    }).then(function (data) { status.textContent = ""; render(data.messages); }, function (error) {
      // Not sent: give the visitor the text back rather than lose what they typed.
      if (!input.value) { input.value = text; }
      showError(error);
    }).then(function () { send.disabled = false; input.focus(); });
  });
})();
