// @ts-check
// Private questions in the classroom. A student asks the teacher in the "Questions" panel and
// sees their own questions and what became of them; nobody else sees them. The teacher's
// "Questions" panel lists every question, open ones first, each with Answer (an optional
// written answer) and Dismiss. The server gives the list again on every join when there are
// any (`questions`; none is sent when nobody asked, and the panel starts empty)
// and each change as it happens (`question`).

/** @typedef {import("/static/liveclass.js").LiveclassClient} LiveclassClient */
/** @typedef {import("/static/protocol.js").ClientMessage} ClientMessage */
/** @typedef {import("/static/protocol.js").QuestionList} QuestionList */
/** @typedef {import("/static/protocol.js").QuestionShown} QuestionShown */
/** @typedef {import("/static/protocol.js").QuestionView} QuestionView */
/** @typedef {import("/static/protocol.js").Welcome} Welcome */

/**
 * What the page knows of the questions.
 * @typedef {Object} QuestionsState
 * @property {boolean} host this participant sees every question and answers them
 * @property {boolean} asker this participant may ask (a student)
 * @property {boolean} live connected and admitted
 * @property {Map<string, QuestionView>} questions by id
 */

/** @param {string} id @returns {HTMLElement} */
const $ = (id) => document.getElementById(id);

/**
 * A new ``tag`` element with ``props`` and the children that are not null or undefined.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Object<string, any>} [props]
 * @param {...(Node|string|null|undefined)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
function node(tag, props = {}, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children.filter((c) => c !== null && c !== undefined));
  return e;
}

/**
 * Set up the classroom's "Questions" panel for ``client``.
 * @param {LiveclassClient} client
 * @param {{note: (text: string) => void}} page
 * @returns {QuestionsState}
 */
export function setupQuestions(client, { note }) {
  /** @type {QuestionsState} */
  const state = { host: false, asker: false, live: false, questions: new Map() };

  function render() {
    $("questions-panel").hidden = !state.live;
    $("question-form").hidden = !state.asker;
    const all = [...state.questions.values()];
    const open = all.filter((q) => q.status === "open").length;
    $("questions-title").textContent = state.host ? "Questions" : "Ask the teacher";
    $("questions-count").textContent = state.host && open ? `(${open} open)` : "";
    $("questions-empty").hidden = all.length > 0;
    $("questions-empty").textContent = state.host ? "No questions yet. Students' questions come here; only you see them." : "Only the teacher sees your questions.";
    const order = (/** @type {QuestionView} */ q) => (q.status === "open" ? 0 : 1);
    all.sort((a, b) => order(a) - order(b) || a.askedAt.localeCompare(b.askedAt));
    $("questions").replaceChildren(...all.map(item));
  }

  /** @param {QuestionView} q @returns {HTMLLIElement} */
  function item(q) {
    const status = { open: "open", answered: "answered", dismissed: "dismissed" }[q.status] || q.status;
    const li = node("li", { className: `question ${q.status}` });
    li.dataset.question = q.id;
    li.append(
      node("p", { className: "meta" }, state.host ? `${q.from.name} asks` : "You asked", " · ",
        node("span", { className: `badge ${q.status}` }, status)),
      node("p", { className: "text", dir: "auto" }, q.text),
    );
    if (q.answer) li.append(node("p", { className: "answer", dir: "auto" }, `${q.by || "The teacher"}: ${q.answer}`));
    else if (q.status === "answered" && !state.host) li.append(node("p", { className: "answer" }, `${q.by || "The teacher"} answered it in class.`));
    if (state.host && q.status === "open") {
      const answerId = `answer-${q.id}`;
      const input = node("input", { id: answerId, maxLength: 2000, autocomplete: "off", placeholder: "Answer (optional)" });
      const answer = node("button", { type: "button", className: "small", textContent: "Answer" });
      answer.setAttribute("aria-label", `Answer ${q.from.name}'s question`);
      answer.onclick = () => act({ type: "question-answer", id: q.id, answer: input.value || undefined }, `Answered ${q.from.name}.`);
      const dismiss = node("button", { type: "button", className: "small secondary", textContent: "Dismiss" });
      dismiss.setAttribute("aria-label", `Dismiss ${q.from.name}'s question`);
      dismiss.onclick = () => act({ type: "question-dismiss", id: q.id }, `Dismissed ${q.from.name}'s question.`);
      const label = node("label", { htmlFor: answerId, className: "sr-only" }, `Answer to ${q.from.name}`);
      li.append(node("div", { className: "answer-form" }, label, input, node("span", { className: "actions" }, answer, dismiss)));
    }
    return li;
  }

  /** @param {ClientMessage} message @param {string} done */
  async function act(message, done) {
    try {
      await client.request(message);
      note(done);
    } catch (err) {
      note(`Failed: ${err.message}`);
    }
  }

  client.on("welcome", /** @param {Welcome} m */ (m) => {
    state.host = Boolean(m.grants?.moderate);
    state.asker = m.participant.role === "guest";
    state.live = true;
    render();
  });
  client.on("closed", () => { state.live = false; render(); });
  client.on("questions", /** @param {QuestionList} m */ (m) => {
    state.questions = new Map((m.questions || []).map((q) => [q.id, q]));
    render();
  });
  client.on("question", /** @param {QuestionShown} m */ (m) => {
    const fresh = !state.questions.has(m.question.id);
    state.questions.set(m.question.id, m.question);
    if (fresh && state.host) note(`${m.question.from.name} asked a question.`);
    render();
  });
  // A property, not a listener: a reconnect sets the page up again with a new client.
  $("question-form").onsubmit = async (event) => {
    event.preventDefault();
    const box = /** @type {HTMLInputElement} */ ($("question-text"));
    const text = box.value.trim();
    if (!text) return;
    $("question-error").hidden = true;
    try {
      await client.request({ type: "question-ask", text });
      box.value = "";
    } catch (err) {
      $("question-error").textContent = `Not sent: ${err.message}`;
      $("question-error").hidden = false;
    }
  };
  return state;
}
