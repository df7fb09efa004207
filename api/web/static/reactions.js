// @ts-check
// Emoji reactions (#reactions-bar, #reaction-feed): everyone visible may react (one a second,
// a burst of three); the room's reactions arrive batched (`reactions` {counts, names}) and are
// shown over the video for a few seconds.

/** @typedef {import("/static/liveclass.js").LiveclassClient} LiveclassClient */
/** @typedef {import("/static/protocol.js").Reactions} Reactions */
/** @typedef {import("/static/protocol.js").Welcome} Welcome */

/** @param {string} id @returns {HTMLElement} */
const $ = (id) => document.getElementById(id);
/** @type {Array<[string, string]>} the emoji the server takes, and their names */
const EMOJI = [["👍", "Thumbs up"], ["👏", "Applause"], ["❤️", "Heart"], ["😂", "Laughing"], ["😮", "Surprised"], ["🎉", "Celebrate"]];
const SHOWN_MS = 4000;

/**
 * Set up the reactions bar and feed for ``client``.
 * @param {LiveclassClient} client
 */
export function setupReactions(client) {
  const bar = $("reactions-bar");
  const feed = $("reaction-feed");
  bar.replaceChildren(...EMOJI.map(([emoji, label]) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary small reaction";
    button.textContent = emoji;
    button.setAttribute("aria-label", `React: ${label}`);
    button.addEventListener("click", async () => {
      try {
        await client.request({ type: "react", emoji });
      } catch (err) {
        if (err.code === "rate_limited") show({ counts: {}, names: [] }, "One reaction a second, please.");
      }
    });
    return button;
  }));
  client.on("welcome", /** @param {Welcome} m */ (m) => { bar.hidden = Boolean(m.grants?.hidden); });
  client.on("reactions", /** @param {Reactions} m */ (m) => show(m));

  /**
   * Show a batch of reactions (or ``text`` instead) for a few seconds.
   * @param {Pick<Reactions, "counts"|"names">} m @param {string} [text]
   */
  function show(m, text) {
    const item = document.createElement("li");
    const parts = Object.entries(m.counts || {}).map(([emoji, n]) => (n > 1 ? `${emoji}×${n}` : emoji));
    const total = Object.values(m.counts || {}).reduce((a, b) => a + b, 0);
    const names = m.names || [];
    const others = total - names.length;
    item.textContent = text || `${parts.join(" ")} ${names.join(", ")}${others > 0 && names.length ? ` and ${others} more` : ""}`;
    feed.append(item);
    while (feed.children.length > 4) feed.firstElementChild.remove();
    setTimeout(() => item.remove(), SHOWN_MS);
  }
}
