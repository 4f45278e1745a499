/*
 * nivel0 chat widget: talks to the Rasa server through Rasa's own REST channel
 * (POST {rasaUrl}/webhooks/rest/webhook with {sender, message, metadata}; Rasa runs with --cors).
 *
 * Why REST and not Rasa's socketio channel: both pass metadata, but with the python-socketio 5.x
 * in the Rasa environment the socketio channel's session_persistence never joins the session room
 * (Rasa 3.6 does not await AsyncServer.enter_room), so replies are lost; without persistence the
 * conversation would restart on every page load.
 *
 * - Every message carries metadata {"language": "es" | "en"}; the bot's language action reads it.
 * - The sender id and the rendered history live in localStorage, so a reload (or following a
 *   link to a help article) continues the same conversation with the same Rasa tracker.
 * - Nothing the customer typed is stored as typed: Rasa's chat channel redacts card numbers,
 *   IBANs, CVVs and identity documents and sends the redacted text back first
 *   ({"custom": {"redacted": "..."}}), which replaces the message here; a message is stored only
 *   once Rasa has received it.
 * - A message that could not be delivered stays in the history, marked, with a retry button,
 *   until the page is left (it is not stored, so it does not survive a reload).
 * - Plain browser JavaScript, no build step. Configuration comes from the server in the JSON
 *   script #n0-config: {rasaUrl, pageLanguage, strings: {en: {...}, es: {...}}}.
 */
