/* The widget demo page's form (templates/embed/demo.html): start a widget with the typed bot id and key.
   A static file, not an inline script, so the page's Content-Security-Policy needs no 'unsafe-inline'. */
(function () {
  var widget = null;
  document.getElementById("origin").textContent = location.origin;
  document.getElementById("demo-form").addEventListener("submit", function (e) {
    e.preventDefault();
    if (widget) widget.close();
    var mount = document.getElementById("mount");
    mount.textContent = "";
    widget = window.IntelligravexVoiceBot.create({
      botId: document.getElementById("bot_id").value.trim(),
      apiKey: document.getElementById("api_key").value.trim(),
      userConversationId: document.getElementById("user_conversation_id").value.trim(),
      userToken: document.getElementById("user_token").value.trim() || undefined,
      target: mount,
      title: "Embedded Bot",
      baseOrigin: location.origin
    });
  });
})();
