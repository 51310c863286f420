/* The bot page's voice picker (templates/studio/bots/_voice_picker.html): the saved voice's speakers
   and languages from GET /api/tts/meta, a "Preview voice" button (a short WAV from the Studio's
   preview view) and "Use this speaker", which copies the choice into the bot form (Save keeps it). */
(function () {
  "use strict";
  const root = document.getElementById("voice-picker");
  if (!root) return;
  const status = root.querySelector('[data-role="status"]');
  const speakerSelect = root.querySelector("#voice-picker-speaker");
  const languageSelect = root.querySelector("#voice-picker-language");
  const useButton = root.querySelector('[data-action="use"]');
  const previewButton = root.querySelector('[data-action="preview"]');
  const player = root.querySelector('[data-role="player"]');
  let engine = "";
  let lastUrl = null;

  function fill(select, values, current, autoLabel) {
    select.textContent = "";
    if (autoLabel) select.appendChild(new Option(autoLabel, ""));
    values.forEach(function (value) { select.appendChild(new Option(value, value)); });
    select.value = values.indexOf(current) === -1 ? "" : current;
    if (!select.value && !autoLabel && values.length) select.value = values[0];
  }

  fetch(root.dataset.metaUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    })
    .then(function (result) {
      const meta = result.body;
      if (!result.ok) throw new Error(meta.detail || "Could not read the voice");
      engine = meta.engine;
      const speakers = meta.speakers || [];
      const languages = engine === "xtts" ? meta.languages || [] : [];
      if (speakers.length) {
        fill(speakerSelect, speakers, root.dataset.currentSpeaker, engine === "openai" ? null : "(default speaker)");
        root.querySelector('[data-role="speakers"]').hidden = false;
        useButton.hidden = false;
      }
      if (languages.length) {
        fill(languageSelect, languages, root.dataset.currentLanguage, null);
        root.querySelector('[data-role="languages"]').hidden = false;
        useButton.hidden = false;
      }
      if (!meta.available) status.textContent = meta.detail || "This voice cannot speak on this server.";
      else status.textContent = speakers.length ? speakers.length + " speakers" : "This voice has one speaker.";
    })
    .catch(function (error) { status.textContent = error.message; });

  useButton.addEventListener("click", function () {
    const form = document.getElementById("bot-form");
    if (!form) return;
    const speakerField = form.querySelector(engine === "openai" ? '[name="openai_tts_voice"]' : '[name="speaker_id"]');
    if (speakerField && !root.querySelector('[data-role="speakers"]').hidden) speakerField.value = speakerSelect.value;
    const languageField = form.querySelector('[name="tts_language"]');
    if (languageField && !root.querySelector('[data-role="languages"]').hidden && languageSelect.value) {
      languageField.value = languageSelect.value;
    }
    status.textContent = "Set in the form above: Save to keep it.";
  });

  previewButton.addEventListener("click", function () {
    const body = new FormData();
    body.append("csrfmiddlewaretoken", root.querySelector('[name="csrfmiddlewaretoken"]').value);
    if (!root.querySelector('[data-role="speakers"]').hidden) body.append("speaker_id", speakerSelect.value);
    if (!root.querySelector('[data-role="languages"]').hidden) body.append("tts_language", languageSelect.value);
    previewButton.disabled = true;
    status.textContent = "Synthesising…";
    fetch(root.dataset.previewUrl, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) {
        if (response.ok) return response.blob();
        return response.json().then(function (error) { throw new Error(error.detail || "Preview failed"); });
      })
      .then(function (wav) {
        if (lastUrl) URL.revokeObjectURL(lastUrl);
        lastUrl = URL.createObjectURL(wav);
        player.src = lastUrl;
        player.hidden = false;
        status.textContent = "";
        return player.play().catch(function () { /* autoplay refused: the controls are there */ });
      })
      .catch(function (error) { status.textContent = error.message; })
      .finally(function () { previewButton.disabled = false; });
  });
})();
