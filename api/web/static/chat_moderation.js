// @ts-check
// Chat moderation in the classroom: a message the host deleted disappears for everyone
// (`chat-deleted`); the host turns student chat off and on (`chat-mode`), and students see
// that the chat is off (their box is disabled and says so).
import { api } from "/static/common.js";

/** @typedef {import("/static/liveclass.js").LiveclassClient} LiveclassClient */
/** @typedef {import("/static/protocol.js").ChatDelivery} ChatDelivery */
/** @typedef {import("/static/protocol.js").ChatDeleted} ChatDeleted */
/** @typedef {import("/static/protocol.js").ChatModeChanged} ChatModeChanged */
/** @typedef {import("/static/protocol.js").Welcome} Welcome */

/** @param {string} id @returns {HTMLElement} */
const $ = (id) => document.getElementById(id);

/**
 * Set up chat moderation for ``client`` in session ``sessionRef``; ``chat`` is the page's
 * chat messages by seq (a deleted one is taken out).
 * @param {LiveclassClient} client
 * @param {{sessionRef: string, chat: Map<number, ChatDelivery>}} page
 */
export function setupChatModeration(client, { sessionRef, chat }) {
  const state = { host: false, studentChat: true, hidden: false };
  const toggle = $("chat-mode");

  function render() {
    toggle.hidden = !state.host;
    toggle.textContent = state.studentChat ? "Turn student chat off" : "Turn student chat on";
    toggle.setAttribute("aria-pressed", String(!state.studentChat));
    const closed = !state.studentChat && !state.host;
    const text = /** @type {HTMLInputElement} */ ($("chat-text"));
    text.disabled = closed;
    /** @type {HTMLButtonElement} */ ($("chat-send")).disabled = closed;
    text.placeholder = closed ? "The teacher turned chat off" : "Write a message";
    $("chat-off").hidden = state.studentChat;
    $("chat-off").textContent = state.host ? "Student chat is off." : "The teacher turned chat off for now.";
  }

  client.on("welcome", /** @param {Welcome} m */ async (m) => {
    state.host = Boolean(m.grants?.moderate);
    try {
      const settings = await api(`/sessions/${encodeURIComponent(sessionRef)}/chat/settings`);
      state.studentChat = settings.studentChat;
    } catch (err) {
      // The chat works as before; a refusal says why.
    }
    render();
  });
  client.on("chat-mode", /** @param {ChatModeChanged} m */ (m) => { state.studentChat = m.studentChat; render(); });
  client.on("chat-deleted", /** @param {ChatDeleted} m */ (m) => {
    chat.delete(m.deletedSeq);
    document.querySelector(`#chat li[data-seq="${m.deletedSeq}"]`)?.remove();
  });
  toggle.addEventListener("click", async () => {
    try {
      await client.request({ type: "chat-mode", studentChat: !state.studentChat });
    } catch (err) {
      $("chat-error").textContent = `Failed: ${err.message}`;
      $("chat-error").hidden = false;
    }
  });
}

/**
 * The host's delete button for one chat message.
 * @param {LiveclassClient} client
 * @param {ChatDelivery} m
 * @returns {HTMLButtonElement}
 */
export function deleteButton(client, m) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "link small chat-delete";
  button.textContent = "Delete";
  button.setAttribute("aria-label", `Delete ${m.from?.name || "this"}'s chat post`);
  button.addEventListener("click", async () => {
    try {
      await client.request({ type: "chat-delete", id: m.id });
    } catch (err) {
      $("chat-error").textContent = `Not deleted: ${err.message}`;
      $("chat-error").hidden = false;
    }
  });
  return button;
}
