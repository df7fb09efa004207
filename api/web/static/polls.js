// @ts-check
// Polls and quizzes in the classroom (#polls-panel): the host asks and sees a live tally,
// closes and shares; students vote (and may change their vote until the poll closes) and see
// the results the host shares. Messages: poll-create/-launch/-vote/-close/-share (README).
import { api, el } from "/static/common.js";

/** @typedef {import("/static/liveclass.js").LiveclassClient} LiveclassClient */
/** @typedef {import("/static/protocol.js").Ballot} Ballot */
/** @typedef {import("/static/protocol.js").PollCreate} PollCreate */
/** @typedef {import("/static/protocol.js").PollResults} PollResults */
/** @typedef {import("/static/protocol.js").PollShown} PollShown */
/** @typedef {import("/static/protocol.js").PollTally} PollTally */
/** @typedef {import("/static/protocol.js").PollView} PollView */
/** @typedef {import("/static/protocol.js").Welcome} Welcome */

/**
 * A poll as this page knows it: the poll, and its counts as far as this participant sees them.
 * @typedef {Object} PollEntry
 * @property {PollView} poll
 * @property {number[]|null} counts per option (the host's tally, or the shared results)
 * @property {number} voters
 * @property {Ballot[]|null} ballots who voted what (the host, not for anonymous polls)
 * @property {number[]|null} myChoices this student's vote
 */

/** @param {string} id @returns {HTMLElement} */
const $ = (id) => document.getElementById(id);

/**
 * Wire the poll panel to a LiveclassClient.
 * @param {LiveclassClient} client
 * @param {{sessionRef: string}} page
 */
