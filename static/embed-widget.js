/*! VoiceBot Studio embed widget: one <script> tag, no dependencies. Protocol: docs/embed.md
   By default it renders inside a shadow root (the page's CSS cannot reach it). With `shadow: false`
   (`data-shadow="off"`) it renders the reference's DOM in the page itself, for sites that style it:
   div.igxvb > div.igxvbCard > [div.igxvbHeader: .igxvbTitle + .igxvbMeta] [.igxvbBody]
   [form.igxvbFooter: input + button], with one <style id="igx-voicebot-style"> in <head>
   (`styles: false` / `data-styles="none"` leaves the styling to the site). */
(function () {
  "use strict";
  var script = document.currentScript;
  var FATAL = { 4400: 1, 4401: 1, 4403: 1, 4404: 1 };
  var CSS =
    ":host{all:initial;display:block}" +
    ".igxvb{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#e8eaf0;width:360px;max-width:calc(100vw - 16px);box-sizing:border-box}" +
    ".igxvb *{box-sizing:border-box}" +
    ".igxvbCard{background:#151923;border:1px solid #2a3142;border-radius:14px;overflow:hidden;box-shadow:0 8px 24px rgba(0,0,0,.35)}" +
    ".igxvbHead{display:flex;justify-content:space-between;align-items:baseline;gap:8px;padding:10px 12px;border-bottom:1px solid #2a3142}" +
    ".igxvbTitle{margin:0;font-size:15px;font-weight:600;flex:none;white-space:nowrap}" +
    ".igxvbMeta{min-width:0;font-size:11px;color:#9aa3b5;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}" +
    ".igxvbBody{height:320px;overflow-y:auto;padding:10px 12px;display:flex;flex-direction:column;gap:6px}" +
    ".igxvbMsg{max-width:85%;padding:7px 10px;border-radius:12px;white-space:pre-wrap;word-wrap:break-word}" +
    ".igxvbUser{align-self:flex-end;background:#3b5bdb;color:#fff}" +
    ".igxvbBot{align-self:flex-start;background:#232a3a}" +
    ".igxvbError{align-self:stretch;background:#4a1d24;color:#ffc9c9;border:1px solid #a61e4d;border-radius:8px;padding:6px 8px}" +
    ".igxvbTyping{align-self:flex-start;color:#9aa3b5;padding:4px 10px}" +
    ".igxvbTyping span{display:inline-block;width:6px;height:6px;margin-right:3px;border-radius:50%;background:#9aa3b5;animation:igxvbDot 1s infinite}" +
    ".igxvbTyping span:nth-child(2){animation-delay:.2s}.igxvbTyping span:nth-child(3){animation-delay:.4s}" +
    "@keyframes igxvbDot{0%,80%,100%{opacity:.3}40%{opacity:1}}" +
    "@media (prefers-reduced-motion:reduce){.igxvbTyping span{animation:none}}" +
    ".igxvbFoot{display:flex;gap:8px;padding:10px 12px;border-top:1px solid #2a3142}" +
    ".igxvbInput{flex:1;min-width:0;padding:8px 10px;border-radius:8px;border:1px solid #2a3142;background:#0e121a;color:inherit;font:inherit}" +
    ".igxvbSend{padding:8px 14px;border-radius:8px;border:0;background:#3b5bdb;color:#fff;font:inherit;cursor:pointer}" +
    ".igxvbSend:disabled{opacity:.5;cursor:default}" +
    ".igxvbInput:focus-visible,.igxvbSend:focus-visible{outline:2px solid #91a7ff;outline-offset:2px}" +
    ".igxvbSr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}" +
    "@media (max-width:480px){.igxvb{width:100%;max-width:100%}.igxvbBody{height:50vh}}";

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = (Math.random() * 16) | 0;
      return (c === "x" ? r : (r & 3) | 8).toString(16);
    });
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }

  function store(name, value) {
    try {
      if (value === undefined) return window.localStorage.getItem(name);
      window.localStorage.setItem(name, value);
    } catch (e) {
      return null; /* storage blocked (private mode, sandboxed frame): history just is not replayed */
    }
  }

  function create(opts) {
    opts = opts || {};
    if (!opts.botId) throw new Error("botId is required");
    if (!opts.apiKey) throw new Error("apiKey is required");
    var base = new URL(opts.baseOrigin || location.origin, location.href);
    var title = opts.title || "Intelligravex Bot";
    /* No id from the page: a random visitor id of this browser's own (kept in localStorage). The
       server binds the conversation to the secret it issues (resume_token), never to the id alone. */
    var user = opts.userConversationId;
    if (!user) {
      var visitorKey = "igxvb:visitor:" + base.host + ":" + opts.botId;
      user = store(visitorKey);
      if (!user) {
        user = "v-" + uuid();
        store(visitorKey, user);
      }
    }
    var storeKey = "igxvb:" + base.host + ":" + opts.botId + ":" + user;
    var wsUrl =
      (base.protocol === "https:" ? "wss://" : "ws://") + base.host +
      "/public/v1/ws/bots/" + encodeURIComponent(opts.botId) + "/chat?key=" + encodeURIComponent(opts.apiKey) +
      "&user_conversation_id=" + encodeURIComponent(user);

    var useShadow = opts.shadow !== false;
    var wrap = el(useShadow ? "section" : "div", "igxvb");
    wrap.setAttribute("aria-label", title);
    var card = el("div", "igxvbCard");
    var head = el("div", "igxvbHead igxvbHeader");
    var h = el("h2", "igxvbTitle", title);
    var meta = el("div", "igxvbMeta", "connecting…");
    meta.setAttribute("role", "status");
    var body = el("div", "igxvbBody");
    body.setAttribute("role", "log");
    body.setAttribute("aria-live", "polite");
    body.setAttribute("aria-label", "Conversation");
    body.tabIndex = 0;
    var typing = el("div", "igxvbTyping");
    typing.appendChild(el("span"));
    typing.appendChild(el("span"));
    typing.appendChild(el("span"));
    typing.appendChild(el("span", "igxvbSr", "The bot is typing"));
    var form = el("form", "igxvbFoot igxvbFooter");
    var inputId = "igxvb-input-" + uuid();
    var label = el("label", "igxvbSr", "Message to " + title);
    label.htmlFor = inputId;
    var input = el("input", "igxvbInput");
    input.id = inputId;
    input.type = "text";
    input.placeholder = "Type a message…";
    input.autocomplete = "off";
    input.maxLength = 4000;
    var button = el("button", "igxvbSend", "Send");
    button.type = "submit";
    button.disabled = true;
    head.appendChild(h);
    head.appendChild(meta);
    form.appendChild(label);
    form.appendChild(input);
    form.appendChild(button);
    card.appendChild(head);
    card.appendChild(body);
    card.appendChild(form);
    wrap.appendChild(card);
    var root;
    if (useShadow) {
      root = el("div", "igxvb-host");
      var shadow = root.attachShadow ? root.attachShadow({ mode: "open" }) : root;
      shadow.appendChild(el("style", null, CSS));
      shadow.appendChild(wrap);
    } else {
      root = wrap; /* the reference's `create().root`: the div.igxvb itself */
      if (opts.styles !== false && !document.getElementById("igx-voicebot-style")) {
        var style = el("style", null, CSS);
        style.id = "igx-voicebot-style";
        (document.head || document.documentElement).appendChild(style);
      }
    }

    var target = opts.target;
    if (typeof target === "string") target = document.querySelector(target);
    (target || document.body).appendChild(root);

    var lastLine = "ready", ws = null, draft = null, conversationId = null, stopped = false, attempt = 0, timer = null;

    function scroll() {
      body.scrollTop = body.scrollHeight;
    }
    function showTyping(on) {
      if (on) body.appendChild(typing);
      else if (typing.parentNode) typing.parentNode.removeChild(typing);
      if (on) scroll();
    }
    function add(cls, text) {
      var node = el("div", "igxvbMsg " + cls, text);
      body.insertBefore(node, typing.parentNode ? typing : null);
      scroll();
      return node;
    }
    function error(text) {
      var node = el("div", "igxvbError", text);
      node.setAttribute("role", "alert");
      body.insertBefore(node, typing.parentNode ? typing : null);
      scroll();
    }
    function metricsLine(m) {
      if (!m || !m.model) return "ready";
      var ms = function (v) { return v == null ? "-" : v; };
      return "model " + m.model + " | in " + (m.input_tokens_est || 0) + " out " + (m.output_tokens_est || 0) +
        " | $" + Number(m.cost_usd_est || 0).toFixed(6) + " | ttfb " + ms(m.llm_ttfb_ms) + "ms total " + ms(m.llm_total_ms) + "ms";
    }

    function onEvent(msg) {
      switch (msg.type) {
        case "conversation":
          conversationId = msg.conversation_id || msg.id;
          if (msg.resume_token) store(storeKey, msg.resume_token);
          break;
        case "history":
          while (body.firstChild) body.removeChild(body.firstChild);
          (msg.messages || []).forEach(function (m) {
            add(m.role === "user" ? "igxvbUser" : "igxvbBot", m.text);
          });
          draft = null;
          break;
        case "status":
          meta.textContent = msg.stage === "idle" ? lastLine : msg.stage;
          showTyping(msg.stage === "llm");
          break;
        case "text_delta":
          if (!draft) draft = add("igxvbBot", "");
          draft.textContent += msg.delta || "";
          scroll();
          break;
        case "interim":
          add("igxvbBot", msg.text || "");
          draft = null;
          break;
        case "done":
          draft = null;
          showTyping(false);
          meta.textContent = lastLine = metricsLine(msg.metrics);
          break;
        case "error":
          error(msg.error || "Error");
          break;
      }
    }

    function connect() {
      timer = null;
      meta.textContent = attempt ? "reconnecting…" : "connecting…";
      var socket = (ws = new WebSocket(wsUrl));
      socket.onopen = function () {
        attempt = 0;
        meta.textContent = "ready";
        button.disabled = false;
        var start = { type: "start", req_id: uuid() };
        var resume = store(storeKey);
        if (resume) start.resume_token = resume;
        if (opts.userToken) start.user_token = opts.userToken;
        socket.send(JSON.stringify(start));
      };
      socket.onmessage = function (e) {
        var msg;
        try { msg = JSON.parse(e.data); } catch (err) { return; }
        onEvent(msg);
      };
      socket.onerror = function () {
        meta.textContent = "error";
      };
      socket.onclose = function (e) {
        if (ws !== socket) return;
        ws = null;
        draft = null;
        button.disabled = true;
        showTyping(false);
        if (stopped || FATAL[e.code]) {
          meta.textContent = "disconnected";
          return;
        }
        var delay = Math.min(30000, 500 * Math.pow(2, attempt++)) * (0.75 + Math.random() / 2);
        meta.textContent = "disconnected, retrying…";
        timer = setTimeout(connect, delay);
      };
    }

    function send(text) {
      text = String(text == null ? "" : text).trim();
      if (!text) return false;
      if (!ws || ws.readyState !== 1) {
        error("Not connected");
        return false;
      }
      add("igxvbUser", text);
      draft = null;
      ws.send(JSON.stringify({ type: "chat", req_id: uuid(), conversation_id: conversationId, text: text }));
      return true;
    }

    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (send(input.value)) input.value = "";
      input.focus();
    });

    function close() {
      stopped = true;
      if (timer) clearTimeout(timer);
      if (ws) ws.close();
      if (root.parentNode) root.parentNode.removeChild(root);
    }

    connect();
    return { root: root, send: send, close: close };
  }

  function autoInit() {
    if (!script) return null;
    var d = function (n) { return script.getAttribute("data-" + n); };
    var botId = d("bot-id"), apiKey = d("api-key"), user = d("user-conversation-id");
    if (!botId || !apiKey) return null;
    var off = function (v) { return v != null && /^(off|false|no|0|none)$/i.test(v); };
    var origin = d("backend-origin");
    if (!origin) {
      try { origin = new URL(script.src, location.href).origin; } catch (e) { origin = location.origin; }
    }
    return create({
      botId: botId, apiKey: apiKey, userConversationId: user || undefined, baseOrigin: origin,
      title: d("title") || undefined, target: d("target") || undefined, userToken: d("user-token") || undefined,
      shadow: !off(d("shadow")), styles: !off(d("styles")),
    });
  }

  window.IntelligravexVoiceBot = { create: create, autoInit: autoInit };
  function safeInit() {
    try {
      autoInit();
    } catch (e) {
      /* a broken embed must never break the host page */
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", safeInit);
  else safeInit();
})();