(function () {
  "use strict";

  const STORAGE_KEY = "nivel0.chat.v1";
  const MAX_MESSAGES = 200;
  const REPLY_TIMEOUT_MS = 30000;
  const LANGUAGES = ["en", "es"];

  const config = JSON.parse(document.getElementById("n0-config").textContent);
  const widget = document.getElementById("n0-widget");
  const launcher = document.getElementById("n0-launcher");
  const panel = document.getElementById("n0-panel");
  const log = document.getElementById("n0-log");
  const messageList = document.getElementById("n0-messages");
  const typing = document.getElementById("n0-typing");
  const notice = document.getElementById("n0-notice");
  const form = document.getElementById("n0-form");
  const input = document.getElementById("n0-input");

  let queue = Promise.resolve();
  let inFlight = 0;

  // ---- state (persisted) ------------------------------------------------------------------

  function supported(code) {
    const short = (code || "").slice(0, 2).toLowerCase();
    return LANGUAGES.includes(short) ? short : null;
  }

  function loadState() {
    try {
      const saved = JSON.parse(window.localStorage.getItem(STORAGE_KEY) || "null");
      if (saved && Array.isArray(saved.messages)) return saved;
    } catch (err) {
      // Storage unavailable or corrupt: start a fresh conversation.
    }
    return { sessionId: null, messages: [], open: false, language: null };
  }

  const state = loadState();

  function saveState() {
    state.messages = state.messages.slice(-MAX_MESSAGES);
    // Messages Rasa has not received yet are not redacted yet: they stay in memory only.
    const stored = Object.assign({}, state, { messages: state.messages.filter((m) => !m.unsent) });
    try {
      window.localStorage.setItem(STORAGE_KEY, JSON.stringify(stored));
    } catch (err) {
      // Private mode or full storage: the conversation just won't survive a reload.
    }
  }

  /** The customer's explicit choice, else the page's <html lang>, else the browser's. */
  function currentLanguage() {
    return (
      supported(state.language) ||
      supported(document.documentElement.lang) ||
      supported(config.pageLanguage) ||
      supported(navigator.language) ||
      "en"
    );
  }

  function t(key) {
    return config.strings[currentLanguage()][key];
  }

  // ---- rendering ----------------------------------------------------------------------------

  // [text](url), a bare URL, or **bold**. Only http(s) and site-relative links become <a>.
  const INLINE = /\[([^\]\n]+)\]\(((?:https?:\/\/|\/(?!\/))[^\s)]*)\)|(https?:\/\/[^\s<>"]+)|\*\*([^*\n]+)\*\*/g;

  function appendInline(parent, text) {
    let last = 0;
    for (const match of text.matchAll(INLINE)) {
      parent.append(text.slice(last, match.index));
      last = match.index + match[0].length;
      if (match[4] !== undefined) {
        const strong = document.createElement("strong");
        strong.textContent = match[4];
        parent.append(strong);
        continue;
      }
      let url = match[2] || match[3];
      let label = match[1] || url;
      if (match[3]) {
        // A bare URL does not end with the sentence's punctuation.
        const trailing = url.match(/[.,;:!?)]+$/);
        if (trailing) {
          url = url.slice(0, -trailing[0].length);
          label = url;
          last -= trailing[0].length;
        }
      }
      const link = document.createElement("a");
      link.href = url;
      link.textContent = label;
      parent.append(link);
    }
    parent.append(text.slice(last));
  }

  function appendRichText(parent, text) {
    for (const paragraph of String(text).split(/\n{2,}/)) {
      const p = document.createElement("p");
      paragraph.split("\n").forEach((line, i) => {
        if (i > 0) p.append(document.createElement("br"));
        appendInline(p, line);
      });
      parent.append(p);
    }
  }

  function messageText(message) {
    return message.kind === "welcome" ? t("welcome") : message.text;
  }

  function renderMessage(message, index) {
    const item = document.createElement("li");
    item.className = "n0-msg n0-" + message.from;
    item.dataset.index = String(index);
    if (message.lang) item.lang = message.lang;
    const who = document.createElement("span");
    who.className = "n0-sr-only n0-who";
    who.textContent = (message.from === "user" ? t("you") : t("bot")) + ": ";
    item.append(who);
    const body = document.createElement("div");
    body.className = "n0-body";
    appendRichText(body, messageText(message));
    item.append(body);
    if (message.buttons && message.buttons.length) {
      const group = document.createElement("div");
      group.className = "n0-buttons";
      group.setAttribute("role", "group");
      message.buttons.forEach((button, choice) => {
        const element = document.createElement("button");
        element.type = "button";
        element.textContent = button.title;
        element.disabled = message.chosen != null;
        if (message.chosen === choice) element.classList.add("n0-chosen");
        element.addEventListener("click", () => choose(index, choice));
        group.append(element);
      });
      item.append(group);
    }
    if (message.failed) {
      const retry = document.createElement("button");
      retry.type = "button";
      retry.className = "n0-retry";
      retry.textContent = t("retry");
      retry.addEventListener("click", () => {
        message.failed = false;
        refresh(index);
        deliver(index);
        input.focus();
      });
      item.append(retry);
    }
    return item;
  }

  function renderHistory() {
    messageList.replaceChildren(...state.messages.map(renderMessage));
    scrollToEnd();
  }

  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
  }

  function addMessage(message) {
    state.messages.push(message);
    saveState();
    if (state.messages.length > MAX_MESSAGES) {
      renderHistory();
      return;
    }
    messageList.append(renderMessage(message, state.messages.length - 1));
    scrollToEnd();
  }

  /** Texts of the widget's own controls in the current language (messages keep theirs). */
  function applyLanguage() {
    const language = currentLanguage();
    panel.lang = language;
    widget.querySelectorAll("[data-i18n]").forEach((el) => {
      el.textContent = t(el.dataset.i18n);
    });
    widget.querySelectorAll("[data-i18n-label]").forEach((el) => {
      el.setAttribute("aria-label", t(el.dataset.i18nLabel));
      if (el.hasAttribute("title")) el.title = t(el.dataset.i18nLabel);
    });
    widget.querySelectorAll("[data-i18n-placeholder]").forEach((el) => {
      el.placeholder = t(el.dataset.i18nPlaceholder);
    });
    widget.querySelectorAll(".n0-lang button").forEach((el) => {
      el.setAttribute("aria-pressed", String(el.dataset.lang === language));
    });
    messageList.querySelectorAll(".n0-msg").forEach((item) => {
      const message = state.messages[Number(item.dataset.index)];
      if (!message) return;
      item.querySelector(".n0-who").textContent =
        (message.from === "user" ? t("you") : t("bot")) + ": ";
      if (message.kind === "welcome") {
        item.lang = language;
        const body = item.querySelector(".n0-body");
        body.replaceChildren();
        appendRichText(body, t("welcome"));
      }
    });
  }

  function showNotice(key) {
    notice.textContent = t(key);
    notice.hidden = false;
  }

  function hideNotice() {
    notice.hidden = true;
    notice.textContent = "";
  }

  function setTyping(on) {
    typing.hidden = !on;
  }

  // ---- Rasa REST channel ------------------------------------------------------------------

  function newSessionId() {
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function sessionId() {
    if (!state.sessionId) {
      state.sessionId = newSessionId();
      saveState();
    }
    return state.sessionId;
  }

  /** POST one message; resolves with the bot's messages. Requests run one after another. */
  function post(text) {
    const controller = new AbortController();
    const timer = window.setTimeout(() => controller.abort(), REPLY_TIMEOUT_MS);
    return window
      .fetch(config.rasaUrl + "/webhooks/rest/webhook", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          sender: sessionId(),
          message: text,
          metadata: { language: currentLanguage() },
        }),
        signal: controller.signal,
      })
      .then((response) => {
        if (response.status === 413) {
          // over the chat's size limit (NIVEL0_MAX_CHAT_BYTES): refused before NLU
          const error = new Error("message too long");
          error.name = "TooLong";
          throw error;
        }
        if (!response.ok) throw new Error("Rasa answered HTTP " + response.status);
        return response.json();
      })
      .finally(() => window.clearTimeout(timer));
  }

  function deliver(index) {
    const message = state.messages[index];
    inFlight += 1;
    setTyping(true);
    queue = queue
      .then(() => post(message.payload || message.text))
      .then((replies) => {
        message.failed = false;
        delete message.unsent;
        (Array.isArray(replies) ? replies : []).forEach((reply) => {
          const redacted = reply && reply.custom && reply.custom.redacted;
          if (typeof redacted === "string" && !message.payload) message.text = redacted;
          else receive(reply);
        });
      })
      .catch((err) => {
        message.failed = true;
        const notice = { AbortError: "no_reply", TooLong: "too_long" }[err && err.name];
        showNotice(notice || "offline");
      })
      .finally(() => {
        saveState();
        refresh(index);
        inFlight -= 1;
        if (!inFlight) setTyping(false);
      });
  }

  function receive(data) {
    if (!data) return;
    hideNotice();
    const buttons = (data.buttons || data.quick_replies || [])
      .filter((b) => b && typeof b.title === "string")
      .map((b) => ({ title: b.title, payload: String(b.payload || b.title) }));
    let text = typeof data.text === "string" ? data.text : "";
    if (typeof data.image === "string") text = (text + "\n" + data.image).trim();
    if (!text && !buttons.length) return;
    addMessage({ from: "bot", text: text, buttons: buttons, chosen: null, lang: currentLanguage() });
  }

  function send(payload, shownText) {
    const text = payload.trim();
    if (!text) return;
    hideNotice();
    const message = { from: "user", text: shownText || text, lang: currentLanguage(), unsent: true };
    if (shownText) message.payload = text;
    addMessage(message);
    deliver(state.messages.length - 1);
  }

  /** Re-render one message in place (e.g. to show or clear its "not sent" state). */
  function refresh(index) {
    const item = messageList.querySelector('.n0-msg[data-index="' + index + '"]');
    if (item && state.messages[index]) item.replaceWith(renderMessage(state.messages[index], index));
  }

  function choose(index, choice) {
    const message = state.messages[index];
    if (!message || message.chosen != null) return;
    message.chosen = choice;
    saveState();
    const item = messageList.querySelector('.n0-msg[data-index="' + index + '"]');
    if (item) {
      item.querySelectorAll(".n0-buttons button").forEach((el, i) => {
        el.disabled = true;
        if (i === choice) el.classList.add("n0-chosen");
      });
    }
    const button = message.buttons[choice];
    send(button.payload, button.title);
    input.focus();
  }

  // ---- open / close -------------------------------------------------------------------------

  function open(options) {
    const settings = options || {};
    panel.hidden = false;
    widget.classList.add("n0-is-open");
    launcher.setAttribute("aria-expanded", "true");
    state.open = true;
    if (!state.messages.length) {
      state.messages.push({ from: "bot", kind: "welcome", text: "" });
      renderHistory();
    }
    saveState();
    scrollToEnd();
    if (settings.prefill) input.value = settings.prefill;
    if (settings.focus !== false) input.focus();
  }

  function close() {
    panel.hidden = true;
    widget.classList.remove("n0-is-open");
    launcher.setAttribute("aria-expanded", "false");
    state.open = false;
    saveState();
    launcher.focus();
  }

  function restart() {
    state.messages = [{ from: "bot", kind: "welcome", text: "" }];
    state.sessionId = null;
    saveState();
    renderHistory();
    hideNotice();
    input.focus();
  }

  launcher.addEventListener("click", () => (panel.hidden ? open() : close()));
  widget.querySelector(".n0-close").addEventListener("click", close);
  widget.querySelector(".n0-restart").addEventListener("click", restart);
  widget.querySelectorAll(".n0-lang button").forEach((el) => {
    el.addEventListener("click", () => {
      state.language = el.dataset.lang;
      saveState();
      applyLanguage();
    });
  });
  widget.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !panel.hidden) {
      event.preventDefault();
      close();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    input.value = "";
    send(text);
  });
  document.querySelectorAll("[data-n0-open]").forEach((el) => {
    el.addEventListener("click", () => open({ prefill: el.dataset.n0Prefill || "" }));
  });

  applyLanguage();
  renderHistory();
  if (state.open) open({ focus: false });
  window.nivel0Chat = { open: open, close: close };
})();