export function setupPolls(client, { sessionRef }) {
  /** @type {{host: boolean, current: PollEntry|null, polls: Map<string, PollEntry>, ballotsOpen: boolean}} */
  const state = {
    host: false,
    current: null, // the poll on show: {poll, counts, voters, ballots, myChoices}
    polls: new Map(), // poll id -> the same shape
    ballotsOpen: false,
  };
  const panel = $("polls-panel");
  const say = (/** @type {string} */ text) => { $("poll-note").textContent = text; };

  /** The entry of ``poll`` (made on first sight), updated with it. @param {PollView} poll */
  function entry(poll) {
    let e = state.polls.get(poll.id);
    if (!e) {
      e = { poll, counts: null, voters: 0, ballots: null, myChoices: null };
      state.polls.set(poll.id, e);
    }
    e.poll = { ...e.poll, ...poll };
    return e;
  }

  /** @param {PollEntry} e */
  function show(e) {
    state.current = e;
    render();
  }

  client.on("welcome", /** @param {Welcome} m */ async (m) => {
    state.host = Boolean(m.grants?.moderate);
    panel.hidden = !(state.host || state.current);
    $("poll-form").hidden = !state.host;
    try {
      const data = await api(`/sessions/${encodeURIComponent(sessionRef)}/polls`);
      let latest = null;
      for (const p of data.polls) {
        const e = entry(p);
        e.counts = p.counts; e.voters = p.voters || 0; e.ballots = p.ballots; e.myChoices = p.myChoices;
        if (p.status !== "draft") latest = e;
      }
      if (latest && (latest.poll.status === "open" || state.host || latest.poll.shared)) show(latest);
    } catch (err) {
      say(`Polls could not be loaded: ${err.message}`);
    }
  });
  client.on("poll", /** @param {PollShown} m */ (m) => {
    const e = entry(m.poll);
    show(e);
    if (!state.host && m.poll.status === "open") say("");
    if (m.poll.status === "closed") say(state.host ? "Poll closed. Share the results when you are ready." : "The poll is closed.");
  });
  client.on("poll-tally", /** @param {PollTally} m */ (m) => {
    const e = state.polls.get(m.poll);
    if (!e) return;
    e.counts = m.counts; e.voters = m.voters; e.ballots = m.ballots || null;
    if (state.current === e) render();
  });
  client.on("poll-results", /** @param {PollResults} m */ (m) => {
    const e = entry(m.poll);
    e.counts = m.counts; e.voters = m.voters;
    show(e);
    say(state.host ? "Results shared with the class." : "The teacher shared the results.");
  });

  // -- the host's form ----------------------------------------------------------------------

  const optionsList = $("poll-options");
  /** @param {string} [value] */
  function addOption(value = "") {
    const n = optionsList.children.length + 1;
    if (n > 10) return;
    const id = `poll-option-${n}`;
    optionsList.append(el("li", {},
      el("label", { for: id, class: "sr-only" }, `Option ${n}`),
      el("input", { id, name: "option", maxlength: "200", placeholder: `Option ${n}`, value })));
    syncCorrect();
  }
  function syncCorrect() {
    const select = /** @type {HTMLSelectElement} */ ($("poll-correct"));
    const keep = select.value;
    select.replaceChildren(el("option", { value: "" }, "None (a poll, not a quiz)"));
    [...optionsList.querySelectorAll("input")].forEach((input, i) => {
      select.append(el("option", { value: String(i) }, input.value.trim() || `Option ${i + 1}`));
    });
    select.value = [...select.options].some((o) => o.value === keep) ? keep : "";
    /** @type {HTMLButtonElement} */ ($("poll-add-option")).disabled = optionsList.children.length >= 10;
  }
  optionsList.addEventListener("input", syncCorrect);
  $("poll-add-option").addEventListener("click", () => {
    addOption();
    optionsList.lastElementChild.querySelector("input").focus();
  });
  addOption(); addOption();

  $("poll-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const options = [...optionsList.querySelectorAll("input")].map((i) => i.value.trim()).filter(Boolean);
    const correct = /** @type {HTMLSelectElement} */ ($("poll-correct")).value;
    const question = /** @type {HTMLInputElement} */ ($("poll-question"));
    /** @type {PollCreate} */
    const message = {
      type: "poll-create",
      question: question.value.trim(),
      options,
      anonymous: /** @type {HTMLInputElement} */ ($("poll-anonymous")).checked,
      multiple: /** @type {HTMLInputElement} */ ($("poll-multiple")).checked,
    };
    if (correct !== "") message.correct = [Number(correct)];
    try {
      await client.request(message);
      question.value = "";
      optionsList.replaceChildren(); addOption(); addOption();
      $("poll-form").querySelector("details").open = false;
      say("Poll launched.");
    } catch (err) {
      say(`Poll not launched: ${err.message}`);
    }
  });

  /** @param {"poll-close"|"poll-share"} type @param {string} poll */
  async function hostAction(type, poll) {
    try {
      await client.request({ type, poll });
    } catch (err) {
      say(`Failed: ${err.message}`);
    }
  }

  /** @param {PollEntry} e @param {number[]} choices */
  async function vote(e, choices) {
    try {
      const ack = await client.request({ type: "poll-vote", poll: e.poll.id, choices });
      e.myChoices = ack.choices;
      say("Your vote is in. You can change it until the poll closes.");
      render();
    } catch (err) {
      say(`Vote not counted: ${err.message}`);
    }
  }

  // -- rendering ----------------------------------------------------------------------------

  /** The options with their counts (a quiz's answer marked). @param {PollEntry} e */
  function bars(e) {
    const total = e.voters || 0;
    const correct = new Set(e.poll.correct || []);
    return el("ol", { class: "poll-bars" }, e.poll.options.map((text, i) => {
      const count = e.counts?.[i] || 0;
      const pct = total ? Math.round((100 * count) / total) : 0;
      const right = correct.has(i);
      return el("li", { class: right ? "right" : null },
        el("span", { class: "poll-option" }, text, right ? el("span", { class: "sr-only" }, " (correct)") : null,
          right ? el("span", { "aria-hidden": "true" }, " ✓") : null),
        el("span", { class: "poll-count" }, `${count} · ${pct}%`),
        el("span", { class: "poll-bar", style: `width:${pct}%`, "aria-hidden": "true" }));
    }));
  }

  /** A student's ballot for an open poll. @param {PollEntry} e */
  function ballotForm(e) {
    const kind = e.poll.multiple ? "checkbox" : "radio";
    const mine = new Set(e.myChoices || []);
    const form = el("form", { class: "poll-vote" },
      el("fieldset", {},
        el("legend", { class: "sr-only" }, e.poll.question),
        e.poll.options.map((text, i) => el("label", { class: "poll-choice" },
          el("input", { type: kind, name: `poll-${e.poll.id}`, value: String(i), checked: mine.has(i) }),
          " ", text))),
      el("button", { type: "submit" }, e.myChoices ? "Change vote" : "Vote"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const checked = /** @type {NodeListOf<HTMLInputElement>} */ (form.querySelectorAll("input:checked"));
      const choices = [...checked].map((i) => Number(i.value));
      if (!choices.length) { say("Choose an option first."); return; }
      vote(e, choices);
    });
    return form;
  }

  function render() {
    const e = state.current;
    const box = $("poll-current");
    panel.hidden = !(state.host || e);
    if (!e) { box.replaceChildren(); return; }
    const p = e.poll;
    const status = p.status === "open" ? "Open" : p.shared ? "Results shared" : "Closed";
    const head = el("div", { class: "poll-head" },
      el("h3", { id: "poll-question-shown" }, p.question),
      el("span", { class: `badge ${p.status === "open" ? "live" : "ended"}` }, status),
      p.quiz ? el("span", { class: "badge" }, "Quiz") : null,
      p.anonymous ? el("span", { class: "badge" }, "Anonymous") : null);
    /** @type {HTMLElement[]} */
    const parts = [head];
    if (state.host) {
      parts.push(bars(e), el("p", { class: "meta", role: "status" }, `${e.voters || 0} voted`));
      if (e.ballots && e.ballots.length) {
        const details = el("details", { open: state.ballotsOpen }, el("summary", {}, "Who voted what"),
          el("ul", { class: "poll-ballots" }, e.ballots.map((b) =>
            el("li", {}, `${b.name}: ${b.choices.map((i) => p.options[i]).join(", ")}`))));
        // Kept open across the tallies that rebuild the panel.
        details.addEventListener("toggle", () => { state.ballotsOpen = details.open; });
        parts.push(details);
      }
      const actions = el("div", { class: "actions" });
      if (p.status === "open") actions.append(el("button", { type: "button", class: "danger", id: "poll-close", onclick: () => hostAction("poll-close", p.id) }, "Close poll"));
      if (p.status === "closed" && !p.shared) actions.append(el("button", { type: "button", id: "poll-share", onclick: () => hostAction("poll-share", p.id) }, "Share results"));
      parts.push(actions);
    } else if (p.status === "open") {
      parts.push(ballotForm(e));
    } else if (p.shared) {
      parts.push(bars(e), el("p", { class: "meta" }, `${e.voters || 0} voted`));
      if (p.quiz && e.myChoices) {
        const right = new Set(p.correct || []);
        const ok = e.myChoices.length === right.size && e.myChoices.every((i) => right.has(i));
        parts.push(el("p", { class: `notice ${ok ? "" : "error"}`, id: "poll-verdict" }, ok ? "You got it right." : "Not quite: the correct answer is marked ✓."));
      }
    } else {
      parts.push(el("p", { class: "meta" }, e.myChoices ? "The poll is closed. Your vote was counted." : "The poll is closed."));
    }
    box.replaceChildren(...parts);
  }
}
