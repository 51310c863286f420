/* The bot page's test panel: talk to the bot through `WS /ws/bots/<id>/talk` (INVENTORY §3.1 + cancel).

   Microphone → AudioWorklet (recorder-worklet.js: windowed-sinc downsampling to PCM16 16 kHz) →
   binary frames. Three ways to take a turn:
   - push-to-talk: "Record" sends `start`, "Stop" sends `stop`;
   - hands-free, browser VAD: an energy detector (with a noise floor it learns) sends `start` when
     speech begins (plus ~300 ms of pre-roll) and `stop` after a pause;
   - hands-free, server VAD: `start` with `vad: true`; the server ends the utterance itself.
   Barge-in: speaking while the bot talks (hands-free) or clicking "Stop audio" / the chat stops
   playback at once and sends `cancel`. Text chat goes over the same socket. The "Test conversation"
   and "Debug" boxes send `test_flag` and `debug` with every init/start/chat. Per-turn metrics are
   shown under each reply. */
(function () {
  "use strict";

  const root = document.getElementById("mictest");
  if (!root) return;

  const $ = (sel) => root.querySelector(sel);
  const ui = {
    stage: $("[data-role=stage]"),
    chat: $("[data-role=chat]"),
    status: $("[data-role=statusline]"),
    newConv: $("[data-role=new-conversation]"),
    record: $("[data-role=record]"),
    handsFree: $("[data-role=hands-free]"),
    mode: $("[data-role=mode]"),
    speak: $("[data-role=speak]"),
    debug: $("[data-role=debug]"),
    testFlag: $("[data-role=test-flag]"),
    stopAudio: $("[data-role=stop-audio]"),
    meter: $("[data-role=meter] > span"),
    recDot: $("[data-role=rec-dot]"),
    form: $("[data-role=chat-form]"),
    input: $("[data-role=chat-input]"),
    send: $("[data-role=send]"),
    convLink: $("[data-role=conversation-link]"),
  };
  const config = {
    botId: root.dataset.botId,
    wsPath: root.dataset.wsPath,
    workletUrl: root.dataset.workletUrl,
    conversationUrl: root.dataset.conversationUrl, // ".../00000000-0000-0000-0000-000000000000/"
  };
  const TARGET_RATE = 16000;
  const PREROLL_CHUNKS = 8; // 8 × 40 ms
  const VAD = { startFactor: 3.2, minStart: 0.012, speechChunks: 3, silenceMs: 700 };

  const state = {
    ws: null,
    retries: 0,
    stage: "disconnected",
    conversationId: null,
    activeReq: null, // req_id of the request in flight
    recordingReq: null, // req_id of an open recording (start sent, stop not yet)
    turns: new Map(), // req_id → {bubble, text, metrics, sentAt, firstAudioAt, firstDeltaAt}
    capture: null, // {ctx, stream, node, source}
    handsFree: false,
    noiseFloor: 0.004,
    speechRun: 0,
    lastVoiceAt: 0,
    preroll: [],
    pendingRearm: false,
    cancelled: new Set(), // req_ids stopped by barge-in: their late audio is dropped
    bargeIns: 0,
  };
  const player = new WavQueuePlayer();
  window.studioMicTest = { state: state, player: player }; // for the browser tests and debugging

  // ---- helpers ---------------------------------------------------------------------------------
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "r-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  }
  function fmtMs(v) {
    if (v === null || v === undefined) return "—";
    return v < 1000 ? Math.round(v) + "ms" : (v / 1000).toFixed(2) + "s";
  }
  function setStage(stage) {
    state.stage = stage;
    ui.stage.textContent = stage;
    ui.stage.className = "pill " + ({ error: "pill-danger", recording: "pill-danger", idle: "pill-ok", disconnected: "" }[stage] || "pill-accent");
    refreshControls();
  }
  function refreshControls() {
    const connected = state.ws && state.ws.readyState === WebSocket.OPEN;
    const busy = state.activeReq !== null;
    ui.newConv.disabled = !connected || (busy && !state.recordingReq);
    ui.newConv.textContent = state.conversationId ? "New conversation" : "Start conversation";
    ui.record.disabled = !connected || state.handsFree || (busy && !state.recordingReq);
    ui.record.textContent = state.recordingReq && !state.handsFree ? "■ Stop" : "● Record";
    ui.handsFree.disabled = !connected;
    ui.handsFree.textContent = state.handsFree ? "Stop hands-free" : "Hands-free";
    ui.mode.disabled = state.handsFree;
    ui.send.disabled = !connected || busy;
    ui.stopAudio.disabled = !player.playing && !busy;
    ui.recDot.classList.toggle("hidden", !state.recordingReq);
  }
  function scrollChat() {
    ui.chat.scrollTop = ui.chat.scrollHeight;
  }
  function bubble(role, text, extraClass) {
    const el = document.createElement("div");
    el.className = "bubble " + role + (extraClass ? " " + extraClass : "");
    el.dataset.role = role;
    const body = document.createElement("div");
    body.className = "text";
    body.textContent = text || "";
    el.appendChild(body);
    ui.chat.appendChild(el);
    scrollChat();
    return el;
  }
  function toolBubble(kind, name, payload) {
    const el = bubble("tool", "");
    el.querySelector(".text").innerHTML = "";
    const title = document.createElement("span");
    title.className = "pill pill-teal";
    title.textContent = kind === "call" ? "tool call" : "tool result";
    const strong = document.createElement("strong");
    strong.className = "mono";
    strong.textContent = " " + name;
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = kind === "call" ? "arguments" : "result";
    const pre = document.createElement("pre");
    pre.textContent = typeof payload === "string" ? payload : JSON.stringify(payload, null, 2);
    details.append(summary, pre);
    el.querySelector(".text").append(title, strong, details);
    return el;
  }
  function errorLine(message) {
    const el = bubble("tool", message, "alert alert-error");
    el.setAttribute("role", "alert");
  }
  function turn(req) {
    let t = state.turns.get(req);
    if (!t) {
      t = {
        bubble: null,
        text: "",
        metrics: {},
        sentAt: performance.now(), // request sent, or end of speech for voice turns
        stopSent: false,
        firstAudioAt: null,
        firstDeltaAt: null,
      };
      state.turns.set(req, t);
    }
    return t;
  }
  function showConversation(id) {
    state.conversationId = id;
    ui.convLink.textContent = id.slice(0, 8) + "…";
    ui.convLink.href = config.conversationUrl.replace("00000000-0000-0000-0000-000000000000", id);
    ui.convLink.classList.remove("hidden");
  }
  function statusLine(t) {
    const m = t ? t.metrics : {};
    const parts = [
      "ASR " + fmtMs(m.asr),
      "LLM 1st " + fmtMs(m.llm_ttfb),
      "LLM " + fmtMs(m.llm_total),
      "TTS 1st " + fmtMs(m.tts_first_audio),
      "total " + fmtMs(m.total),
    ];
    if (t && t.firstAudioAt !== null) parts.push("first audio (browser) " + fmtMs(t.firstAudioAt - t.sentAt));
    return parts.join(" | ");
  }

  // ---- socket ----------------------------------------------------------------------------------
  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + config.wsPath);
    state.ws = ws;
    setStage("connecting");
    ws.onopen = function () {
      state.retries = 0;
      setStage("idle");
    };
    ws.onmessage = function (event) {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      handle(message);
    };
    ws.onclose = function (event) {
      if (state.ws !== ws) return;
      stopCapture();
      state.activeReq = null;
      state.recordingReq = null;
      state.handsFree = false;
      setStage("disconnected");
      if (event.code === 4401 || event.code === 4403) return; // not allowed: retrying will not help
      if (state.retries < 5) {
        state.retries += 1;
        setTimeout(connect, 800 * state.retries);
      } else {
        errorLine("Disconnected from the server. Reload the page to reconnect.");
      }
    };
  }
  function send(message) {
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN) {
      errorLine("Not connected.");
      return false;
    }
    state.ws.send(JSON.stringify(message));
    return true;
  }
  function request(type, fields) {
    const req = uuid();
    const message = Object.assign(
      { type: type, req_id: req, speak: ui.speak.checked, test_flag: ui.testFlag.checked, debug: ui.debug.checked },
      fields || {}
    );
    if (state.conversationId && type !== "init" && !("conversation_id" in message)) {
      message.conversation_id = state.conversationId;
    }
    if (!send(message)) return null;
    state.activeReq = req;
    turn(req);
    refreshControls();
    return req;
  }

  function handle(m) {
    const req = m.req_id;
    const t = req ? turn(req) : null;
    switch (m.type) {
      case "status":
        if (m.stage === "idle" && req === state.activeReq) {
          state.activeReq = null;
          state.recordingReq = null;
        }
        if (m.stage === "asr" && t && !t.stopSent) t.sentAt = performance.now(); // server VAD ended the utterance
        setStage(m.stage);
        if (m.stage === "idle" && state.handsFree && state.pendingRearm) armHandsFree();
        break;
      case "conversation":
        showConversation(m.conversation_id || m.id);
        break;
      case "asr_partial":
        // live transcript while the user speaks: the words two decodes agreed on, then the rest (grey)
        if (!t.partial) t.partial = bubble("user", "", "draft partial");
        t.partial.querySelector(".text").textContent = "";
        t.partial.querySelector(".text").append(
          document.createTextNode(m.stable || ""),
          Object.assign(document.createElement("span"), {
            className: "muted",
            textContent: (m.text || "").slice((m.stable || "").length),
          }),
        );
        scrollChat();
        break;
      case "asr":
        if (t && t.partial) {
          t.partial.remove();
          t.partial = null;
        }
        bubble("user", m.text || "(nothing heard)", m.text ? "" : "muted");
        break;
      case "text_delta":
        if (!t.bubble) {
          t.bubble = bubble("assistant", "", "draft");
          t.firstDeltaAt = performance.now();
        }
        t.text += m.delta;
        t.bubble.querySelector(".text").textContent = t.text;
        scrollChat();
        break;
      case "tool_call": {
        let args = m.arguments_json;
        try {
          args = JSON.parse(m.arguments_json);
        } catch (err) {
          /* show as text */
        }
        toolBubble("call", m.name, args);
        t.bubble = null; // text after a tool goes into a new bubble
        t.text = "";
        break;
      }
      case "tool_result":
        toolBubble("result", m.name, m.result);
        break;
      case "interim":
        bubble("assistant", m.text, "muted");
        break;
      case "audio_wav":
        if (t && t.firstAudioAt === null) t.firstAudioAt = performance.now();
        if (ui.speak.checked && !state.cancelled.has(req)) player.enqueue(m.wav_base64);
        break;
      case "metrics":
        Object.assign(t.metrics, m.timings_ms || {});
        ui.status.textContent = statusLine(t);
        break;
      case "done": {
        if (m.metrics) {
          for (const key of ["llm_ttfb_ms", "llm_total_ms"]) {
            if (m.metrics[key] !== undefined && t.metrics[key.replace("_ms", "")] === undefined) {
              t.metrics[key.replace("_ms", "")] = m.metrics[key];
            }
          }
        }
        if (!t.bubble && m.text) t.bubble = bubble("assistant", m.text);
        if (t.bubble) {
          if ((m.text || "").length > t.text.length) t.bubble.querySelector(".text").textContent = m.text;
          t.bubble.classList.remove("draft");
          if (m.interrupted) {
            const note = document.createElement("span");
            note.className = "pill pill-danger";
            note.textContent = "interrupted";
            t.bubble.appendChild(note);
          }
          const line = document.createElement("div");
          line.className = "metrics";
          line.dataset.role = "turn-metrics";
          line.textContent = statusLine(t);
          t.bubble.appendChild(line);
        }
        ui.status.textContent = statusLine(t);
        if (state.handsFree) state.pendingRearm = true;
        scrollChat();
        break;
      }
      case "error":
        errorLine(m.error || "Error");
        if (!req || req === state.activeReq) setStage("error");
        if (m.code === "utterance_too_long" && state.recordingReq) stopRecording();
        break;
      default:
        break;
    }
    refreshControls();
  }

  // ---- microphone ------------------------------------------------------------------------------
  async function startCapture() {
    if (state.capture) return state.capture;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error("This browser cannot record audio here (it needs https or localhost).");
    }
    const stream = await navigator.mediaDevices.getUserMedia({
      // the browser's echo canceller keeps the bot's voice from the laptop speakers out of the mic
      // (a barge-in must be the user, not the bot); noise suppression and gain control help the VAD
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    const ctx = player.ensureContext(); // one context for capture and playback
    await ctx.audioWorklet.addModule(config.workletUrl);
    const source = ctx.createMediaStreamSource(stream);
    const node = new AudioWorkletNode(ctx, "pcm16-recorder", {
      processorOptions: { targetRate: TARGET_RATE, chunkMs: 40 },
    });
    node.port.onmessage = (event) => onChunk(event.data);
    source.connect(node); // the node has no output connection: nothing is played back
    state.capture = { ctx: ctx, stream: stream, node: node, source: source };
    return state.capture;
  }
  function stopCapture() {
    const c = state.capture;
    if (!c) return;
    state.capture = null;
    try {
      c.source.disconnect();
      c.node.port.onmessage = null;
      c.node.disconnect();
    } catch (err) {
      /* already gone */
    }
    c.stream.getTracks().forEach((track) => track.stop());
    ui.meter.style.width = "0";
  }

  function onChunk(data) {
    ui.meter.style.width = Math.min(100, Math.round(data.rms * 400)) + "%";
    const live = state.ws && state.ws.readyState === WebSocket.OPEN;
    if (state.handsFree && ui.mode.value === "browser") {
      browserVad(data);
    } else if (state.handsFree && ui.mode.value === "server") {
      serverVadBargeIn(data);
    }
    if (live && state.recordingReq) state.ws.send(data.pcm);
  }

  function speechIn(data) {
    const threshold = Math.max(VAD.minStart, state.noiseFloor * VAD.startFactor);
    const speaking = data.rms > threshold;
    if (!speaking) state.noiseFloor = state.noiseFloor * 0.95 + data.rms * 0.05; // learn the room
    state.speechRun = speaking ? state.speechRun + 1 : 0;
    if (speaking) state.lastVoiceAt = performance.now();
    return state.speechRun >= VAD.speechChunks;
  }

  function bargeIn() {
    const stopped = player.stop();
    if (stopped || state.activeReq) state.bargeIns += 1;
    if (state.activeReq) state.cancelled.add(state.activeReq);
    if (state.activeReq && !state.recordingReq) {
      send({ type: "cancel", req_id: uuid() });
    }
    return stopped;
  }

  function browserVad(data) {
    const speech = speechIn(data);
    if (!state.recordingReq) {
      state.preroll.push(data.pcm);
      if (state.preroll.length > PREROLL_CHUNKS) state.preroll.shift();
      if (!speech) return;
      if (player.playing || state.activeReq) {
        bargeIn(); // the user talks over the bot: stop it, then listen
        state.pendingRearm = true;
        return;
      }
      const req = request("start", { sample_rate: TARGET_RATE });
      if (!req) return;
      state.recordingReq = req;
      for (const chunk of state.preroll) state.ws.send(chunk);
      state.preroll = [];
      refreshControls();
    } else if (performance.now() - state.lastVoiceAt > VAD.silenceMs) {
      stopRecording();
    }
  }

  function serverVadBargeIn(data) {
    if (speechIn(data) && player.playing) {
      bargeIn();
      state.pendingRearm = true;
    }
  }

  function armHandsFree() {
    state.pendingRearm = false;
    if (!state.handsFree || state.activeReq) return;
    if (ui.mode.value === "server") {
      const req = request("start", { sample_rate: TARGET_RATE, vad: true });
      if (req) state.recordingReq = req;
    }
    // browser VAD: nothing to send until speech starts
    refreshControls();
  }

  async function startRecording() {
    try {
      await startCapture();
    } catch (err) {
      errorLine("Microphone: " + (err && err.message ? err.message : err));
      setStage("error");
      return;
    }
    player.stop();
    const req = request("start", { sample_rate: TARGET_RATE });
    if (req) state.recordingReq = req;
    refreshControls();
  }

  function stopRecording() {
    const req = state.recordingReq;
    if (!req) return;
    if (state.capture) state.capture.node.port.postMessage({ command: "flush" });
    // Let the flushed tail arrive before `stop` (the worklet answers within one render quantum).
    setTimeout(function () {
      send({ type: "stop", req_id: req });
      const t = turn(req);
      t.sentAt = performance.now();
      t.stopSent = true;
    }, 60);
    state.recordingReq = null;
    refreshControls();
  }

  // ---- controls --------------------------------------------------------------------------------
  ui.newConv.addEventListener("click", function () {
    player.ensureContext(); // created inside the click, so the browser lets it play
    player.stop();
    ui.chat.innerHTML = "";
    state.turns.clear();
    state.conversationId = null;
    ui.convLink.classList.add("hidden");
    request("init");
  });
  ui.record.addEventListener("click", function () {
    if (state.recordingReq) stopRecording();
    else startRecording();
  });
  ui.handsFree.addEventListener("click", async function () {
    if (state.handsFree) {
      state.handsFree = false;
      if (state.recordingReq) {
        if (ui.mode.value === "server") send({ type: "cancel", req_id: uuid() });
        else stopRecording();
      }
      stopCapture();
      refreshControls();
      return;
    }
    try {
      await startCapture();
    } catch (err) {
      errorLine("Microphone: " + (err && err.message ? err.message : err));
      setStage("error");
      return;
    }
    state.handsFree = true;
    state.preroll = [];
    armHandsFree();
  });
  ui.stopAudio.addEventListener("click", function () {
    bargeIn();
    refreshControls();
  });
  ui.chat.addEventListener("click", function (event) {
    if (event.target.closest("details")) return; // opening a tool's JSON is not a barge-in
    if (player.playing) {
      bargeIn();
      refreshControls();
    }
  });
  ui.form.addEventListener("submit", function (event) {
    event.preventDefault();
    const text = ui.input.value.trim();
    if (!text || state.activeReq) return;
    player.ensureContext();
    player.stop();
    bubble("user", text);
    if (request("chat", { text: text })) ui.input.value = "";
  });
  player.onstart = refreshControls;
  player.onidle = refreshControls;
  window.addEventListener("beforeunload", function () {
    stopCapture();
    if (state.ws) state.ws.close();
  });

  connect();
})();
